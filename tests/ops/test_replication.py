"""Continuous replication with the real Litestream binary, to a file replica.

Nothing here sleeps for a fixed time: the tests poll the replica (or a log the writer
keeps) until the condition they need holds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salescli.core.schema import SCHEMA_VERSION
from salescli.mail import sample
from salescli.ops import health, replication
from tests.support.cli import fails, ok

HERE = Path(__file__).parent
SYNC = 1.0  # seconds: SALESCLI_REPLICA_SYNC_INTERVAL in these tests
PASSWORD = "correct horse battery\n"


@pytest.fixture(autouse=True)
def _sync_interval(monkeypatch):
    monkeypatch.setenv("SALESCLI_REPLICA_SYNC_INTERVAL", f"{int(SYNC)}s")


def wait_until(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def salescli(*args: str, input: str | None = None,
             env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "salescli", *map(str, args)], input=input,
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr
    return r


def start_replicator(procs, tmp_path: Path, url: str) -> tuple[subprocess.Popen, int, Path]:
    """``salescli db replicate`` as its own process; returns it, Litestream's pid, its log."""
    log = tmp_path / f"replicate-{time.monotonic_ns()}.log"
    fh = open(log, "w")  # noqa: SIM115 - the child writes to it
    proc = procs(sys.executable, "-m", "salescli", "db", "replicate", "--to", url,
                 stdout=subprocess.DEVNULL, stderr=fh)
    fh.close()

    def pid():
        m = re.search(r"litestream pid (\d+)", log.read_text())
        return int(m.group(1)) if m else None

    ls_pid = wait_until(pid, 30, "the replicator to start")
    return proc, ls_pid, log


def position(url: str, db: Path) -> str | None:
    return replication.replica_position(url, db)["txid"]


def in_step(url: str, db: Path) -> bool:
    """The replica holds the database's newest commit (compared by content, not clocks)."""
    tmp = db.parent / f".probe-{time.monotonic_ns()}.db"
    try:
        replication.litestream("restore", "-o", str(tmp), replication.replica_of(url, db))
        live = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        copy = sqlite3.connect(tmp)
        try:
            q = "SELECT count(*), coalesce(max(id), 0) FROM activities" if db.name == "sales.db" \
                else "SELECT count(*) FROM passwords"
            return live.execute(q).fetchone() == copy.execute(q).fetchone()
        finally:
            live.close()
            copy.close()
    except replication.ReplicationError:
        return False
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)


def kill9(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_kill_minus_9_mid_write_loses_nothing_older_than_one_sync_interval(
        tmp_path, procs, db_file):
    url = f"file://{tmp_path / 'replica'}"
    salescli("init")
    salescli("users", "add", "ada", "--role", "admin", "--password-stdin", input=PASSWORD)
    people = [{"email": f"p{i}@mail.example", "name": f"Person {i}", "company": f"Co {i}"}
              for i in range(120)]
    maildir = tmp_path / "Maildir"
    n_messages = sample.write_sample_maildir(maildir, people, "me@ours.example")

    replicator, ls_pid, log = start_replicator(procs, tmp_path, url)
    cred = db_file.with_name("credentials.db")
    wait_until(lambda: position(url, db_file) and position(url, cred), 60,
               "both databases in the replica")

    writes = tmp_path / "writes.log"
    writer = procs(sys.executable, str(HERE / "replica_writer.py"), str(writes),
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    scan = subprocess.run([sys.executable, "-m", "salescli", "scan", "--source",
                           f"maildir:{maildir}", "--create-unknown"], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "SALESCLI_MY_ADDRESSES": "me@ours.example"})
    assert scan.returncode == 0, scan.stderr
    scanned_at = time.time()
    salescli("users", "add", "bob", "--role", "analyst", "--password-stdin", input=PASSWORD)
    bob_at = time.time()

    def commits() -> list[tuple[str, float]]:
        return [(e, float(t)) for e, t in
                (line.split() for line in writes.read_text().splitlines() if " " in line)]

    # Keep writing until commits stand well after the scan and the new user.
    wait_until(lambda: writes.exists() and any(t > max(scanned_at, bob_at) + 2 * SYNC
                                               for _, t in commits()), 120, "more writes")
    assert writer.poll() is None, writer.stderr.read()
    killed_at = time.time()
    for pid in (ls_pid, writer.pid, replicator.pid):
        kill9(pid)
    writer.wait()
    replicator.wait()
    wait_until(lambda: not Path(f"/proc/{ls_pid}").exists()
               or "zombie" in Path(f"/proc/{ls_pid}/status").read_text().lower()
               or " Z " in Path(f"/proc/{ls_pid}/stat").read_text(), 10, "litestream to die")

    live = sqlite3.connect(db_file)
    live_interactions = live.execute("SELECT count(*) FROM interactions").fetchone()[0]
    live.close()
    assert live_interactions > 0

    out = tmp_path / "restored"
    r = salescli("db", "restore", "--from-replica", url, "--output", out)
    assert "restored the sales database" in r.stdout
    assert "restored the credentials database" in r.stdout
    restored = sqlite3.connect(out / "sales.db")
    assert restored.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert restored.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    have = {r[0] for r in restored.execute("SELECT email FROM prospects")}
    due = [e for e, t in commits() if t < killed_at - SYNC]
    assert len(due) > 10
    missing = [e for e in due if e not in have]
    times = dict(commits())
    assert missing == [], (f"{len(missing)} of {len(due)} commits lost, the oldest committed "
                           f"{killed_at - times[missing[0]]:.2f}s before the kill")
    # The scan finished more than one sync interval before the kill: all of it is there.
    assert restored.execute("SELECT count(*) FROM interactions").fetchone()[0] \
        == live_interactions
    assert n_messages > 100
    restored.close()
    creds = sqlite3.connect(out / "credentials.db")
    assert creds.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert {r[0] for r in creds.execute("SELECT username FROM passwords")} == {"ada", "bob"}
    creds.close()
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {"0o600"}

    # salescli works on the restored files; the killed replicator's run is closed.
    env = {"SALESCLI_DB": str(out / "sales.db")}
    shown = json.loads(salescli("prospects", "show", due[-1], "--format", "json",
                                env=env).stdout)
    assert shown["email"] == due[-1]
    users = salescli("users", "list", "--format", "json", env=env).stdout
    assert {u["username"] for u in json.loads(users)} >= {"ada", "bob"}
    history = json.loads(salescli("jobs", "history", "--job", "replicate", "--format", "json",
                                  env=env).stdout)
    assert history[0]["status"] == "failed" and "restored from a replica" in history[0]["error"]
    salescli("prospects", "add", "after@restore.example", env=env)


def test_point_in_time_restore_brings_back_a_forgotten_prospect(tmp_path, procs, db_file,
                                                                 invoke):
    url = f"file://{tmp_path / 'replica'}"
    ok(invoke("init"))
    ok(invoke("prospects", "add", "gone@example.com", "--name", "Forgotten Person"))
    ok(invoke("log", "gone@example.com", "--kind", "call", "--body", "private detail"))
    replicator, _, log = start_replicator(procs, tmp_path, url)
    wait_until(lambda: in_step(url, db_file), 60, "the prospect in the replica")
    before = datetime.now(UTC)
    txid = position(url, db_file)

    # Litestream holds a read snapshot while it runs: forget says its WAL keeps the
    # erased pages until the next checkpoint, instead of waiting for it.
    forgot = invoke("prospects", "forget", "gone@example.com", "--yes")
    ok(forgot)
    assert "erased pages leave its write-ahead log at the next checkpoint" in forgot.stderr
    wait_until(lambda: position(url, db_file) > txid and in_step(url, db_file), 60,
               "the erasure in the replica")

    latest = tmp_path / "latest"
    ok(invoke("db", "restore", "--from-replica", url, "--output", latest))
    fails(invoke("--db", latest / "sales.db", "prospects", "show", "gone@example.com"),
          "not found")
    # The replicator was running when the replica was taken: in the copy its run is over.
    (run,) = json.loads(ok(invoke("--db", latest / "sales.db", "jobs", "history", "--job",
                                  "replicate", "--format", "json")))
    assert (run["status"], run["error"]) == (
        "failed", "unknown: the database was restored from a replica taken while this run"
        " was going")

    then = tmp_path / "then"
    ok(invoke("db", "restore", "--from-replica", url, "--output", then,
              "--timestamp", before.isoformat()))
    back = json.loads(ok(invoke("--db", then / "sales.db", "prospects", "show",
                                "gone@example.com", "--format", "json")))
    assert back["name"] == "Forgotten Person"
    assert any("private detail" in json.dumps(e) for e in back["timeline"])

    # A program using that copy died (-9) with its WAL and WAL index beside it.
    subprocess.run([sys.executable, "-c", "import os, sqlite3, sys; c = sqlite3.connect("
                    "sys.argv[1], isolation_level=None); c.execute('PRAGMA journal_mode = WAL');"
                    " c.execute('CREATE TABLE stale(x)'); os._exit(0)", latest / "sales.db"],
                   check=True, timeout=60)
    stale = [latest / "sales.db-wal", latest / "sales.db-shm"]
    assert all(p.exists() for p in stale)
    # --force over an earlier restore elsewhere replaces that copy, never the live files,
    # and leaves nothing of the old file's WAL to be replayed onto the new one.
    ok(invoke("db", "restore", "--from-replica", url, "--output", latest, "--force",
              "--timestamp", before.isoformat()))
    assert [p for p in stale if p.exists()] == []
    ok(invoke("--db", latest / "sales.db", "prospects", "show", "gone@example.com"))
    fails(invoke("prospects", "show", "gone@example.com"), "not found")
    assert not list(db_file.parent.glob("sales.db.before-restore-*"))

    # SIGTERM stops the service cleanly: Litestream ships what it has, the run is ok.
    replicator.send_signal(signal.SIGTERM)
    assert replicator.wait(timeout=60) == 0, log.read_text()
    conn = sqlite3.connect(db_file)
    status = conn.execute("SELECT status FROM job_runs WHERE job = 'replicate'").fetchone()[0]
    conn.close()
    assert status == "ok"


def test_health_reports_the_replica_lag_and_fails_past_the_threshold(
        tmp_path, procs, db_file, invoke, monkeypatch):
    url = f"file://{tmp_path / 'replica'}"
    ok(invoke("init"))
    monkeypatch.setenv("SALESCLI_REPLICA_URL", url)
    report = health.check(db_file)
    assert any("holds nothing yet" in p for p in report["problems"])

    replicator, ls_pid, _ = start_replicator(procs, tmp_path, url)
    ok(invoke("prospects", "add", "a@example.com"))
    # Commits until Litestream's transaction ids need two hex digits (its file names).
    for n in range(100):
        txid = replication.local_position(db_file)["txid"] or 0
        if txid > 0x10:
            break
        ok(invoke("prospects", "add", f"c{n}@example.com"))
        wait_until(lambda t=txid: (replication.local_position(db_file)["txid"] or 0) > t, 30,
                   "Litestream to take the commit")
    wait_until(lambda: in_step(url, db_file), 60, "the replica to catch up")

    # In step: no lag however late it is asked.
    later = datetime.now(UTC) + timedelta(hours=3)

    def sales_entry(now):
        report = health.check(db_file, now=now)
        (sales,) = [r for r in report["replica"] if r["database"].endswith("sales.db")]
        return report, sales

    wait_until(lambda: sales_entry(later)[1]["lag_s"] == 0, 30, "lag 0")
    # The last commit and Litestream's capture of it in one tick of the (coarse) file clock:
    # still in step.
    level0 = db_file.parent / f".{db_file.name}-litestream" / "ltx" / "0"
    newest_ltx = max(level0.glob("*.ltx"), key=lambda p: int(p.stem.split("-")[-1], 16))
    wal = db_file.with_name("sales.db-wal")
    os.utime(wal, ns=(wal.stat().st_atime_ns, newest_ltx.stat().st_mtime_ns))
    assert sales_entry(later)[1]["lag_s"] == 0

    # A copy of the database that no replicator runs beside (another machine, a restored
    # file) has nothing of Litestream's next to it: its lag is the replica's age.
    copy = tmp_path / "elsewhere" / "sales.db"
    copy.parent.mkdir()
    src, dst = sqlite3.connect(db_file), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    (elsewhere,) = [r for r in health.check(copy, now=later)["replica"]
                    if r["database"].endswith("sales.db")]
    newest = replication.parse_time(elsewhere["newest_at"])
    assert elsewhere["lag_s"] == int((later - newest).total_seconds()) > 3 * 3600 - 60

    # Litestream dies; then a commit it never ships: the replica falls behind, counted
    # from its newest file.
    kill9(ls_pid)
    assert replicator.wait(timeout=60) == 1
    ok(invoke("prospects", "add", "b@example.com"))
    _, sales = sales_entry(later)
    newest = replication.parse_time(sales["newest_at"])
    for minutes, unhealthy in ((4, False), (6, True)):
        report, sales = sales_entry(newest + timedelta(minutes=minutes))
        assert sales["lag_s"] == minutes * 60
        assert any("sales.db is" in p and "behind" in p for p in report["problems"]) \
            is unhealthy
    monkeypatch.setenv("SALESCLI_HEALTH_REPLICA_MAX_LAG", "10m")
    report = health.check(db_file, now=newest + timedelta(minutes=6))
    assert not [p for p in report["problems"] if "behind" in p]

    # The command: exit 1 and the line, or the table and exit 0.
    monkeypatch.setenv("SALESCLI_HEALTH_REPLICA_MAX_LAG", "1s")
    result = wait_until(lambda: (r := invoke("health")).exit_code == 1
                        and "sales.db is" in r.stdout and r, 30, "health to see the lag")
    assert "behind (threshold 1s)" in result.stdout
    assert json.loads(invoke("health", "--format", "json").stdout)["replica"][0]["lag_s"] > 1
    monkeypatch.setenv("SALESCLI_HEALTH_REPLICA_MAX_LAG", "bad")
    fails(invoke("health"), "SALESCLI_HEALTH_REPLICA_MAX_LAG", "'bad'")


def test_restore_refuses_a_database_from_a_newer_salescli(tmp_path, procs, db_file, invoke):
    url = f"file://{tmp_path / 'replica'}"
    ok(invoke("init"))
    replicator, _, _ = start_replicator(procs, tmp_path, url)
    conn = sqlite3.connect(db_file, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()

    def shipped() -> bool:
        probe = tmp_path / f"probe-{time.monotonic_ns()}.db"
        try:
            replication.litestream("restore", "-o", str(probe), f"{url}/sales.db")
        except replication.ReplicationError:
            return False  # nothing shipped yet
        c = sqlite3.connect(probe)
        version = c.execute("PRAGMA user_version").fetchone()[0]
        c.close()
        return version == SCHEMA_VERSION + 1

    wait_until(shipped, 60, "the new version in the replica")
    out = tmp_path / "out"
    fails(invoke("db", "restore", "--from-replica", url, "--output", out), "newer")
    assert not (out / "sales.db").exists()


def test_restore_and_replicate_errors_are_one_line(tmp_path, invoke, db_file):
    fails(invoke("db", "replicate", "--to", tmp_path / "r"), "does not exist", "salescli init")
    assert not db_file.exists()
    ok(invoke("init"))
    empty = f"file://{tmp_path / 'empty'}"
    fails(invoke("db", "restore", "--from-replica", empty, "--output", tmp_path / "o"),
          "sales.db", empty)
    fails(invoke("db", "restore", "--from-replica", "not a url"), "--from-replica",
          "'not a url'")
    fails(invoke("db", "replicate", "--to", "s3://"), "--to")
    fails(invoke("db", "replicate"), "SALESCLI_REPLICA_URL", code=2)
    fails(invoke("db", "restore", "x.db", "--from-replica", empty), "not both", code=2)
    fails(invoke("db", "restore", "--from-replica", empty, "--timestamp", "yesterday-ish"),
          "--timestamp", "'yesterday-ish'")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "sales.db").write_text("")
    fails(invoke("db", "restore", "--from-replica", empty, "--output", tmp_path / "full"),
          "exists", "--force")
    assert (tmp_path / "full" / "sales.db").read_text() == ""


def test_replica_url_from_the_config_file(tmp_path, monkeypatch):
    config = tmp_path / "salescli.toml"
    config.write_text('[replication]\nurl = "/srv/replica"\nsync_interval = "10s"\n')
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    monkeypatch.delenv("SALESCLI_REPLICA_SYNC_INTERVAL")
    assert replication.replica_url() == "file:///srv/replica"
    assert replication.sync_interval() == "10s"
    monkeypatch.setenv("SALESCLI_REPLICA_SYNC_INTERVAL", "3s")
    assert replication.sync_interval() == "3s"
    monkeypatch.setenv("SALESCLI_REPLICA_URL", "s3://bucket/team")
    assert replication.replica_url() == "s3://bucket/team"
    assert replication.replica_url("sftp://host/backups/") == "sftp://host/backups"
    assert replication.retention() == timedelta(hours=24)
    monkeypatch.setenv("SALESCLI_REPLICA_RETENTION", "7d")
    assert replication.retention() == timedelta(days=7)
    monkeypatch.setenv("SALESCLI_REPLICA_RETENTION", "10m")
    with pytest.raises(replication.InvalidValue, match="SALESCLI_REPLICA_RETENTION"):
        replication.retention()
    assert replication.litestream_intervals("1s") == ("250ms", "500ms")
    assert replication.litestream_intervals("10s") == ("1000ms", "5000ms")


def test_the_generated_config_holds_no_url_or_secret(tmp_path):
    secret_url = "sftp://backup:s3cret-pass@host.example/salescli"
    path, env = replication.write_config(tmp_path, [tmp_path / "sales.db"], secret_url, "1s")
    text = path.read_text()
    assert "retention: 86400s" in text
    assert "s3cret" not in text and "host.example" not in text and str(tmp_path) not in text
    assert env["_REPLICATE_URL_0"] == f"{secret_url}/sales.db"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_systemd_unit_runs_the_replicate_command(invoke):
    unit = (HERE.parents[1] / "salescli-replicate.service.example").read_text()
    settings = dict(line.split("=", 1) for line in unit.splitlines()
                    if "=" in line and not line.startswith("#"))
    program, *args = settings["ExecStart"].split()
    assert program.endswith("/bin/salescli") and args == ["db", "replicate"]
    ok(invoke(*args, "--help"))
    assert settings["UMask"] == "0077" and settings["KillSignal"] == "SIGTERM"
    assert "Restart" in settings and "EnvironmentFile" in settings
    assert not re.search(r"(?i)(secret|password|access_key)\s*=", unit)


def test_a_restarted_replicator_is_judged_by_its_live_run(ops_conn, db_file):
    from tests.ops.helpers import add_run, ago

    add_run(ops_conn, "replicate", "failed", started=ago(hours=4), error="litestream died")
    problems = health.check(db_file)["problems"]
    assert any("job replicate failed" in p for p in problems)
    run = add_run(ops_conn, "replicate", "running", started=ago(hours=3))
    ops_conn.execute("UPDATE job_runs SET pid = ?, host = ? WHERE id = ?",
                     (os.getpid(), __import__("socket").gethostname(), run))
    problems = health.check(db_file)["problems"]
    assert not [p for p in problems if "replicate" in p], problems  # 3 h running is fine
    ops_conn.execute("UPDATE job_runs SET pid = 999999999 WHERE id = ?", (run,))
    problems = health.check(db_file)["problems"]
    assert any("job replicate died while running" in p for p in problems)
    assert any("job replicate failed" in p for p in problems)


def test_restore_over_the_live_files_only_with_force_keeping_them(tmp_path, procs, db_file,
                                                                   invoke):
    url = f"file://{tmp_path / 'replica'}"
    ok(invoke("init"))
    ok(invoke("users", "add", "ada", "--role", "admin", "--password-stdin", input=PASSWORD))
    ok(invoke("prospects", "add", "kept@example.com"))
    replicator, _, _ = start_replicator(procs, tmp_path, url)
    cred = db_file.with_name("credentials.db")
    wait_until(lambda: in_step(url, db_file) and in_step(url, cred), 60, "the replica")
    replicator.send_signal(signal.SIGTERM)
    assert replicator.wait(timeout=60) == 0
    ok(invoke("prospects", "add", "mistake@example.com"))

    fails(invoke("db", "restore", "--from-replica", url, "--output", tmp_path), "exists",
          "--force")
    ok(invoke("prospects", "show", "mistake@example.com"))
    out = ok(invoke("db", "restore", "--from-replica", url, "--output", tmp_path, "--force"))
    assert "restored the sales database" in out and "credentials" in out
    fails(invoke("prospects", "show", "mistake@example.com"), "not found")
    ok(invoke("prospects", "show", "kept@example.com"))
    saved = list(tmp_path.glob("sales.db.before-restore-*"))
    assert len(saved) == 1
    old = sqlite3.connect(saved[0])
    assert old.execute("SELECT count(*) FROM prospects WHERE email = 'mistake@example.com'"
                       ).fetchone()[0] == 1
    old.close()
    assert not list(tmp_path.glob(".restore-*"))
    # Into another directory: the credentials come back there too, beside that sales.db.
    elsewhere = tmp_path / "elsewhere"
    out = ok(invoke("db", "restore", "--from-replica", url, "--output", elsewhere))
    assert f"restored the credentials database {elsewhere / 'credentials.db'} from" in out
    creds = sqlite3.connect(elsewhere / "credentials.db")
    assert creds.execute("SELECT username FROM passwords").fetchall() == [("ada",)]
    creds.close()
