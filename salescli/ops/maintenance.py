"""Keeping the database fast and small: optimize, and retention for bookkeeping tables.

``cleanup`` only ever deletes rows of job_runs, notifications and mail_quarantine
(never prospects, interactions, stage history or the audit log), and the web
sign-in log in the credentials database, in short transactions so that cron jobs
writing meanwhile wait no longer than a moment.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from salescli.core.db import connect, credentials_path, transaction
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso

DEFAULT_RETENTION_DAYS = 90
BATCH = 2000
# VACUUM only when at least this share of the file is free pages, and at least 4 MiB.
VACUUM_MIN_FREE_RATIO = 0.2
VACUUM_MIN_FREE_BYTES = 4 * 1024**2
# The tables cleanup may touch; anything else is out of its reach by construction.
RETAINED_TABLES = ("job_runs", "notifications", "mail_quarantine")
# In credentials.db: the web sign-in log (every attempt, good or bad, with the address).
SIGNIN_TABLE = "signin_log"
MAX_RETENTION_DAYS = 36500  # a hundred years: older than anything the database holds


def retention_days(value: int | None = None) -> int:
    """``--older-than`` if given, else ``SALESCLI_RETENTION_DAYS``, else 90."""
    if value is None:
        raw = os.environ.get("SALESCLI_RETENTION_DAYS", "").strip()
        if not raw:
            return DEFAULT_RETENTION_DAYS
        if not (raw.isascii() and raw.isdigit()):
            raise InvalidValue("SALESCLI_RETENTION_DAYS", raw, "must be a whole number of days")
        value = int(raw)
    if value < 0:
        raise InvalidValue("--older-than", value, "must be zero or more days")
    return min(value, MAX_RETENTION_DAYS)  # beyond it nothing is old enough to delete


# Rows each table may lose: the WHERE clauses, given the cutoff as :cutoff.
_RULES: dict[str, str] = {
    # Finished runs, except the newest run and the newest success of each job
    # (health reports "last run" and "last success" however long ago they were).
    "job_runs": """
        status != 'running' AND started_at < :cutoff
        AND id NOT IN (SELECT max(id) FROM job_runs GROUP BY job)
        AND id NOT IN (SELECT max(id) FROM job_runs WHERE status = 'ok' GROUP BY job)""",
    # Sent, or given up / suppressed (no next attempt); never one still pending.
    "notifications": """
        ((sent_at IS NOT NULL AND sent_at < :cutoff)
         OR (sent_at IS NULL AND next_attempt_at IS NULL AND created_at < :cutoff))""",
    "mail_quarantine": "created_at < :cutoff",
}


def _delete_batches(conn: sqlite3.Connection, table: str, where: str, cutoff: str) -> int:
    total = 0
    while True:  # short transactions: writers never wait behind a big delete
        with transaction(conn):
            n = conn.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where}"
                f" LIMIT {BATCH})", {"cutoff": cutoff}).rowcount
        total += n
        if n < BATCH:
            return total


def cleanup(conn: sqlite3.Connection, older_than_days: int | None = None, *,
            now: datetime | None = None, dry_run: bool = False,
            db_file: str | os.PathLike | None = None) -> dict[str, int]:
    """Delete bookkeeping rows older than the retention; returns rows deleted per table.

    With ``db_file`` (the sales database), the sign-in log of the credentials database
    beside it is pruned with the same retention.
    """
    days = retention_days(older_than_days)
    cutoff = iso((now or datetime.now(UTC)) - timedelta(days=days))
    deleted: dict[str, int] = {}
    for table in RETAINED_TABLES:
        where = _RULES[table]
        if dry_run:
            deleted[table] = conn.execute(
                f"SELECT count(*) FROM {table} WHERE {where}", {"cutoff": cutoff}).fetchone()[0]
        else:
            deleted[table] = _delete_batches(conn, table, where, cutoff)
    if db_file is not None:
        n = _cleanup_signins(Path(db_file), cutoff, dry_run)
        if n is not None:
            deleted[SIGNIN_TABLE] = n
    return deleted


def _cleanup_signins(db_file: Path, cutoff: str, dry_run: bool) -> int | None:
    """Sign-in log rows older than ``cutoff``; None when there is no credentials database."""
    path = credentials_path(db_file)
    if not path.exists():
        return None
    creds = connect(path)
    try:
        if not creds.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                             (SIGNIN_TABLE,)).fetchone():
            return None
        if dry_run:
            return creds.execute(f"SELECT count(*) FROM {SIGNIN_TABLE} WHERE at < :cutoff",
                                 {"cutoff": cutoff}).fetchone()[0]
        return _delete_batches(creds, SIGNIN_TABLE, "at < :cutoff", cutoff)
    finally:
        creds.close()


def _stats(conn: sqlite3.Connection) -> tuple[int, int, int]:
    sql = "SELECT * FROM pragma_page_size(), pragma_page_count(), pragma_freelist_count()"
    return conn.execute(sql).fetchone()


def vacuum_worthwhile(conn: sqlite3.Connection) -> bool:
    """True when enough of the file is free pages that VACUUM will give space back."""
    page_size, pages, free = _stats(conn)
    return pages > 0 and free / pages >= VACUUM_MIN_FREE_RATIO \
        and free * page_size >= VACUUM_MIN_FREE_BYTES


def optimize(conn: sqlite3.Connection, db_file: str | os.PathLike, *,
             vacuum: bool | None = None) -> dict[str, Any]:
    """ANALYZE, merge the FTS index, ``PRAGMA optimize``, VACUUM if worthwhile (or forced).

    VACUUM needs room for a second copy; it is skipped, with the reason, when the
    disk has less free space than the database.
    """
    page_size, pages, free = _stats(conn)
    before = pages * page_size
    done: dict[str, Any] = {"size_before": before, "free_pages": free}
    conn.execute("ANALYZE")
    done["analyzed"] = True
    with transaction(conn):
        conn.execute("INSERT INTO prospects_fts(prospects_fts) VALUES ('optimize')")
    done["fts_optimized"] = True
    conn.execute("PRAGMA optimize")
    want = vacuum_worthwhile(conn) if vacuum is None else vacuum
    done["vacuumed"] = False
    if want:
        room = shutil.disk_usage(Path(db_file).resolve().parent).free
        if room < before * 1.1:  # pragma: no mutate (<=: one byte of free disk apart)
            done["vacuum_skipped"] = f"only {room // 1024**2} MB free, VACUUM needs " \
                                     f"about {before // 1024**2} MB"
        else:
            conn.execute("VACUUM")
            done["vacuumed"] = True
    # A VACUUM (and ANALYZE on a big file) goes through the WAL: give that space back too.
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError:
        pass
    page_size, pages, free = _stats(conn)
    done["size_after"] = pages * page_size
    return done
