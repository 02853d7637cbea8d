"""Helpers for the operations tests: job rows, damage to real files, commands as cron runs them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from salescli.core.timeutil import iso

HERE = Path(__file__).parent


def ago(**kw) -> str:
    """An ISO UTC timestamp ``kw`` (timedelta arguments) in the past."""
    return iso(datetime.now(UTC) - timedelta(**kw))


def add_run(conn: sqlite3.Connection, job: str, status: str, *, started: str | None = None,
            finished: str | None = None, error: str | None = None) -> int:
    """A job_runs row as the runner writes it."""
    started = started or ago(seconds=5)
    cur = conn.execute(
        "INSERT INTO job_runs(job, started_at, finished_at, status, counts, error)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (job, started, finished or (None if status == "running" else started), status,
         json.dumps({}), error))
    return cur.lastrowid


def corrupt(path: Path, table: str) -> int:
    """Overwrite a b-tree page of ``table`` in the file with garbage; returns the page number.

    The WAL is checkpointed first so the page lives in the main file.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in conn.execute(
        "SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno", (table,))]
    conn.close()
    victim = pages[len(pages) // 2]
    with open(path, "r+b") as fh:
        fh.seek((victim - 1) * page_size + 8)
        fh.write(b"\xde\xad\xbe\xef" * ((page_size - 16) // 4))
    return victim


def salescli_env(**extra: str) -> dict[str, str]:
    """The test's environment (already isolated by the autouse fixture) plus ``extra``."""
    env = {k: v for k, v in os.environ.items()}
    env.update(extra)
    return env


def run_cmd(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            **kw) -> subprocess.CompletedProcess:
    """Run a command as cron would: a separate process, output captured."""
    return subprocess.run([str(a) for a in args], env=env or salescli_env(),
                          capture_output=True, text=True, timeout=timeout, **kw)


def salescli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """``salescli ARGS`` in a subprocess."""
    return run_cmd(sys.executable, "-m", "salescli", *args, env=env, **kw)


def job(name: str, *args: str, env: dict[str, str] | None = None,
        **kw) -> subprocess.CompletedProcess:
    """``python -m salescli.jobs.NAME`` in a subprocess."""
    return run_cmd(sys.executable, "-m", f"salescli.jobs.{name}", *args, env=env, **kw)
