"""Small top-level commands: ``init``, ``log``, ``activity``."""

from __future__ import annotations

import click

from salescli.cli.common import emit, format_option, read_conn, settings, write_conn
from salescli.core.db import MAX_INTEGER, row_id


@click.command()
def init() -> None:
    """Create the database, or upgrade it to this version's schema.

    Example: salescli --db /srv/sales/sales.db init
    """
    from salescli.core import db

    path = settings().db
    before, tables = None, 0
    if path.exists():
        probe = db.connect(path)
        before = db.schema_version(probe)
        tables = probe.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        probe.close()
    conn = write_conn()
    version = db.schema_version(conn)
    # (a file with tables but no version, e.g. a `sqlite3 .dump` copy, is upgraded in place)
    verb = "created" if not (before or tables) else (
        "upgraded" if (before or 0) < version else "up to date:")
    click.echo(f"{verb} {path} (schema version {version})")


@click.command("log")
@click.argument("prospect", metavar="ID|EMAIL")
@click.option("--kind", required=True, type=click.Choice(["call", "meeting", "note", "email"]),
              help="What happened.")
@click.option("--body", help="What was said or written.")
@click.option("--subject", help="A subject line.")
@click.option("--at", "when", help="When (YYYY-MM-DD, ISO-8601 or '2d' ago; default now).")
def log_interaction(prospect, kind, body, subject, when) -> None:
    """Log a call, meeting, note or email against a prospect.

    Example: salescli log ada@example.com --kind call --body "wants a demo on Friday"
    """
    from salescli.core.timeutil import parse_when
    from salescli.pipeline import interactions

    at = parse_when(when, "--at") if when else None
    conn = write_conn()
    row = interactions.log(conn, settings().actor, prospect, kind, body=body, subject=subject,
                           at=at)
    click.echo(f"logged {row['kind']} #{row['id']} at {row['occurred_at']}")


@click.command()
@click.option("--prospect", metavar="ID|EMAIL", help="Only this prospect.")
@click.option("--actor", help="Only changes by this user.")
@click.option("--since", help="Only since this date (YYYY-MM-DD, ISO-8601 or '7d').")
@click.option("--entity", type=click.Choice(["prospect", "stage", "interaction", "user"]),
              help="Only this kind of thing.")
@click.option("--limit", type=click.IntRange(1, MAX_INTEGER), default=None,
              help="Only the newest N rows.")
@format_option()
def activity(prospect, actor, since, entity, limit, fmt) -> None:
    """The audit log: who changed what, when, before and after.

    Example: salescli activity --since 7d --actor monitor
    """
    from salescli.core import audit
    from salescli.core.errors import NotFound
    from salescli.core.timeutil import parse_when
    from salescli.pipeline import prospects as lib

    conn = read_conn()
    pid = None
    if prospect:
        text = str(prospect).strip()
        try:
            pid = lib.resolve(conn, text)["id"]
        except NotFound:
            # A forgotten or deleted prospect still has its (redacted) audit rows.
            pid = row_id(text)
            if pid is None or not conn.execute(
                    "SELECT 1 FROM activities WHERE prospect_id = ? LIMIT 1",
                    (pid,)).fetchone():
                raise
    rows = audit.list_activities(conn, prospect_id=pid, actor=actor, entity=entity,
                                 since=parse_when(since, "--since") if since else None,
                                 limit=limit)
    emit(rows, fmt)
