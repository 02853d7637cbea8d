"""``salescli tasks …``: follow-ups for people — what is due, what is overdue."""

from __future__ import annotations

import click

from salescli.cli.common import emit, format_option, read_conn, settings, write_conn


@click.group()
def tasks() -> None:
    """Tasks for owners: calls, mails, meetings and to-dos on prospects."""


@tasks.command("add")
@click.argument("prospect", metavar="ID|EMAIL")
@click.argument("text")
@click.option("--due", metavar="DATE", help="YYYY-MM-DD, today, tomorrow, +3d or +2w "
              "(days in SALESCLI_TZ).")
@click.option("--owner", metavar="USER", help="Whose task (default: the prospect's owner).")
@click.option("--kind", type=click.Choice(["call", "email", "meeting", "todo"]),
              default="todo", show_default=True, help="What kind of task.")
def add_cmd(prospect: str, text: str, due: str | None, owner: str | None, kind: str) -> None:
    """Add a task on a prospect.

    Example: salescli tasks add ana@example.com "Call about the pilot" --due +3d --kind call
    """
    from salescli.tasks import store

    t = store.add(write_conn(), settings().actor, prospect, text, due=due, owner=owner,
                  kind=kind)
    click.echo(f"added task {t['id']}" + (f" due {t['due_on']}" if t["due_on"] else ""))


@tasks.command("list")
@click.option("--owner", metavar="USER", help="Only this owner's tasks.")
@click.option("--prospect", metavar="ID|EMAIL", help="Only this prospect's tasks.")
@click.option("--due", type=click.Choice(["overdue", "today", "week"]),
              help="overdue: before today; today: due today or before; week: within 7 days.")
@click.option("--all", "all_", is_flag=True, help="Done tasks too.")
@format_option()
def list_cmd(owner: str | None, prospect: str | None, due: str | None, all_: bool,
             fmt: str) -> None:
    """Open tasks, overdue first, then by due day."""
    from salescli.tasks import store

    rows = store.list_tasks(read_conn(), owner=owner, prospect=prospect, due=due,
                            include_done=all_)
    if emit(rows, fmt, columns=store.COLUMNS) == 0 and fmt == "table":
        click.echo("No tasks.", err=True)


@tasks.command("done")
@click.argument("task_id", metavar="ID")
@click.option("--note", help="What came of it.")
def done_cmd(task_id: str, note: str | None) -> None:
    """Mark a task done."""
    from salescli.tasks import store

    store.done(write_conn(), settings().actor, task_id, note=note)
    click.echo(f"task {task_id} done")


@tasks.command("snooze")
@click.argument("task_id", metavar="ID")
@click.option("--until", required=True, metavar="DATE",
              help="The new due day: YYYY-MM-DD, tomorrow, +3d …")
def snooze_cmd(task_id: str, until: str) -> None:
    """Put a task off until a later day."""
    from salescli.tasks import store

    t = store.snooze(write_conn(), settings().actor, task_id, until)
    click.echo(f"task {task_id} snoozed until {t['due_on']}")


@tasks.command("reopen")
@click.argument("task_id", metavar="ID")
def reopen_cmd(task_id: str) -> None:
    """Make a done task open again."""
    from salescli.tasks import store

    store.reopen(write_conn(), settings().actor, task_id)
    click.echo(f"task {task_id} reopened")
