"""``salescli sequences …`` and ``salescli send``: follow-up sequences from the shell and cron."""

from __future__ import annotations

import sys

import click

from salescli.cli.common import emit, emit_one, format_option, read_conn, settings, write_conn
from salescli.core.db import MAX_INTEGER


@click.group()
def sequences() -> None:
    """Follow-up sequences: mails and tasks that stop when the person replies."""


@sequences.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
def load_cmd(file: str) -> None:
    """Create or update a sequence from a TOML file (see docs/automation.md); every
    template is checked against a sample prospect first.

    Example: salescli sequences load sequences/intro.toml
    """
    from salescli.sequences import store

    r = store.load(write_conn(), settings().actor, file)
    verb = "created" if r["created"] else ("updated" if r["changed"] else "unchanged:")
    click.echo(f"{verb} sequence {r['name']} ({r['steps']} steps)")


@sequences.command("list")
@format_option()
def list_cmd(fmt: str) -> None:
    """Sequences with their steps and enrollments by state."""
    from salescli.sequences import store

    if emit(store.list_sequences(read_conn()), fmt, columns=store.LIST_COLUMNS) == 0 \
            and fmt == "table":
        click.echo("No sequences; load one with: salescli sequences load FILE", err=True)


@sequences.command("show")
@click.argument("name")
@format_option()
def show_cmd(name: str, fmt: str) -> None:
    """A sequence's settings and steps."""
    from salescli.sequences import store

    seq = store.show(read_conn(), name)
    if fmt in ("json", "nl"):
        emit_one(seq, fmt)
        return
    steps = seq.pop("steps")
    emit_one(seq, "table")
    click.echo("")
    emit(({"step": s["position"], "wait": s["wait"],
           "what": f"task: {s['task']}" if s.get("task") else (s.get("subject") or "Re: …"),
           } for s in steps), fmt if fmt == "csv" else "table")


@sequences.command("pause")
@click.argument("name")
def pause_cmd(name: str) -> None:
    """Stop sending for a sequence; due steps wait until it is resumed."""
    from salescli.sequences import store

    store.set_paused(write_conn(), settings().actor, name, True)
    click.echo(f"paused {name}")


@sequences.command("resume")
@click.argument("name")
def resume_cmd(name: str) -> None:
    """Send again for a paused sequence."""
    from salescli.sequences import store

    store.set_paused(write_conn(), settings().actor, name, False)
    click.echo(f"resumed {name}")


@sequences.command("enroll")
@click.argument("name")
@click.argument("prospects", nargs=-1, metavar="[ID|EMAIL]...")
@click.option("--stage", metavar="S", help="Every unarchived prospect in this stage.")
@click.option("--tag", metavar="T", help="Every unarchived prospect with this tag.")
@click.option("--search", metavar="Q", help="Every unarchived prospect matching this search.")
def enroll_cmd(name: str, prospects: tuple[str, ...], stage: str | None, tag: str | None,
               search: str | None) -> None:
    """Enroll prospects in a sequence; prints how many, and each reason for skipping
    (already enrolled, suppressed, bounced, archived, won, lost, owner without email).

    Example: salescli sequences enroll intro --tag webinar
    """
    from salescli.sequences import enroll

    r = enroll.enroll(write_conn(), settings().actor, name, prospects, stage=stage, tag=tag,
                      search=search)
    click.echo(f"enrolled {r['enrolled']}")
    for reason, n in r["skipped"].items():
        click.echo(f"skipped {n}: {reason}")


@sequences.command("unenroll")
@click.argument("name")
@click.argument("prospects", nargs=-1, required=True, metavar="ID|EMAIL...")
def unenroll_cmd(name: str, prospects: tuple[str, ...]) -> None:
    """End these prospects' enrollments in a sequence (nothing more is sent)."""
    from salescli.sequences import enroll

    n = enroll.unenroll(write_conn(), settings().actor, name, prospects)
    click.echo(f"unenrolled {n}")


@sequences.command("status")
@click.argument("name")
@format_option()
def status_cmd(name: str, fmt: str) -> None:
    """Each enrollment: steps done, next send, state and why it ended."""
    from salescli.sequences import enroll

    if emit(enroll.status(read_conn(), name), fmt, columns=enroll.STATUS_COLUMNS) == 0 \
            and fmt == "table":
        click.echo("No enrollments.", err=True)


@sequences.command("preview")
@click.argument("name")
@click.argument("prospect", metavar="ID|EMAIL")
@format_option(default="text", choices=["text", "json"])
def preview_cmd(name: str, prospect: str, fmt: str) -> None:
    """Every step rendered for one prospect, as it would be sent."""
    from salescli.sequences import enroll

    steps = enroll.preview(read_conn(), name, prospect)
    if fmt == "json":
        emit(steps, "json")
        return
    for s in steps:
        click.echo(f"--- step {s['step']} ({s['kind']}, wait {s['wait']})")
        if s["subject"] is not None:
            click.echo(f"Subject: {s['subject']}\n")
        click.echo(s["body"].rstrip("\n"))


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and change "
              "nothing.")
@click.option("--limit", type=click.IntRange(1, MAX_INTEGER), metavar="N",
              help="At most N due enrollments this run.")
@format_option()
def send(dry_run: bool, limit: int | None, fmt: str) -> None:
    """Send due sequence steps over SMTP as each prospect's owner (cron, every few minutes).

    Limits per sender: SALESCLI_SEND_DAILY_CAP (default 200) and SALESCLI_SEND_MIN_GAP
    seconds between two mails (default 30); 0 lifts one. A second run while one is going
    exits 0 and does nothing. See docs/automation.md.
    """
    from salescli.core.errors import JobLocked
    from salescli.sequences.send import send_due

    if dry_run:
        conn = write_conn()
        try:
            r = send_due(conn, limit=limit, dry_run=True)
        finally:
            conn.close()
        emit(r.pop("plan"), fmt, columns=["enrollment", "action", "step", "to", "subject"])
        click.echo("dry run: " + (" ".join(f"{k}={v}" for k, v in r.items()) or "nothing due")
                   + "; nothing sent or changed", err=True)
        return
    from salescli.mail import sent_copy
    from salescli.ops.runner import run_job
    from salescli.sequences import compose, senders

    config = senders.load()  # a bad limit or sender table is one error line, before the job
    compose.one_click()  # so is a one-click URL without SALESCLI_SECRET
    copies = sent_copy.from_environment(senders.sent_routes(config))  # and a bad account
    try:
        with run_job("send", settings().db) as run:
            bar = None
            if sys.stderr.isatty():
                from salescli.sequences.schedule import utc
                from salescli.sequences.send import due_ids

                bar = click.progressbar(length=len(due_ids(run.conn, utc(), limit)),
                                        label="sending", file=sys.stderr)
            try:
                result = send_due(run.conn, limit=limit,
                                  progress=(lambda n: bar.update(n)) if bar else None,
                                  sent_copy=copies)
            finally:
                if bar is not None:
                    bar.render_finish()
                if copies is not None:
                    copies.close()
            run.counts.update(result)
    except JobLocked as exc:
        click.echo(f"{exc}; this run does nothing.", err=True)
