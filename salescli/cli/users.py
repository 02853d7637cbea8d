"""``salescli users …``: people who sign in to the dashboard, and their roles."""

from __future__ import annotations

import sys

import click

from salescli.cli.common import emit, format_option, read_conn, settings, write_conn

ROLES = ["admin", "manager", "analyst", "operator"]


@click.group()
def users() -> None:
    """Users, roles and passwords (for the web dashboard and notifications)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="What the user may see on the dashboard.")
@click.option("--email", help="Where notifications for this user go.")
@click.option("--full-name", help="The person's name, e.g. \"Maria Souza\" (owners in an"
              " imported file are matched by it).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--no-password", is_flag=True, help="No web login (API tokens only).")
def add_cmd(name, role, email, full_name, password_stdin, no_password) -> None:
    """Add a user; asks for a password unless --no-password.

    Example: printf '%s\\n' "$PW" | salescli users add maria --role manager --password-stdin
    """
    from salescli.web import users as lib

    password = None if no_password else _read_password(password_stdin)
    lib.add(write_conn(), settings().db, settings().actor, name, role, email=email,
            password=password, full_name=full_name)
    click.echo(f"added user {name} ({role})")


@users.command("list")
@format_option()
def list_cmd(fmt) -> None:
    """All users with role and status."""
    from salescli.web import users as lib

    emit(lib.list_users(read_conn()), fmt,
         columns=["username", "full_name", "email", "role", "disabled", "created_at"])


@users.command("update")
@click.argument("name")
@click.option("--full-name", help="The person's name; '' clears it.")
@click.option("--email", help="Where notifications go; '' clears it.")
def update_cmd(name, full_name, email) -> None:
    """Change a user's full name or email.

    Example: salescli users update maria --full-name "Maria Souza"
    """
    from salescli.web import users as lib

    if full_name is None and email is None:
        raise click.UsageError("give --full-name or --email (or both)")
    u = lib.update(write_conn(), settings().actor, name, full_name=full_name, email=email)
    click.echo(f"updated {name}: {u['full_name'] or '(no full name)'}"
               f" <{u['email'] or 'no email'}>")



@users.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the user again.")
def disable_cmd(name, enable) -> None:
    """Disable a user: their sessions and tokens stop working at once."""
    from salescli.web import users as lib

    lib.set_disabled(write_conn(), settings().actor, name, not enable)
    click.echo(f"{'enabled' if enable else 'disabled'} {name}")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def set_role_cmd(name, role) -> None:
    """Change a user's role."""
    from salescli.web import users as lib

    lib.set_role(write_conn(), settings().actor, name, role)
    click.echo(f"{name} is now {role}")


@users.command("set-email")
@click.argument("name")
@click.argument("email")
def set_email_cmd(name, email) -> None:
    """Change where a user's notifications go."""
    from salescli.web import users as lib

    lib.set_email(write_conn(), settings().actor, name, email)
    click.echo(f"{name} ← {email}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def passwd_cmd(name, password_stdin) -> None:
    """Set a user's password (ends their web sessions)."""
    from salescli.web import users as lib

    conn = write_conn()
    lib.get(conn, name)
    lib.passwd(conn, settings().db, settings().actor, name, _read_password(password_stdin))
    click.echo(f"password changed for {name}")
