"""Is the installation healthy? Jobs, mail delay, quarantine, notifications, the database.

``check`` gathers everything ``salescli health`` prints and a list of problems
measured against thresholds read from the environment (``SALESCLI_HEALTH_*``),
so that cron or a monitoring system can alert on a non-empty list. It only
reads: the database is opened read-only and never migrated.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from salescli.core.db import credentials_path, db_path
from salescli.core.enums import JobStatus
from salescli.core.env import number
from salescli.core.errors import InvalidValue
from salescli.core.schema import SCHEMA_VERSION
from salescli.core.timeutil import iso, parse_duration

DAY = timedelta(hours=24)
MIN_RUNS_FOR_RATE = 20
# Jobs that run as services until stopped: a long run is their normal state.
SERVICE_JOBS = frozenset({"replicate"})
DEFAULT_JOB_MAX_AGE = "scan=30m,notify=30m,rollup=2d,backup=2d,report=8d,cleanup=8d,optimize=8d"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str, field: str = "size") -> int:
    """``500M``, ``2G``, ``1048576`` → bytes."""
    match = _SIZE.match(str(value))
    if not match:
        raise InvalidValue(field, value, "is not a size like 500M or 2G")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass
class Thresholds:
    """When health turns unhealthy; each one overridable by an environment variable."""

    scan_max_age: timedelta = field(default_factory=lambda: timedelta(minutes=30))
    mail_max_delay: timedelta | None = None
    max_quarantine: int = 10
    max_error_rate: float = 0.2
    max_pending: int = 100
    pending_max_age: timedelta = field(default_factory=lambda: timedelta(hours=2))
    max_failed_notifications: int = 0
    max_runtime: timedelta = field(default_factory=lambda: timedelta(hours=2))
    job_max_age: dict[str, timedelta] = field(default_factory=dict)
    min_free_disk: int = 500 * 1024**2
    max_wal: int = 512 * 1024**2
    integrity: str = "quick"
    replica_max_lag: timedelta = field(default_factory=lambda: timedelta(minutes=5))

    @classmethod
    def from_env(cls) -> Thresholds:
        """Read ``SALESCLI_HEALTH_*``; a bad value is a user error naming the variable."""
        t = cls()
        dur = parse_duration
        t.scan_max_age = dur(_env("SALESCLI_HEALTH_SCAN_MAX_AGE", "30m"),
                             "SALESCLI_HEALTH_SCAN_MAX_AGE")
        delay = os.environ.get("SALESCLI_HEALTH_MAIL_MAX_DELAY", "").strip()
        t.mail_max_delay = dur(delay, "SALESCLI_HEALTH_MAIL_MAX_DELAY") if delay else None
        t.max_quarantine = number("SALESCLI_HEALTH_MAX_QUARANTINE", 10)
        t.max_error_rate = _share("SALESCLI_HEALTH_MAX_ERROR_RATE", 0.2)
        t.max_pending = number("SALESCLI_HEALTH_MAX_PENDING", 100)
        t.pending_max_age = dur(_env("SALESCLI_HEALTH_PENDING_MAX_AGE", "2h"),
                                "SALESCLI_HEALTH_PENDING_MAX_AGE")
        t.max_failed_notifications = number("SALESCLI_HEALTH_MAX_FAILED_NOTIFICATIONS", 0)
        t.max_runtime = dur(_env("SALESCLI_HEALTH_MAX_RUNTIME", "2h"),
                            "SALESCLI_HEALTH_MAX_RUNTIME")
        t.job_max_age = parse_job_ages(DEFAULT_JOB_MAX_AGE)
        t.job_max_age.update(parse_job_ages(os.environ.get("SALESCLI_HEALTH_JOB_MAX_AGE", "")))
        t.min_free_disk = parse_size(_env("SALESCLI_HEALTH_MIN_FREE_DISK", "500M"),
                                     "SALESCLI_HEALTH_MIN_FREE_DISK")
        t.max_wal = parse_size(_env("SALESCLI_HEALTH_MAX_WAL", "512M"), "SALESCLI_HEALTH_MAX_WAL")
        t.replica_max_lag = dur(_env("SALESCLI_HEALTH_REPLICA_MAX_LAG", "5m"),
                                "SALESCLI_HEALTH_REPLICA_MAX_LAG")
        t.integrity = _env("SALESCLI_HEALTH_INTEGRITY", "quick").lower()
        if t.integrity not in ("quick", "full", "off"):
            raise InvalidValue("SALESCLI_HEALTH_INTEGRITY", t.integrity,
                               "must be quick, full or off")
        return t

    def public(self) -> dict[str, Any]:
        """JSON-friendly: durations in seconds."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, timedelta):
                out[key] = int(value.total_seconds())
        out["job_max_age"] = {k: int(v.total_seconds()) for k, v in self.job_max_age.items()}
        return out


def _share(name: str, default: float) -> float:
    """A share from 0 to 1 (``SALESCLI_HEALTH_MAX_ERROR_RATE``)."""
    value = number(name, default, float)
    if value > 1:
        raise InvalidValue(name, os.environ[name].strip(), "must be between 0 and 1")
    return value


def parse_job_ages(text: str) -> dict[str, timedelta]:
    """``scan=30m,backup=2d`` → {job: max age of its last success}; ``job=off`` disables."""
    ages: dict[str, timedelta] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        job, sep, value = item.partition("=")
        if not sep or not job.strip():
            raise InvalidValue("SALESCLI_HEALTH_JOB_MAX_AGE", item, "is not JOB=DURATION")
        if value.strip().lower() in ("off", "0", "none"):
            ages[job.strip()] = timedelta(0)
        else:
            ages[job.strip()] = parse_duration(value, "SALESCLI_HEALTH_JOB_MAX_AGE")
    return ages


def parse_ts(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp (``Z`` allowed) → aware datetime; None if empty or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)  # Python 3.11 reads a trailing Z
    except ValueError:
        return None


def _age(value: str | None, now: datetime) -> int | None:
    ts = parse_ts(value)
    return None if ts is None else int((now - ts).total_seconds())


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _open_ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def integrity(conn: sqlite3.Connection, mode: str = "quick") -> str:
    """``ok`` or the first lines SQLite reports (quick_check, or integrity_check if full)."""
    pragma = "integrity_check" if mode == "full" else "quick_check"
    try:
        # One result row may hold several problems, one a line: one line each, so the
        # report's problem stays on one line.
        rows = [line for r in conn.execute(f"PRAGMA {pragma}(20)") for line in r[0].splitlines()]
    except sqlite3.DatabaseError as exc:
        return f"error: {exc}"
    return "ok" if rows == ["ok"] else "; ".join(rows[:5])


def _process_gone(row: dict[str, Any]) -> bool:
    """A running row whose process (on this host) no longer exists."""
    import socket

    if row["host"] != socket.gethostname() or not row["pid"]:
        return False
    try:
        os.kill(row["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _jobs(conn: sqlite3.Connection, t: Thresholds, now: datetime,
          problems: list[str]) -> list[dict[str, Any]]:
    jobs = []
    since = iso(now - DAY)
    names = [r[0] for r in conn.execute("SELECT DISTINCT job FROM job_runs ORDER BY job")]
    for job in names:
        # A dict, not the sqlite3.Row: a Row reads its keys in any case, a dict as spelt.
        last = dict(conn.execute(
            "SELECT * FROM job_runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT 1",
            (job,)).fetchone())
        # The last finished run, by position (sqlite3.Row would read its keys in any case).
        done_status, done_at, done_error = conn.execute(
            "SELECT status, started_at, error FROM job_runs WHERE job = ?"
            " AND status IN ('ok', 'failed')"
            " ORDER BY started_at DESC, id DESC LIMIT 1", (job,)).fetchone() or (None, None, None)
        ok = conn.execute(
            "SELECT started_at, finished_at FROM job_runs WHERE job = ? AND status = 'ok'"
            " ORDER BY started_at DESC, id DESC LIMIT 1", (job,)).fetchone()
        runs, failed = conn.execute(
            "SELECT count(*), coalesce(sum(status = 'failed'), 0) FROM job_runs"
            " WHERE job = ? AND started_at >= ?", (job, since)).fetchone()
        started, finished = last["started_at"], last["finished_at"]
        start, end = parse_ts(started), parse_ts(finished)
        entry = {
            "job": job,
            "last_run": started,
            "status": last["status"],
            "duration_s": round((end - start).total_seconds()) if start and end else None,
            "error": last["error"],
            "last_success": ok["finished_at"] or ok["started_at"] if ok else None,
            "runs_24h": runs,
            "failed_24h": failed,
        }
        jobs.append(entry)
        # A service restarted after a failure (the replicator) is judged by its live run.
        restarted = job in SERVICE_JOBS and last["status"] == JobStatus.RUNNING \
            and not _process_gone(last)
        if done_status == JobStatus.FAILED and not restarted:
            problems.append(f"job {job} failed at {done_at}: {done_error}")
        if last["status"] == JobStatus.RUNNING:
            running_for = _age(started, now) or 0
            if _process_gone(last):
                problems.append(f"job {job} died while running (pid {last['pid']} is gone)")
            elif running_for > t.max_runtime.total_seconds() and job not in SERVICE_JOBS:
                problems.append(f"job {job} has been running for {_human(running_for)}")
        max_age = t.job_max_age.get(job)
        if max_age and ok is not None:
            age = _age(entry["last_success"], now)
            if age is not None and age > max_age.total_seconds():
                problems.append(f"job {job} last succeeded {_human(age)} ago "
                                f"(threshold {_human(max_age.total_seconds())})")
    return jobs


def _error_rate(conn: sqlite3.Connection, t: Thresholds, now: datetime,
                problems: list[str]) -> dict[str, Any]:
    total, failed = conn.execute(
        "SELECT count(*), coalesce(sum(status = 'failed'), 0) FROM job_runs"
        " WHERE started_at >= ? AND status IN ('ok', 'failed')", (iso(now - DAY),)).fetchone()
    rate = failed / total if total else 0.0
    if total >= MIN_RUNS_FOR_RATE and rate > t.max_error_rate:
        problems.append(f"{failed} of {total} job runs failed in the last 24 h "
                        f"({rate:.0%} > {t.max_error_rate:.0%})")
    return {"runs": total, "failed": failed, "rate": round(rate, 4)}


def _mail(conn: sqlite3.Connection, t: Thresholds, now: datetime,
          problems: list[str]) -> list[dict[str, Any]]:
    rows = []
    for account, folder, newest, last_scan in conn.execute(
            "SELECT account, folder, newest_message_at, last_scan_at"
            " FROM mail_checkpoints ORDER BY account, folder"):
        delay = _age(newest, now)
        scan_age = _age(last_scan, now)
        rows.append({"account": account, "folder": folder, "newest_message_at": newest,
                     "delay_s": delay, "last_scan_at": last_scan, "scan_age_s": scan_age})
        where = f"{account}/{folder}"
        if scan_age is None or scan_age > t.scan_max_age.total_seconds():
            problems.append(f"mail {where} last scanned {_human(scan_age)}"
                            f"{' ago' if scan_age is not None else ''} "
                            f"(threshold {_human(t.scan_max_age.total_seconds())})")
        if t.mail_max_delay and delay is not None \
                and delay > t.mail_max_delay.total_seconds():
            problems.append(f"mail {where}: newest message seen is {_human(delay)} old "
                            f"(threshold {_human(t.mail_max_delay.total_seconds())})")
    return rows


def _quarantine(conn: sqlite3.Connection, t: Thresholds, now: datetime,
                problems: list[str]) -> dict[str, Any]:
    total, recent = conn.execute(
        "SELECT count(*), coalesce(sum(created_at >= ?), 0) FROM mail_quarantine",
        (iso(now - DAY),)).fetchone()
    if recent > t.max_quarantine:
        problems.append(f"{recent} messages quarantined in the last 24 h "
                        f"(threshold {t.max_quarantine}); see the mail_quarantine table")
    return {"total": total, "last_24h": recent}


def _notifications(conn: sqlite3.Connection, t: Thresholds, now: datetime,
                   problems: list[str]) -> dict[str, Any]:
    # States as salescli.notify defines them (no status column).
    pending, oldest_due = conn.execute(
        "SELECT count(*), min(next_attempt_at)"  # pragma: no mutate: by position; SQL case
        " FROM notifications WHERE sent_at IS NULL"
        " AND next_attempt_at IS NOT NULL"
        " AND coalesce(last_error, '') NOT LIKE 'suppressed:%'").fetchone()
    failed_24h = conn.execute(
        "SELECT count(*) FROM notifications WHERE sent_at IS NULL AND next_attempt_at IS NULL"
        " AND coalesce(last_error, '') NOT LIKE 'suppressed:%' AND created_at >= ?",
        (iso(now - DAY),)).fetchone()[0]
    overdue = _age(oldest_due, now)
    if pending > t.max_pending:
        problems.append(f"{pending} notifications pending (threshold {t.max_pending})")
    if overdue is not None and overdue > t.pending_max_age.total_seconds():
        problems.append(f"a notification has been due for {_human(overdue)}; is the notify "
                        "job running, can it reach the mail server?")
    if failed_24h > t.max_failed_notifications:
        problems.append(f"{failed_24h} notifications given up in the last 24 h; see "
                        "salescli notify --help")
    return {"pending": pending, "oldest_due_at": oldest_due, "given_up_24h": failed_24h}


def _database(path: Path, conn: sqlite3.Connection | None, t: Thresholds,
              problems: list[str]) -> dict[str, Any]:
    wal = Path(f"{path}-wal")
    info: dict[str, Any] = {
        "path": str(path),
        "size_bytes": path.stat().st_size if path.exists() else None,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "free_disk_bytes": shutil.disk_usage(path.resolve().parent).free
        if path.resolve().parent.exists() else None,
        "schema_version": None,
        "integrity": None,
        "credentials_integrity": None,
    }
    if info["free_disk_bytes"] is not None and info["free_disk_bytes"] < t.min_free_disk:
        problems.append(f"only {info['free_disk_bytes'] // 1024**2} MB free beside the "
                        f"database (threshold {t.min_free_disk // 1024**2} MB)")
    if info["wal_bytes"] > t.max_wal:
        problems.append(f"the WAL file is {info['wal_bytes'] // 1024**2} MB (threshold "
                        f"{t.max_wal // 1024**2} MB): a long-lived reader blocks checkpoints")
    if conn is None:
        return info
    try:
        info["schema_version"] = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        problems.append(f"cannot read {path}: {exc}")
        return info
    if info["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema version {info['schema_version']}, this salescli expects "
                        f"{SCHEMA_VERSION}")
    if t.integrity != "off":
        info["integrity"] = integrity(conn, t.integrity)
        if info["integrity"] != "ok":
            problems.append(f"integrity check of {path} failed: {info['integrity']}")
        cred = credentials_path(path)
        if cred.exists():
            try:
                cconn = _open_ro(cred)
                try:
                    info["credentials_integrity"] = integrity(cconn, t.integrity)
                finally:
                    cconn.close()
            except sqlite3.DatabaseError as exc:
                info["credentials_integrity"] = f"error: {exc}"
            if info["credentials_integrity"] != "ok":
                problems.append(f"integrity check of {cred} failed: "
                                f"{info['credentials_integrity']}")
    return info


def _replica(path: Path, t: Thresholds, now: datetime,
             problems: list[str]) -> list[dict[str, Any]] | None:
    """The replica's lag per database, when replication is set up (None otherwise)."""
    from salescli.ops import replication

    url = replication.replica_url()
    if url is None:
        return None
    rows = []
    for database in replication.databases(path):
        try:
            entry = replication.lag(database, url, now)
        except replication.ReplicationError as exc:
            problems.append(f"cannot read the replica of {database.name} at "
                            f"{replication.shown(url)}: {exc}")
            continue
        rows.append({**entry, "newest_at": iso(entry["newest_at"]) if entry["newest_at"]
                     else None, "last_commit_at": iso(entry["last_commit_at"])
                     if entry["last_commit_at"] else None})
        if entry["newest_at"] is None:
            problems.append(f"the replica {entry['replica']} holds nothing yet: is salescli "
                            "db replicate running?")
        elif entry["lag_s"] > t.replica_max_lag.total_seconds():
            problems.append(f"the replica of {database.name} is {_human(entry['lag_s'])} "
                            f"behind (threshold {_human(t.replica_max_lag.total_seconds())}); "
                            "is salescli db replicate running?")
    return rows


def check(path: str | os.PathLike | None = None, *, now: datetime | None = None,
          thresholds: Thresholds | None = None) -> dict[str, Any]:
    """Everything ``salescli health`` reports; unhealthy when ``problems`` is not empty."""
    path = db_path(path)
    now = now or datetime.now(UTC)
    t = thresholds or Thresholds.from_env()
    problems: list[str] = []
    report: dict[str, Any] = {"healthy": True, "checked_at": iso(now), "problems": problems,
                              "jobs": [], "mail": [], "quarantine": None,
                              "error_rate_24h": None, "notifications": None,
                              "replica": None}
    conn = None
    if not path.exists():
        problems.append(f"database {str(path)!r} does not exist; run: salescli init")
    else:
        try:
            conn = _open_ro(path)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            problems.append(f"cannot open {path}: {exc}")
            conn = None
    try:
        report["database"] = _database(path, conn, t, problems)
        if conn is not None and report["database"]["schema_version"]:
            for key, section in (("jobs", _jobs), ("error_rate_24h", _error_rate),
                                 ("mail", _mail), ("quarantine", _quarantine),
                                 ("notifications", _notifications)):
                try:
                    report[key] = section(conn, t, now, problems)
                except sqlite3.DatabaseError as exc:
                    problems.append(f"reading {key}: {exc}")
    finally:
        if conn is not None:
            conn.close()
    if path.exists():
        try:
            report["replica"] = _replica(path, t, now, problems)
        except InvalidValue as exc:
            problems.append(str(exc))
    report["thresholds"] = t.public()
    report["healthy"] = not problems
    return report
