"""``salescli suppress``, ``unsuppress``, ``suppressions``: the do-not-contact list."""

from __future__ import annotations

import click

from salescli.cli.common import emit, format_option, read_conn, settings, write_conn


@click.command()
@click.argument("address", metavar="EMAIL|@DOMAIN")
@click.option("--reason", help="Why (kept with the entry and in the audit log).")
def suppress(address: str, reason: str | None) -> None:
    """Never send sequence mail to this address (or anyone @domain); running enrollments
    of matching prospects end at their next step.

    Example: salescli suppress @competitor.example --reason "asked us to stop"
    """
    from salescli.pipeline import suppressions

    row = suppressions.add(write_conn(), settings().actor, address, reason=reason)
    click.echo(f"suppressed {row['address']}")


@click.command()
@click.argument("address", metavar="EMAIL|@DOMAIN")
def unsuppress(address: str) -> None:
    """Take an address or @domain off the do-not-contact list (ended enrollments stay
    ended)."""
    from salescli.pipeline import suppressions

    row = suppressions.remove(write_conn(), settings().actor, address)
    click.echo(f"unsuppressed {row['address']}")


@click.command()
@format_option()
def suppressions(fmt: str) -> None:
    """The do-not-contact list, newest first (manual entries, unsubscribes, bounces)."""
    from salescli.pipeline import suppressions as lib

    if emit(lib.list_suppressions(read_conn()), fmt, columns=lib.COLUMNS) == 0 \
            and fmt == "table":
        click.echo("No suppressions.", err=True)
