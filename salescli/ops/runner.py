"""The job runner every cron job shares: a lock, a job_runs row, one summary line.

The lock is an ``flock`` on a file beside the database, so the kernel releases
it when a run dies (even by SIGKILL): a stale lock recovers by itself. A
``running`` row left by such a run is marked failed by the next run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salescli.core.db import db_path, make_private_dirs, must_exist, open_write, transaction
from salescli.core.enums import JobStatus
from salescli.core.errors import InvalidValue, JobLocked
from salescli.core.timeutil import now

log = logging.getLogger("salescli.jobs")
_NAME_MAX = 255  # bytes in a file name (ext4, XFS, APFS)
# A lock name too long is cut: it keeps this much of the database's name, and this many hex
# digits of the whole name's hash tell apart names cut alike (any number that fits would do).
_LOCK_NAME_KEPT = _NAME_MAX // 2
_LOCK_DIGEST_CHARS = 16
_CREATES = frozenset({"scan"})  # jobs that may make the database (see run_job)


@dataclass
class JobRun:
    """A job in progress: add to ``counts``; the runner stores them when it ends."""

    job: str
    id: int
    conn: sqlite3.Connection
    db_file: Path
    counts: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def lock_path(db_file: Path, job: str) -> Path:
    """Where the lock for ``job`` lives (``SALESCLI_LOCK_DIR`` or beside the database).

    Named after the database; a name too long for one more suffix (255 bytes a file name)
    is cut, and told apart from others cut the same by a hash of the whole."""
    base = Path(os.environ.get("SALESCLI_LOCK_DIR") or db_file.resolve().parent)
    name = f".{db_file.name}.{job}.lock"
    if len(os.fsencode(name)) > _NAME_MAX:
        digest = hashlib.sha256(os.fsencode(db_file.name)).hexdigest()[:_LOCK_DIGEST_CHARS]
        cut = os.fsdecode(os.fsencode(db_file.name)[:_LOCK_NAME_KEPT])
        name = f".{cut}-{digest}.{job}.lock"
    return base / name


@contextmanager
def job_lock(db_file: Path, job: str) -> Iterator[None]:
    """Hold the job's lock or raise JobLocked at once (never wait behind another run)."""
    path = lock_path(db_file, job)
    try:
        make_private_dirs(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:  # e.g. SALESCLI_LOCK_DIR names a file
        where = "SALESCLI_LOCK_DIR" if os.environ.get("SALESCLI_LOCK_DIR") else "lock directory"
        raise InvalidValue(where, str(path.parent),
                           f"cannot hold the {job} lock ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise JobLocked(f"{job} is already running ({holder or 'pid unknown'})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


@contextmanager
def run_job(job: str, db_file: str | os.PathLike | None = None) -> Iterator[JobRun]:
    """Run ``job`` under its lock with a job_runs row; failures are recorded then re-raised.

    A job works on the data that is there: on a path where there is none (a mistyped
    SALESCLI_DB in cron, a new disk before its restore) it fails (SchemaError) rather than
    create an empty database, back it up or replicate it (the newest copy to restore from
    would be empty) and log "ok" every night. ``scan`` brings data in, like ``prospects
    add``: it creates the database on first use (on a wrong path it reads into a new one
    and the right one's checkpoints are untouched)."""
    path = db_path(db_file)
    if job not in _CREATES:
        must_exist(path)
    with job_lock(path, job):
        conn = open_write(path)
        try:
            with transaction(conn):
                conn.execute(
                    "UPDATE job_runs SET status = 'failed', finished_at = ?,"
                    " error = 'interrupted (the process died before finishing)'"
                    " WHERE job = ? AND status = 'running'", (now(), job))
                cur = conn.execute(
                    "INSERT INTO job_runs(job, started_at, status, host, pid)"
                    " VALUES (?, ?, 'running', ?, ?)",
                    (job, now(), socket.gethostname(), os.getpid()))
            run = JobRun(job=job, id=cur.lastrowid, conn=conn, db_file=path)
            try:
                yield run
            except BaseException as exc:
                _finish(run, JobStatus.FAILED, _describe(exc))
                log.error("%s failed after %.1fs: %s", job, time.monotonic() - run.started,
                          _describe(exc))
                raise
            _finish(run, JobStatus.OK, None)
            log.info("%s ok in %.1fs %s", job, time.monotonic() - run.started, summary(run.counts))
        finally:
            conn.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{type(exc).__name__}: {exc}" if not str(exc).startswith(type(exc).__name__) \
        else str(exc)


def _finish(run: JobRun, status: JobStatus, error: str | None) -> None:
    run.conn.rollback()  # what the job left open (a no-op when nothing is)
    with transaction(run.conn):
        run.conn.execute(
            "UPDATE job_runs SET finished_at = ?, status = ?, counts = ?, error = ? WHERE id = ?",
            (now(), status.value, json.dumps(run.counts, sort_keys=True, default=str), error,
             run.id))


def summary(counts: dict[str, Any]) -> str:
    """``key=value`` pairs for the one-line log summary."""
    return " ".join(f"{k}={v}" for k, v in counts.items() if not isinstance(v, dict | list))


def history(conn: sqlite3.Connection, job: str | None = None, limit: int = 20) -> list[dict]:
    """Recent job runs, newest first, counts decoded."""
    sql = "SELECT * FROM job_runs"
    params: list[Any] = []
    if job:
        sql += " WHERE job = ?"
        params.append(job)
    sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
    params.append(limit)
    rows = []
    for r in conn.execute(sql, params):
        d = dict(r)
        d["counts"] = json.loads(d["counts"]) if d["counts"] else {}
        rows.append(d)
    return rows
