"""Two real processes writing at once: no lost write, no "database is locked" for the user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import assert_fts_in_sync, ok, query, scalar

REPO = Path(__file__).resolve().parents[2]

# A writer the way the CLI writes: a fresh connection (open + migrate check) per operation.
WORKER = r'''
import json, sys, time
from pathlib import Path
from salescli.core import db
from salescli.pipeline import prospects, stages

path, who, n, mode, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
Path(go).with_name("ready-" + who).touch()  # started and imported: wait at the barrier
while not Path(go).exists():
    time.sleep(0.005)
names = ["contacted", "replied", "meeting", "proposal", "lead"]
for i in range(n):
    conn = db.open_write(path)
    try:
        if mode == "move":
            target = names[(i + (0 if who == "a" else 2)) % len(names)]
            moved = stages.move(conn, who, 1, target, note=f"{who}{i}")
            print(json.dumps({"to": target, "moved": moved}), flush=True)
        else:
            p = prospects.add(conn, who, f"{who}-{i}@example.com", tags=[who])
            print(json.dumps({"id": p["id"]}), flush=True)
    finally:
        conn.close()
'''


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_pair(tmp_path: Path, commands: list[list[str]], go: Path,
             ready: list[Path] = ()) -> list[subprocess.Popen]:
    """Start every command, wait until each has touched its ``ready`` file (it is then
    waiting for ``go``), release them together, wait; each must succeed quietly."""
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(), cwd=tmp_path) for cmd in commands]
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready):
            assert all(p.poll() is None for p in procs), "a worker died before the barrier"
            assert time.monotonic() < deadline, "workers never reached the barrier"
            time.sleep(0.005)
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err, err
        p.out = out  # type: ignore[attr-defined]
    return procs


def _ready(go: Path) -> list[Path]:
    return [go.with_name(f"ready-{who}") for who in ("a", "b")]


@pytest.fixture
def worker(tmp_path) -> Path:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    return script


def test_two_processes_moving_one_prospect_lose_nothing(tmp_path, worker, invoke, sales):
    ok(invoke("prospects", "add", "shared@example.com"))
    go = tmp_path / "go"
    n = 40
    procs = run_pair(tmp_path, [[sys.executable, str(worker), str(sales), who, str(n), "move",
                                 str(go)] for who in ("a", "b")], go, _ready(go))
    reports = [json.loads(line) for p in procs for line in p.out.splitlines()]
    assert len(reports) == 2 * n
    moved = sum(r["moved"] for r in reports)
    assert moved > n  # both really wrote

    changes = query(sales, "SELECT from_stage_id, to_stage_id, actor, note FROM stage_changes"
                           " WHERE prospect_id = 1 ORDER BY id")
    assert len(changes) == 1 + moved  # the creation plus every move that said it moved
    for prev, cur in zip(changes, changes[1:], strict=False):
        assert cur["from_stage_id"] == prev["to_stage_id"]  # an unbroken chain
        assert cur["from_stage_id"] != cur["to_stage_id"]
    final = scalar(sales, "SELECT stage_id FROM prospects WHERE id = 1")
    assert final == changes[-1]["to_stage_id"]
    assert {c["actor"] for c in changes[1:]} == {"a", "b"}
    assert scalar(sales, "SELECT count(*) FROM activities WHERE action = 'move'") == moved


def test_two_processes_adding_prospects_on_a_fresh_file(tmp_path, worker):
    target = tmp_path / "fresh.db"
    go = tmp_path / "go"
    n = 60
    run_pair(tmp_path, [[sys.executable, str(worker), str(target), who, str(n), "add",
                         str(go)] for who in ("a", "b")], go, _ready(go))
    assert scalar(target, "SELECT count(*) FROM prospects") == 2 * n
    assert scalar(target, "SELECT count(*) FROM stage_changes") == 2 * n
    assert scalar(target, "SELECT count(*) FROM activities WHERE action = 'create'") == 2 * n
    assert scalar(target, "SELECT count(*) FROM stages") == 7  # migrated exactly once
    assert scalar(target, "SELECT count(*) FROM prospect_tags WHERE tag = 'b'") == n
    assert scalar(target, "SELECT count(*) FROM prospects_fts WHERE prospects_fts MATCH 'a'") \
        == n
    assert_fts_in_sync(target)


SHELL_LOOP = r'''
i=0
while [ "$i" -lt "$N" ]; do
    for stage in $STAGES; do
        "$PY" -m salescli --as "$WHO" prospects move shared@example.com "$stage" || exit 1
    done
    i=$((i + 1))
done
'''


def test_two_cli_processes_moving_at_once(tmp_path, invoke, sales):
    """The real command line, two shells in parallel, each prints one line per move."""
    ok(invoke("prospects", "add", "shared@example.com"))
    go = tmp_path / "go"
    go.touch()
    loops = []
    for who, stages in (("a", "contacted meeting"), ("b", "replied proposal")):
        env = {"N": "3", "STAGES": stages, "WHO": who, "PY": sys.executable,
               "SALESCLI_DB": str(sales)}
        loops.append(["sh", "-c", "\n".join(f"{k}='{v}'" for k, v in env.items())
                      + "\nexport SALESCLI_DB\n" + SHELL_LOOP])
    procs = run_pair(tmp_path, loops, go)
    lines = [line for p in procs for line in p.out.splitlines()]
    assert len(lines) == 12
    moved = sum("→" in line for line in lines)
    assert moved + sum("already in" in line for line in lines) == 12
    assert scalar(sales, "SELECT count(*) FROM stage_changes") == 1 + moved
    assert scalar(sales, "SELECT count(*) FROM activities WHERE action = 'move'") == moved


def test_opening_a_new_file_waits_for_another_process_switching_it_to_wal(tmp_path):
    """SQLite refuses ``journal_mode = WAL`` at once (no busy handler) while another
    connection holds a lock: opening must wait for the lock, not fail."""
    import sqlite3
    import threading

    from salescli.core import db

    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t(x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    try:
        conn = db.open_write(path)
    finally:
        release.join()
        other.close()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM stages").fetchone()[0] == 7
    conn.close()
