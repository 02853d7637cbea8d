"""Writers take turns: a long job calling ``let_writers_in`` between its transactions lets
a writer that queued before it commit first, and does not wait for ever for one that is
stuck. The queued writer is a real process paused at the ``db.begin`` fail point (it has
said it waits to write, and has not begun its transaction)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from salescli.core import db
from tests.support.cli import ROOT, query

# One write transaction through db.transaction, then "done" on stdout.
WRITER = """
import sys
from salescli.core import db

conn = db.connect(sys.argv[1])
with db.transaction(conn):
    conn.execute("INSERT INTO t(n) VALUES (1)")
print("done")
"""


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "turns.db"
    c = db.connect(path, create=True)
    c.execute("CREATE TABLE t(n INTEGER)")
    c.close()
    return path


@pytest.fixture
def queued(table, tmp_path):
    """A writer process that has queued for its turn and is paused there; the fixture
    yields (process, flag): removing the flag lets it go on."""
    flag = tmp_path / "queued"
    env = {k: v for k, v in os.environ.items() if k != "SALESCLI_FAILPOINT"}
    env["SALESCLI_FAILPOINT"] = f"db.begin:1:pause={flag}"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(table)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180  # a hang guard only
        while not flag.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        yield proc, flag
    finally:
        flag.unlink(missing_ok=True)
        if proc.poll() is None:
            try:
                proc.wait(180)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _rows(path) -> list[int]:
    return [r["n"] for r in query(path, "SELECT n FROM t ORDER BY rowid")]


def test_a_long_job_lets_a_queued_writer_commit_before_going_on(table, queued, monkeypatch):
    """The job runs in another thread than the one that opened its connection (as the
    import's worker does): after let_writers_in returns, the queued writer's row is there."""
    monkeypatch.setattr(db, "LET_IN_MAX_S", 180.0)  # so only the writer's commit ends the wait
    proc, flag = queued
    job = db.connect(table)
    seen: list[object] = []
    first_done = threading.Event()

    def long_job() -> None:
        try:
            with db.transaction(job):
                job.execute("INSERT INTO t(n) VALUES (0)")
            first_done.set()
            db.let_writers_in(job)
            seen.append([r[0] for r in job.execute("SELECT n FROM t ORDER BY rowid")])
            with db.transaction(job):
                job.execute("INSERT INTO t(n) VALUES (2)")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            seen.append(exc)
        finally:
            first_done.set()

    worker = threading.Thread(target=long_job)
    try:
        worker.start()
        first_done.wait(180)
        flag.unlink()  # the queued writer goes on; the job, waiting for it, goes on after
        worker.join(180)
        assert not worker.is_alive()
        out, err = proc.communicate(timeout=180)
    finally:
        job.close()
    assert seen == [[0, 1]]
    assert (proc.returncode, out) == (0, "done\n"), err
    assert _rows(table) == [0, 1, 2]


def test_a_long_job_does_not_wait_for_ever_for_a_stuck_writer(table, queued, monkeypatch):
    """A writer that queued and then hangs before its transaction holds the job up for at
    most LET_IN_MAX_S; the job goes on, and so does the writer once it is released."""
    monkeypatch.setattr(db, "LET_IN_MAX_S", 0.05)
    proc, flag = queued
    job = db.connect(table)
    try:
        with db.transaction(job):
            job.execute("INSERT INTO t(n) VALUES (0)")
        db.let_writers_in(job)  # the writer stays paused: this returns after the wait
        assert proc.poll() is None and flag.exists()
        with db.transaction(job):
            job.execute("INSERT INTO t(n) VALUES (2)")
        assert _rows(table) == [0, 2]
    finally:
        job.close()
    flag.unlink()
    out, err = proc.communicate(timeout=180)
    assert (proc.returncode, out) == (0, "done\n"), err
    assert _rows(table) == [0, 2, 1]
