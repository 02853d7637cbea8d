"""``salescli notify``: queue stale-prospect notifications and deliver the outbox."""

from __future__ import annotations

import click

from salescli.cli.common import emit, format_option, read_conn, settings

STATES = ["pending", "failed", "suppressed", "sent"]
LIST_COLUMNS = ["id", "state", "rule", "prospect_id", "channel", "recipient", "subject",
                "created_at", "attempts", "next_attempt_at", "last_error"]


@click.command()
@click.option("--stale-days", type=click.IntRange(1, 3650), metavar="N",
              help="Also queue a notification for each open prospect with no interaction "
                   "for N days (once per prospect per day).")
@click.option("--morning", is_flag=True,
              help="Also queue each owner's morning digest: overdue and due-today tasks and "
                   "sequence replies waiting (once per owner per day).")
@click.option("--dry-run", is_flag=True,
              help="Show what would be queued and sent; change and send nothing.")
@click.option("--list", "list_", is_flag=True,
              help="List notifications (pending and failed by default) instead of sending.")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="With --list: which states to show (repeatable).")
@format_option()
def notify(stale_days: int | None, morning: bool, dry_run: bool, list_: bool,
           states: tuple[str, ...], fmt: str) -> None:
    """Deliver pending notifications (replies, hard bounces, stale prospects) by mail
    (SALESCLI_SMTP_*) and webhook (SALESCLI_WEBHOOK_URL); failures retry on later runs.

    \b
    Examples:
      salescli notify                      # cron, every few minutes
      salescli notify --stale-days 14 --morning   # cron, daily
      salescli notify --list --format json
    """
    from salescli.notify import outbox as lib

    if list_ or dry_run:
        conn = read_conn()
        try:
            if list_:
                emit(lib.list_notifications(conn, states=states or ("pending", "failed")), fmt,
                     columns=LIST_COLUMNS)
                return
            _dry_run(conn, stale_days, fmt)
        finally:
            conn.close()
        return

    from salescli.core.errors import JobLocked, SalescliError
    from salescli.ops.runner import run_job

    try:
        with run_job("notify", settings().db) as run:
            if stale_days:
                run.add("stale_queued", lib.enqueue_stale(run.conn, days=stale_days))
            if morning and lib.smtp_configured():
                from salescli.sequences.digest import enqueue_morning

                run.add("morning_queued", enqueue_morning(run.conn))
            result = lib.deliver(run.conn)
            run.counts.update(result)
            if result["failed"] and not result["sent"]:
                raise SalescliError(f"no notification could be delivered ({result['failed']} "
                                    "failed; see salescli notify --list)")
    except JobLocked as exc:
        click.echo(f"{exc}; nothing to do", err=True)


def _dry_run(conn, stale_days: int | None, fmt: str) -> None:
    from datetime import UTC, datetime

    from salescli.notify import outbox as lib

    rows = [{"id": r["id"], "state": "due", "rule": r["rule"], "prospect_id": r["prospect_id"],
             "channel": r["channel"], "recipient": r["recipient"], "subject": r["subject"],
             "created_at": r["created_at"], "attempts": r["attempts"]}
            for r in lib.due_rows(conn)]
    queued = 0
    if stale_days:
        existing = {r[0] for r in conn.execute("SELECT event_key FROM notifications")}
        today = datetime.now(UTC).date().isoformat()
        for p in lib.stale_candidates(conn, days=stale_days, today=today):
            key = f"stale:{p['id']}:{today}"
            if any(lib.row_key(key, ch) in existing for ch in lib.Channel):
                continue
            queued += 1
            rows.append({"id": None, "state": "would queue", "rule": "stale",
                         "prospect_id": p["id"], "channel": None, "recipient": p["owner"],
                         "subject": f"{p['email']} stale since {p['last']}",
                         "created_at": None, "attempts": 0})
    emit(rows, fmt, columns=["id", "state", "rule", "prospect_id", "channel", "recipient",
                             "subject", "created_at", "attempts"])
    click.echo(f"dry run: {len(rows) - queued} due to send, {queued} stale to queue; "
               "nothing changed", err=True)
