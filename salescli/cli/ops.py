"""Operations commands: ``health``, ``jobs history`` and
``db backup|restore|replicate|optimize|cleanup``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from salescli.cli.common import emit, emit_one, format_option, read_conn, settings
from salescli.core.db import MAX_INTEGER


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
    if report.get("replica"):
        out.write("\nreplica\n")
        output.write_table(({**x, "database": Path(x["database"]).name,
                             "lag": _duration(x["lag_s"])} for x in report["replica"]),
                           out, columns=["database", "replica", "newest_at", "last_commit_at",
                                         "lag"])
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
@click.option("--limit", type=click.IntRange(1, MAX_INTEGER), default=20, show_default=True,
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

    # a bad SALESCLI_BACKUP_KEEP is the user's one Error: line, before any job starts
    keep = lib.default_keep() if keep is None else keep
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
@click.argument("file", metavar="[FILE]", required=False, type=click.Path(dir_okay=False))
@click.option("--from-replica", "replica", metavar="URL",
              help="Restore both databases from a Litestream replica (see db replicate).")
@click.option("--timestamp", metavar="TIME",
              help="With --from-replica: the state at this time (ISO-8601 UTC, or '2h' ago).")
@click.option("--output", metavar="DIR", type=click.Path(file_okay=False),
              help="With --from-replica: where to write sales.db and credentials.db "
                   "(default ./restored-<time>).")
@click.option("--force", is_flag=True,
              help="Replace existing files (a live database is kept beside it first).")
def db_restore(file: str | None, replica: str | None, timestamp: str | None,
               output: str | None, force: bool) -> None:
    """Put a backup (sales or credentials) back in place, or restore from a replica.

    FILE: refuses to replace an existing database without --force, and refuses a
    backup from a newer salescli. A backup from an older version is upgraded. Stop the
    cron jobs while restoring.

    --from-replica URL: restores sales.db and credentials.db as they were at
    --timestamp (default: the newest the replica holds) into --output, a new
    directory unless --force, and checks both (integrity, schema version).

    Example: salescli db restore /var/backups/salescli/sales-20250131T020000Z.db --force

    Example: salescli db restore --from-replica s3://bucket/salescli
    --timestamp 2025-01-31T09:15:00Z --output /srv/salescli-restored
    """
    if replica:
        if file:
            raise click.UsageError("give either FILE or --from-replica, not both")
        _restore_replica(replica, timestamp, output, force)
        return
    if not file:
        raise click.UsageError("give a backup FILE, or --from-replica URL")
    if timestamp or output:
        raise click.UsageError("--timestamp and --output go with --from-replica")
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


def _restore_replica(url: str, timestamp: str | None, output: str | None, force: bool) -> None:
    from salescli.core.timeutil import now
    from salescli.ops import replica_restore, replication
    from salescli.ops.runner import job_lock

    url = replication.normalise_url(url, "--from-replica")
    out = output or f"restored-{now().replace(':', '').replace('-', '')}"
    with job_lock(settings().db, "restore"):
        result = replica_restore.restore(url, out, timestamp=timestamp, force=force,
                                         live_db=settings().db)
    at = f" as of {result['timestamp']}" if result["timestamp"] else ""
    for d in result["databases"]:
        click.echo(f"restored the {d['kind']} database {d['to']} from {replication.shown(url)}{at} "
                   f"(schema version {d['schema_version']}, integrity ok)")
    if len(result["databases"]) == 1:
        click.echo("the replica holds no credentials.db (no users or tokens were replicated)")


@db_group.command("replicate")
@click.option("--to", "url", metavar="URL",
              help="Replica URL: a directory, file:///dir, s3://bucket/path, sftp://host/path "
                   "… (default SALESCLI_REPLICA_URL, else [replication] url in SALESCLI_CONFIG).")
def db_replicate(url: str | None) -> None:
    """Copy every commit of the sales and credentials databases to a replica, continuously.

    Runs Litestream in the foreground until stopped (SIGTERM, Ctrl-C), for a service
    manager: see salescli-replicate.service.example. Each database goes to
    URL/sales.db and URL/credentials.db within SALESCLI_REPLICA_SYNC_INTERVAL (1s).
    Storage keys come from the environment (LITESTREAM_ACCESS_KEY_ID,
    LITESTREAM_SECRET_ACCESS_KEY, …), never from a file. salescli health reports how
    far the replica is behind.

    Example: salescli db replicate --to s3://backups/salescli
    """
    from salescli.ops import replication

    url = replication.replica_url(url)
    if url is None:
        raise click.UsageError("no replica: give --to URL or set SALESCLI_REPLICA_URL")
    replication.retention()  # a bad setting is the user's Error: line, before the job starts

    def started(rep: Any) -> None:
        names = ", ".join(p.name for p in rep.databases)
        click.echo(f"replicating {names} to {replication.shown(rep.url)} within {rep.interval} "
                   f"(litestream pid {rep.process.pid})", err=True)
        if len(rep.databases) == 1:
            click.echo("credentials.db does not exist yet: restart this service after the "
                       "first salescli users add", err=True)

    def work(run: Any) -> dict[str, Any]:
        code = replication.run(settings().db, url, on_start=started)
        return {"databases": len(replication.databases(settings().db)), "exit_code": code}

    _as_job("replicate", work)


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
