"""Operations commands: ``health``, ``jobs history`` and ``db backup|restore|optimize|cleanup``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from salescli.cli.common import emit, emit_one, format_option, read_conn, settings


def _root_quiet() -> bool:
    return bool(click.get_current_context().find_root().params.get("quiet"))


class _Bars:
    """Progress bars on a terminal (one per file copied); nothing under cron or in pipes."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.label: str | None = None
        self.done = 0

    def __call__(self, label: str, done: int, total: int) -> None:
        if label != self.label:
            self.close()
            self.label, self.done = label, 0
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    @classmethod
    def maybe(cls) -> _Bars | None:
        quiet = _root_quiet()
        return cls() if sys.stderr.isatty() and not quiet else None


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1024**2:.1f} MB"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _print_health(report: dict[str, Any]) -> None:
    from salescli.core import output

    out = sys.stdout
    problems = report["problems"]
    if problems:
        out.write(f"UNHEALTHY: {len(problems)} problem{'s' if len(problems) > 1 else ''}\n")
        out.writelines(f"  - {p}\n" for p in problems)
    else:
        out.write("healthy\n")
    if report["jobs"]:
        out.write("\njobs\n")
        output.write_table(({**j, "duration": _duration(j["duration_s"])}
                            for j in report["jobs"]), out,
                           columns=["job", "last_run", "status", "duration", "last_success",
                                    "runs_24h", "failed_24h", "error"])
    if report["mail"]:
        out.write("\nmail\n")
        output.write_table(({**m, "delay": _duration(m["delay_s"]),
                             "scan_age": _duration(m["scan_age_s"])} for m in report["mail"]),
                           out, columns=["account", "folder", "newest_message_at", "delay",
                                         "last_scan_at", "scan_age"])
    out.write("\n")
    q, n, r = report["quarantine"], report["notifications"], report["error_rate_24h"]
    if q is not None:
        out.write(f"quarantine: {q['total']} messages ({q['last_24h']} in the last 24 h)\n")
    if n is not None:
        due = f", oldest due {n['oldest_due_at']}" if n["oldest_due_at"] else ""
        out.write(f"notifications: {n['pending']} pending{due}; "
                  f"{n['given_up_24h']} given up in the last 24 h\n")
    if r is not None:
        out.write(f"job runs (24 h): {r['failed']} of {r['runs']} failed\n")
    d = report.get("database") or {}
    if d:
        out.write(f"database: {d['path']}, {_mb(d['size_bytes'])}, WAL {_mb(d['wal_bytes'])}, "
                  f"{_mb(d['free_disk_bytes'])} free on disk\n")
        out.write(f"schema version: {d['schema_version']}; integrity: {d['integrity']}; "
                  f"credentials integrity: {d['credentials_integrity'] or 'no file'}\n")


@click.command()
@format_option(choices=("table", "json"))
def health(fmt: str) -> None:
    """Check jobs, mail delay, quarantine, notifications and the database.

    Exits 1 when anything is over its threshold (SALESCLI_HEALTH_* variables), so
    cron or a monitoring system can alert. With -q nothing is printed while healthy.

    Example: salescli -q health || echo "salescli needs attention"
    """
    from salescli.ops import health as lib

    report = lib.check(settings().db)
    if not (report["healthy"] and _root_quiet()):
        if fmt == "json":
            emit_one(report, "json")
        else:
            _print_health(report)
    if not report["healthy"]:
        sys.exit(1)


@click.group()
def jobs() -> None:
    """What the cron jobs did: run history with status, counts and errors."""


@jobs.command("history")
@click.option("--job", help="Only this job (scan, notify, rollup, report, backup, …).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="The newest N runs.")
@format_option()
def jobs_history(job: str | None, limit: int, fmt: str) -> None:
    """Recent job runs, newest first.

    Example: salescli jobs history --job scan --limit 5
    """
    from salescli.ops.runner import history, summary

    rows = history(read_conn(), job=job, limit=limit)
    if fmt == "table":
        from salescli.ops.health import parse_ts

        def shaped():
            for r in rows:
                start, end = parse_ts(r["started_at"]), parse_ts(r["finished_at"])
                secs = round((end - start).total_seconds()) if start and end else None
                yield {**r, "duration": _duration(secs), "counts": summary(r["counts"])}

        emit(shaped(), fmt, columns=["id", "job", "started_at", "duration", "status",
                                     "counts", "error"])
    else:
        emit(rows, fmt)


@click.group("db")
def db_group() -> None:
    """Backups, restores and upkeep of the database files."""


def _as_job(job: str, work: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work(run)`` as ``job`` (lock + job_runs row) and keep its numbers as counts."""
    from salescli.ops.runner import run_job

    with run_job(job, settings().db) as run:
        result = work(run)
        for key, value in result.items():
            if isinstance(value, bool | int | float | str):
                run.counts[key] = value
    return result


@db_group.command("backup")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Generations to keep in DIR (default SALESCLI_BACKUP_KEEP, else 7).")
def db_backup(directory: str, keep: int | None) -> None:
    """Copy the sales and credentials databases into DIR while jobs keep writing.

    Each copy is time-stamped, mode 0600 and verified with integrity_check; older
    generations beyond --keep are deleted. Prints the path of each copy.

    Example: salescli db backup /var/backups/salescli --keep 14
    """
    from salescli.ops import backup as lib

    bars = _Bars.maybe()
    box: dict[str, Any] = {}

    def work(run: Any) -> dict[str, Any]:
        try:
            box.update(lib.backup(settings().db, directory, keep=keep, progress=bars,
                                  run_id=run.id))
        finally:
            if bars:  # end the bar's line before the summary is logged
                bars.close()
        return {"files": len(box["copies"]), "bytes": sum(c.bytes for c in box["copies"]),
                "pruned": len(box["pruned"])}

    _as_job("backup", work)
    for c in box["copies"]:
        click.echo(str(c.path))


@db_group.command("restore")
@click.argument("file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True,
              help="Replace the live database (a copy of it is kept beside it).")
def db_restore(file: str, force: bool) -> None:
    """Put a backup (sales or credentials) back in place.

    Refuses to replace an existing database without --force, and refuses a backup
    from a newer salescli. A backup from an older version is upgraded. Stop the
    cron jobs while restoring.

    Example: salescli db restore /var/backups/salescli/sales-20250131T020000Z.db --force
    """
    from salescli.ops import backup as lib
    from salescli.ops.runner import job_lock

    bars = _Bars.maybe()
    try:
        with job_lock(settings().db, "restore"):
            result = lib.restore(file, settings().db, force=force, progress=bars)
    finally:
        if bars:
            bars.close()
    click.echo(f"restored the {result['kind']} database {result['to']} from {result['from']} "
               f"(schema version {result['schema_version']})")
    if result["saved"]:
        click.echo(f"the previous file is kept as {result['saved']}")


@db_group.command("optimize")
@click.option("--vacuum/--no-vacuum", default=None,
              help="Force or skip VACUUM (default: only when a fifth of the file is free).")
def db_optimize(vacuum: bool | None) -> None:
    """ANALYZE, merge the search index, PRAGMA optimize, and VACUUM when worthwhile.

    Example: salescli db optimize
    """
    from salescli.ops import maintenance

    result = _as_job("optimize", lambda run: maintenance.optimize(run.conn, settings().db,
                                                                  vacuum=vacuum))
    click.echo(f"optimized: {_mb(result['size_before'])} → {_mb(result['size_after'])}"
               f"{', vacuumed' if result['vacuumed'] else ''}"
               f"{'; ' + result['vacuum_skipped'] if result.get('vacuum_skipped') else ''}")


@db_group.command("cleanup")
@click.option("--older-than", "days", type=int, default=None, metavar="DAYS",
              help="Retention in days (default SALESCLI_RETENTION_DAYS, else 90).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@format_option()
def db_cleanup(days: int | None, dry_run: bool, fmt: str) -> None:
    """Delete old job history, sent or given-up notifications, quarantined mail and sign-ins.

    The web sign-in log (in credentials.db) keeps the same number of days. Never touches
    prospects, interactions, stage history or the audit log. The newest run and the newest
    success of every job are always kept.

    Example: salescli db cleanup --older-than 180
    """
    from salescli.ops import maintenance

    days = maintenance.retention_days(days)
    if dry_run:
        deleted = maintenance.cleanup(read_conn(), days, dry_run=True, db_file=settings().db)
    else:
        deleted = _as_job("cleanup", lambda run: maintenance.cleanup(run.conn, days,
                                                                     db_file=settings().db))
    emit(({"table": t, "would_delete" if dry_run else "deleted": n}
          for t, n in deleted.items()), fmt)
