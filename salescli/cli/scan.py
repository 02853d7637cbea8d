"""``salescli scan``: one pass of the email monitor over every configured mailbox."""

from __future__ import annotations

import sys

import click

from salescli.cli.common import settings


class _Bar:
    """A click progress bar driven by the scan's progress callbacks."""

    def __init__(self, label: str, total: int):
        self.bar = click.progressbar(length=total, label=label, file=sys.stderr)
        self.bar.__enter__()

    def update(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.__exit__(None, None, None)


@click.command()
@click.option("--account", metavar="NAME", help="Only this account of the configuration.")
@click.option("--source", default="imap", show_default=True, metavar="imap|maildir:PATH|mbox:PATH",
              help="Scan the configured IMAP accounts, or a local Maildir or mbox.")
@click.option("--since", metavar="DATE", help="Ignore mail sent before DATE (bounds a first "
              "import: YYYY-MM-DD, an ISO time or 30d).")
@click.option("--create-unknown", is_flag=True, help="Create leads for people we wrote to or "
              "who wrote to us (never no-reply, list, automated or internal mail).")
@click.option("--jobs", type=click.IntRange(1, 64), default=4, show_default=True,
              metavar="N", help="Fetch up to N accounts at once, each over its own "
              "connection (one writer records them all).")
@click.option("--watch", is_flag=True, help="Keep running: record new mail within seconds "
              "(IMAP IDLE), until SIGTERM. For a systemd service; see docs/email-monitor.md.")
@click.option("--interval", type=click.FloatRange(1, 86400), default=300, show_default=True,
              metavar="S", help="With --watch: scan at least every S seconds (the polling "
              "fallback without IDLE, and the heartbeat `salescli health` checks).")
def scan(account: str | None, source: str, since: str | None, create_unknown: bool,
         jobs: int, watch: bool, interval: float) -> None:
    """Read new mail and record contacts, replies, auto-replies and bounces.

    Accounts come from SALESCLI_IMAP_* variables or the TOML file named by
    SALESCLI_CONFIG; see docs/email-monitor.md. Safe to run from cron as often as you like:
    each run reads only what is new, and a second run while one is going exits 0.
    """
    from salescli.core.errors import JobLocked
    from salescli.core.timeutil import parse_when
    from salescli.mail.scan import ScanOptions, parse_source, scan_sources

    parse_source(source)
    options = ScanOptions(since=parse_when(since, "--since") if since else None,
                          create_unknown=create_unknown, jobs=jobs,
                          progress=_Bar if sys.stderr.isatty() else None)
    if watch:
        _watch(source, account, options, interval)
        return
    try:
        scan_sources(settings().db, source=source, account=account, options=options)
    except JobLocked as exc:
        click.echo(f"{exc}; this run does nothing.", err=True)


def _watch(source: str, account: str | None, options, interval: float) -> None:
    """Run the watcher until SIGTERM or Ctrl-C; both end the current batch cleanly."""
    import signal

    from salescli.mail.watch import Watch, watch

    state = Watch()

    def request_stop(signum, frame) -> None:
        state.stop.set()
        state.wake.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    options.progress = None  # a service: no progress bars
    watch(settings().db, source=source, account=account, options=options, interval=interval,
          state=state)
