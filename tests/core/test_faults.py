"""``SALESCLI_FAILPOINT`` at the core's own fail point, ``db.begin`` (the start of every write
transaction): a process that writes three rows, one transaction each, is killed, paused or
told to go on exactly where the variable says, and keeps exactly the rows committed before.
The fault tests of the scan and the sender rely on each of these behaviours."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.support.cli import ROOT

# Three write transactions through db.transaction, one row each, then "done" on stdout.
WRITER = """
import sys
from salescli.core import db

conn = db.connect(sys.argv[1])
for i in range(3):
    with db.transaction(conn):
        conn.execute("INSERT INTO t(n) VALUES (?)", (i,))
print("done")
"""


@pytest.fixture
def table(tmp_path):
    from tests.support.cli import connect

    path = tmp_path / "faults.db"
    c = connect(path)
    c.execute("CREATE TABLE t(n INTEGER)")
    c.close()
    return path


def _start(path, failpoint: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "SALESCLI_FAILPOINT"}
    if failpoint is not None:
        env["SALESCLI_FAILPOINT"] = failpoint
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(path, failpoint: str | None) -> tuple[int, str, str]:
    proc = _start(path, failpoint)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _rows(path) -> list[int]:
    from tests.support.cli import query

    return [r["n"] for r in query(path, "SELECT n FROM t ORDER BY n")]


@pytest.mark.parametrize("spec, kept", [
    ("db.begin", []),            # the default: the first pass, SIGKILL
    ("db.begin:1", []),
    ("db.begin::kill", []),      # an empty count is the first pass
    ("db.begin:2", [0]),         # the second transaction never begins
    ("db.begin:3:kill", [0, 1]),
])
def test_the_nth_write_is_killed_and_the_earlier_ones_are_kept(table, spec, kept):
    code, out, err = _run(table, spec)
    assert code == -9, err
    assert out == ""
    assert _rows(table) == kept


@pytest.mark.parametrize("spec", [
    None, "", "db.begin:4",          # unset, empty, or a pass that never comes
    "db.beginning", "db.begin.x:1",  # another point whose name starts the same
    "db", "scan.fetch:1",            # a point that is not this one
])
def test_other_points_and_passes_let_every_write_through(table, spec):
    code, out, err = _run(table, spec)
    assert (code, out) == (0, "done\n"), err
    assert _rows(table) == [0, 1, 2]


def test_touch_says_the_pass_was_reached_and_goes_on(table, tmp_path):
    flag = tmp_path / "reached:2"  # the action is everything after the second colon
    code, out, err = _run(table, f"db.begin:2:touch={flag}")
    assert (code, out) == (0, "done\n"), err
    assert _rows(table) == [0, 1, 2]
    assert flag.read_text().isdigit()  # the writer's pid


def test_pause_waits_until_the_flag_is_removed(table, tmp_path):
    flag = tmp_path / "paused"
    proc = _start(table, f"db.begin:2:pause={flag}")
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert flag.read_text() == str(proc.pid)
        # paused before its second transaction, the first one committed
        assert proc.poll() is None
        assert _rows(table) == [0]
        flag.unlink()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out) == (0, "done\n"), err
    assert _rows(table) == [0, 1, 2]


def test_a_misspelt_action_is_an_error_not_a_kill(table):
    code, out, err = _run(table, "db.begin:1:paus=/tmp/x")
    assert code == 1 and out == ""
    assert ("SALESCLI_FAILPOINT 'db.begin:1:paus=/tmp/x': the action must be kill, "
            "pause=FILE or touch=FILE") in err
    assert _rows(table) == []
