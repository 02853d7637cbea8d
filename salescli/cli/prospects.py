"""``salescli prospects …``: add, list, show, update, move, archive, merge, forget, export."""

from __future__ import annotations

import click

from salescli.cli.common import emit, emit_one, format_option, read_conn, settings, write_conn
from salescli.core.db import MAX_INTEGER
from salescli.core.output import FORMATS

LIST_COLUMNS = ["id", "email", "name", "company", "owner", "stage", "email_status", "value",
                "currency", "tags", "last_interaction_at"]
SORT_KEYS = ["id", "email", "name", "company", "owner", "stage", "value", "created",
             "updated", "last-contacted", "last-interaction"]


@click.group()
def prospects() -> None:
    """People being sold to."""


def _fields(name, company, owner, value, source, notes) -> dict:
    given = {"name": name, "company": company, "owner": owner, "value": value,
             "source": source, "notes": notes}
    return {k: v for k, v in given.items() if v is not None}


@prospects.command("add")
@click.argument("email")
@click.option("--name", help="Full name.")
@click.option("--company", help="Company or organisation.")
@click.option("--stage", help="Starting stage (default: the first open stage).")
@click.option("--owner", help="Who owns the prospect (a username).")
@click.option("--value", help="Deal value, a number.")
@click.option("--currency", help="Currency of the value, e.g. EUR (default: SALESCLI_CURRENCY).")
@click.option("--tag", "tags", multiple=True, help="A tag; repeat for several.")
@click.option("--source", help="Where the prospect came from.")
@click.option("--notes", help="Free-text notes (searchable).")
@format_option()
def add_cmd(email, name, company, stage, owner, value, currency, tags, source, notes,
            fmt) -> None:
    """Add a prospect.

    Example: salescli prospects add ada@example.com --name "Ada L." --tag vip
    """
    from salescli.pipeline import prospects as lib

    conn = write_conn()
    p = lib.add(conn, settings().actor, email, name=name, company=company, stage=stage,
                owner=owner, value=value, tags=list(tags), source=source, notes=notes,
                currency=currency)
    _done("added", p, fmt)


def _done(verb: str, p: dict, fmt: str) -> None:
    """A one-line confirmation for people; the whole object for scripts."""
    if fmt == "table":
        click.echo(f"{verb} #{p['id']} {p['email']} ({p['stage']})")
    else:
        emit_one(p, fmt)


@prospects.command("list")
@click.option("--stage", help="Only this stage.")
@click.option("--owner", help="Only this owner.")
@click.option("--tag", help="Only prospects with this tag.")
@click.option("--email-status", type=click.Choice(["ok", "bounced_soft", "bounced_hard"]),
              help="Only this email status.")
@click.option("--search", help="Full-text search in name, company, email and notes.")
@click.option("--stale", type=click.IntRange(min=0), metavar="DAYS",
              help="Open prospects with no interaction for DAYS days.")
@click.option("--archived", is_flag=True, help="List archived prospects instead.")
@click.option("--sort", default="id", show_default=True, metavar="KEY",
              help="Sort key, '-' prefix for descending: " + ", ".join(SORT_KEYS) + ".")
@click.option("--limit", type=click.IntRange(0, MAX_INTEGER), help="At most this many rows.")
@click.option("--offset", type=click.IntRange(0, MAX_INTEGER), default=0,
              help="Skip this many rows.")
@format_option()
def list_cmd(stage, owner, tag, email_status, search, stale, archived, sort, limit, offset,
             fmt) -> None:
    """List prospects.

    Example: salescli prospects list --stage contacted --stale 14 --sort -value
    """
    from salescli.pipeline import prospects as lib

    conn = read_conn()
    rows = lib.list_prospects(conn, stage=stage, owner=owner, tag=tag, email_status=email_status,
                              search=search, stale_days=stale, sort=sort, limit=limit,
                              offset=offset, archived=archived)
    if fmt == "table":
        from salescli.core.output import pick

        rows = pick(rows, LIST_COLUMNS)
    n = emit(rows, fmt)
    if fmt == "table" and n == 0:
        click.echo("No prospects match.", err=True)


@prospects.command("show")
@click.argument("prospect", metavar="ID|EMAIL")
@format_option()
def show_cmd(prospect, fmt) -> None:
    """Show a prospect with its timeline (stage changes, interactions, tasks, activity)."""
    from salescli.pipeline import addresses
    from salescli.pipeline import prospects as lib
    from salescli.pipeline.timeline import timeline

    conn = read_conn()
    p = lib.resolve(conn, prospect)
    p["other_emails"] = addresses.of(conn, p["id"])
    p["timeline"] = timeline(conn, p["id"])
    if fmt in ("json", "nl"):
        emit_one(p, fmt)
        return
    events = p.pop("timeline")
    if fmt == "csv":
        emit(({"at": e["at"], "type": e["type"], "what": _describe(e),
               "actor": e.get("actor")} for e in events), "csv")
        return
    emit_one(p, "table")
    click.echo("")
    emit(({"at": e["at"], "event": _describe(e), "by": e.get("actor")} for e in events),
         "table")


def _describe(event: dict) -> str:
    if event["type"] == "stage_change":
        text = f"{event['from'] or '∅'} → {event['to']}"
        for key in ("note", "reason"):
            if event.get(key):
                text += f" ({key}: {event[key]})"
        return text
    if event["type"] == "interaction":
        text = event["kind"]
        if event.get("subject"):
            text += f": {event['subject']}"
        elif event.get("body"):
            text += f": {event['body']}"
        return text
    if event["type"] == "task":
        text = f"task ({event['kind']}): {event['text']}"
        if event.get("due_on"):
            text += f" due {event['due_on']}"
        return text + (f", done {event['done_at']}" if event.get("done_at") else "")
    changes = event.get("after") or {}
    return f"{event['action']} {', '.join(f'{k}={v}' for k, v in changes.items())}".strip()


@prospects.command("update")
@click.argument("prospect", metavar="ID|EMAIL")
@click.option("--email", help="New email address.")
@click.option("--name", help="Full name.")
@click.option("--company", help="Company or organisation.")
@click.option("--owner", help="Who owns the prospect (a username).")
@click.option("--value", help="Deal value; '' clears it.")
@click.option("--currency", help="Currency of the value, e.g. EUR; '' sets the default.")
@click.option("--source", help="Where the prospect came from.")
@click.option("--notes", help="Free-text notes (searchable).")
@click.option("--tag", "add_tags", multiple=True, help="Add a tag.")
@click.option("--untag", "remove_tags", multiple=True, help="Remove a tag.")
@click.option("--add-email", "add_emails", multiple=True, metavar="EMAIL",
              help="Add an other address (mail from it is this prospect's); repeatable.")
@click.option("--remove-email", "remove_emails", multiple=True, metavar="EMAIL",
              help="Remove an other address; repeatable.")
@click.option("--email-status", type=click.Choice(["ok", "bounced_soft", "bounced_hard"]),
              help="Set the email status; 'ok' resets a bounce.")
@format_option()
def update_cmd(prospect, email, name, company, owner, value, currency, source, notes, add_tags,
               remove_tags, add_emails, remove_emails, email_status, fmt) -> None:
    """Change a prospect's fields ('' clears a field) and its other addresses.

    Example: salescli prospects update ada@example.com --owner bob --tag hot
    """
    from salescli.core.db import transaction
    from salescli.pipeline import addresses
    from salescli.pipeline import prospects as lib

    changes = _fields(name, company, owner, value, source, notes)
    if email is not None:
        changes["email"] = email
    if email_status is not None:
        changes["email_status"] = email_status
    if currency is not None:
        changes["currency"] = currency
    conn = write_conn()
    actor = settings().actor
    with transaction(conn):  # all of it or nothing
        p = lib.update(conn, actor, prospect, changes, add_tags=add_tags,
                       remove_tags=remove_tags)
        if remove_emails:
            addresses.remove(conn, actor, p["id"], remove_emails)
        if add_emails:
            addresses.add(conn, actor, p["id"], add_emails, strict=True)
    _done("updated", p, fmt)


@prospects.command("move")
@click.argument("prospect", metavar="ID|EMAIL")
@click.argument("stage")
@click.option("--note", help="Why, for the history.")
@click.option("--reason", help="Required when moving to a won or lost stage.")
def move_cmd(prospect, stage, note, reason) -> None:
    """Move a prospect to another stage.

    Example: salescli prospects move ada@example.com won --reason "signed annual plan"
    """
    from salescli.pipeline import prospects as lib
    from salescli.pipeline import stages

    conn = write_conn()
    p = lib.resolve(conn, prospect)
    if stages.move(conn, settings().actor, p["id"], stage, note=note, reason=reason):
        click.echo(f"{p['email']}: {p['stage']} → {stages.get_stage(conn, stage)['name']}")
    else:
        click.echo(f"{p['email']} is already in {p['stage']}")


@prospects.command("archive")
@click.argument("prospect", metavar="ID|EMAIL")
@click.option("--restore", is_flag=True, help="Bring an archived prospect back.")
@click.option("--hard", is_flag=True, help="Delete for good, with its history.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (--hard).")
def archive_cmd(prospect, restore, hard, yes) -> None:
    """Archive a prospect (it leaves lists, keeps its history); --hard deletes it."""
    from salescli.pipeline import prospects as lib

    conn = write_conn()
    if hard:
        p = lib.resolve(conn, prospect)
        if not yes:
            click.confirm(f"Delete {p['email']} and all its history for good?", abort=True,
                          err=True)
        lib.delete(conn, settings().actor, p["id"])
        click.echo(f"deleted {p['email']}")
        return
    p = lib.archive(conn, settings().actor, prospect, restore=restore)
    click.echo(f"{'restored' if restore else 'archived'} {p['email']}")


@prospects.command("merge")
@click.argument("keep", metavar="KEEP")
@click.argument("other", metavar="OTHER")
@format_option()
def merge_cmd(keep, other, fmt) -> None:
    """Merge OTHER into KEEP: history moves to KEEP, OTHER is deleted.

    Example: salescli prospects merge ada@example.com ada.lovelace@example.com
    """
    from salescli.pipeline import prospects as lib

    conn = write_conn()
    _done("merged into", lib.merge(conn, settings().actor, keep, other), fmt)


@prospects.command("forget")
@click.argument("email")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def forget_cmd(email, yes) -> None:
    """Erase a person everywhere (right to erasure), audit log included."""
    from salescli.pipeline.erasure import forget

    conn = write_conn()
    if not yes:
        click.confirm(f"Erase {email} and every trace of them?", abort=True, err=True)
    counts = forget(conn, settings().actor, email)
    click.echo(f"forgot {email}: {counts['interactions']} interactions deleted, "
               f"{counts['activities_redacted']} audit rows redacted")
    if counts["wal_kept"]:
        click.echo("note: another process is reading an older snapshot of the database (a"
                   " replicator keeps one), so the erased pages leave its write-ahead log"
                   " at the next checkpoint, not now", err=True)


@prospects.command("export")
@format_option(default="csv", choices=[f for f in FORMATS if f != "table"])
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of stdout.")
@click.option("--raw", is_flag=True, help="Do not neutralise formula-like CSV cells.")
@click.option("--archived", is_flag=True, help="Include archived prospects.")
def export_cmd(fmt, output, raw, archived) -> None:
    """Export every prospect (streamed, no cap).

    Example: salescli prospects export --format csv -o prospects.csv
    """
    from salescli.core import output as out
    from salescli.pipeline import prospects as lib

    conn = read_conn()

    def rows():
        for which in (False, True) if archived else (False,):
            for row in lib.list_prospects(conn, archived=which, addresses=True):
                if fmt == "csv":  # one cell: the addresses joined with ';'
                    row["other_emails"] = ";".join(row["other_emails"])
                yield row

    columns = [*lib.PUBLIC_FIELDS, "other_emails"]  # a CSV header even when there are no rows


    if output:
        out.render_to_file(rows(), fmt, output, raw=raw, columns=columns)
    else:
        emit(rows(), fmt, columns=columns, raw=raw)


def _attach_import() -> None:
    try:
        from salescli.cli.importing import import_prospects
    except ImportError:  # pragma: no cover - the importer ships with the package
        return
    prospects.add_command(import_prospects, "import")


_attach_import()
