"""Backups while jobs write, restores that refuse what they must, retention of generations."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from salescli.core import db
from salescli.ops import backup
from salescli.web import users
from tests.ops.helpers import corrupt, salescli

WRITER = Path(__file__).with_name("writer_proc.py")


def emails(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return sorted(int(r[0][1:].split("@")[0]) for r in conn.execute(
            "SELECT email FROM prospects WHERE email LIKE 'p%@writer.example'"))
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


class Writer:
    """Follows a writer_proc.py process: the numbers it has committed so far."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.committed = -1
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.committed = int(line)

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.committed < n:
            assert self.proc.poll() is None, self.proc.stderr.read()
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.01)


def test_backup_while_another_process_writes(db_file, tmp_path, procs):
    conn = db.open_write(db_file)
    conn.close()
    proc = procs(sys.executable, WRITER, db_file, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True)
    writer = Writer(proc)
    writer.wait_for(1500)  # a few MB, so the copy takes many steps

    marks: dict[str, int] = {}

    def progress(label: str, done: int, total: int) -> None:
        marks.setdefault("first", writer.committed)
        marks["steps"] = marks.get("steps", 0) + 1
        if marks["steps"] <= 25:  # one page a step: the writer commits during the copy
            writer.wait_for(writer.committed + 1)
        marks["last"] = writer.committed

    before = writer.committed
    result = backup.backup(db_file, tmp_path / "bk", keep=3, progress=progress,
                           pages_per_step=1)
    proc.kill()
    (copy,) = result["copies"]
    assert marks["last"] > marks["first"] + 20, "the writer should commit during the backup"
    assert integrity(copy.path) == "ok"

    got = emails(copy.path)
    # Every row committed before the backup began is there, and the copy is one snapshot:
    # a gap-free prefix of the writer's sequence, with an audit row for each prospect.
    assert got[-1] >= before
    assert got == list(range(len(got)))
    c = sqlite3.connect(copy.path)
    assert c.execute("SELECT count(*) FROM activities WHERE action = 'create'"
                     " AND entity = 'prospect'").fetchone()[0] == len(got)
    c.close()

    # And it restores to a database that passes integrity_check with the same rows.
    other = tmp_path / "restored" / "sales.db"
    r = salescli("--db", other, "db", "restore", copy.path)
    assert r.returncode == 0, r.stderr
    assert integrity(other) == "ok" and emails(other) == got
    conn = db.open_read(other)  # schema version current, WAL mode, usable
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_copies_are_private_verified_and_rotated(db_file, tmp_path, invoke):
    conn = db.open_write(db_file)
    users.add(conn, db_file, "tester", "alice", "manager", password="correct horse battery")
    conn.close()
    dest = tmp_path / "bk"
    made = []
    for _ in range(4):
        result = invoke("db", "backup", dest, "--keep", "2")
        assert result.exit_code == 0, result.output
        made.append(result.stdout.split())
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    names = sorted(p.name for p in dest.iterdir())
    assert len(names) == 4  # two generations of two files
    assert {Path(p).name for p in made[-1] + made[-2]} == set(names)
    for p in dest.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        assert integrity(p) == "ok"
    cred = [p for p in dest.iterdir() if p.name.startswith("credentials-")]
    c = sqlite3.connect(cred[0])
    assert c.execute("SELECT username FROM passwords").fetchall() == [("alice",)]
    c.close()
    # A copy is one self-contained file (no -wal to forget when copying it elsewhere).
    assert open(cred[0], "rb").read(20)[18:20] == b"\x01\x01"


def test_other_files_in_the_directory_are_left_alone(db_file, tmp_path, invoke):
    db.open_write(db_file).close()
    dest = tmp_path / "bk"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    (dest / "sales-manual.db").write_text("mine too")
    for _ in range(3):
        assert invoke("db", "backup", dest, "--keep", "1").exit_code == 0
    names = {p.name for p in dest.iterdir()}
    assert len(names) == 3 and {"notes.txt", "sales-manual.db"} <= names
    assert (dest / "notes.txt").read_text() == "mine"


def test_a_damaged_database_is_not_published_as_a_backup(db_file, tmp_path, invoke, ops_conn):
    from tests.ops.helpers import add_run

    for _ in range(2000):
        add_run(ops_conn, "import", "ok", error="x" * 60)
    ops_conn.close()
    corrupt(db_file, "job_runs")
    result = invoke("db", "backup", tmp_path / "bk")
    assert result.exit_code == 1
    assert "failed integrity_check" in result.output
    assert list((tmp_path / "bk").iterdir()) == []


def test_stale_partial_copies_are_removed(db_file, tmp_path, invoke):
    db.open_write(db_file).close()
    dest = tmp_path / "bk"
    dest.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (dest / f".sales-20250101T000000Z.db.partial-{dead}").write_bytes(b"half")
    assert invoke("db", "backup", dest).exit_code == 0
    assert [p.name for p in dest.iterdir() if "partial" in p.name] == []


def make_backup(invoke, tmp_path) -> Path:
    result = invoke("db", "backup", tmp_path / "bk")
    assert result.exit_code == 0, result.output
    return Path(result.stdout.split()[0])


def test_restore_refuses_a_live_database_without_force(db_file, tmp_path, invoke):
    conn = db.open_write(db_file)
    copy = make_backup(invoke, tmp_path)
    conn.execute("INSERT INTO mail_quarantine(account, folder, reason, created_at)"
                 " VALUES ('a', 'INBOX', 'later', '2025-01-01T00:00:00Z')")
    refused = invoke("db", "restore", copy)
    assert refused.exit_code == 1
    assert "exists and would be replaced; add --force" in refused.output
    assert conn.execute("SELECT count(*) FROM mail_quarantine").fetchone()[0] == 1

    # A reader that had the file open all along (the web server) sees the restored data.
    forced = invoke("db", "restore", copy, "--force")
    assert forced.exit_code == 0, forced.output
    assert conn.execute("SELECT count(*) FROM mail_quarantine").fetchone()[0] == 0
    saved = next(tmp_path.glob("sales.db.before-restore-*"))
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    s = sqlite3.connect(saved)
    assert s.execute("SELECT count(*) FROM mail_quarantine").fetchone()[0] == 1
    s.close()
    conn.close()


def test_restore_refuses_a_newer_schema(db_file, tmp_path, invoke):
    db.open_write(db_file).close()
    copy = make_backup(invoke, tmp_path)
    c = sqlite3.connect(copy)
    c.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    c.close()
    before = db_file.read_bytes()
    result = invoke("db", "restore", copy, "--force")
    assert result.exit_code == 1
    assert f"has schema version {db.SCHEMA_VERSION + 1}, newer than this salescli" \
        in result.output
    assert db_file.read_bytes() == before
    assert not list(tmp_path.glob("sales.db.before-restore-*"))


@pytest.mark.parametrize("content, message", [
    (b"not a database at all" * 100, "is not a SQLite database"),
    (None, "is not a salescli sales or credentials database"),
])
def test_restore_refuses_files_that_are_not_backups(db_file, tmp_path, invoke, content,
                                                    message):
    bogus = tmp_path / "bogus.db"
    if content is None:
        c = sqlite3.connect(bogus)
        c.execute("CREATE TABLE t(x)")
        c.close()
    else:
        bogus.write_bytes(content)
    result = invoke("db", "restore", bogus)
    assert result.exit_code == 1 and message in result.output
    assert not db_file.exists()


def test_restore_puts_credentials_beside_the_sales_database(db_file, tmp_path, invoke):
    from salescli.web import credentials

    conn = db.open_write(db_file)
    users.add(conn, db_file, "tester", "alice", "manager", password="correct horse battery")
    conn.close()
    made = invoke("db", "backup", tmp_path / "bk").stdout.split()
    cred_copy = next(p for p in made if "credentials-" in p)
    c = credentials.open_credentials(db_file)
    c.execute("DELETE FROM passwords")
    c.close()
    result = invoke("db", "restore", cred_copy, "--force")
    assert result.exit_code == 0, result.output
    assert "restored the credentials database" in result.stdout
    c = credentials.open_credentials(db_file)
    assert credentials.verify_password("correct horse battery",
                                       credentials.password_hash(c, "alice"))
    c.close()


def test_restore_over_a_database_sqlite_cannot_open(db_file, tmp_path, invoke):
    conn = db.open_write(db_file)
    conn.execute("INSERT INTO mail_quarantine(account, folder, reason, created_at)"
                 " VALUES ('a', 'INBOX', 'kept', '2025-01-01T00:00:00Z')")
    conn.close()
    copy = make_backup(invoke, tmp_path)
    with open(db_file, "r+b") as fh:  # the header is gone
        fh.write(b"\0" * 100)
    result = invoke("db", "restore", copy, "--force")
    assert result.exit_code == 0, result.output
    conn = db.open_read(db_file)
    assert conn.execute("SELECT reason FROM mail_quarantine").fetchone()[0] == "kept"
    conn.close()
    saved = next(tmp_path.glob("sales.db.before-restore-*"))
    assert saved.read_bytes()[:100] == b"\0" * 100


def test_restore_marks_runs_in_progress_at_backup_time(db_file, tmp_path, invoke):
    from tests.ops.helpers import add_run

    conn = db.open_write(db_file)
    add_run(conn, "scan", "running")
    conn.close()
    copy = make_backup(invoke, tmp_path)
    result = invoke("db", "restore", copy, "--force")
    assert result.exit_code == 0
    conn = db.open_read(db_file)
    rows = {r["job"]: dict(r) for r in conn.execute("SELECT * FROM job_runs")}
    conn.close()
    assert rows["scan"]["status"] == "failed" and "restored" in rows["scan"]["error"]
    # The backup's own run is recorded as finished in its copy: no false alarm after restore.
    assert rows["backup"]["status"] == "ok"


def test_backup_into_a_full_disk_is_refused_cleanly(db_file, tmp_path, invoke, monkeypatch):
    import shutil
    from collections import namedtuple

    db.open_write(db_file).close()
    usage = namedtuple("usage", "total used free")
    # A full disk cannot be made for real in a test: the one mock of this file.
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9, 1000))
    result = invoke("db", "backup", tmp_path / "bk")
    assert result.exit_code == 1 and "not enough space" in result.output
    assert list((tmp_path / "bk").iterdir()) == []


def test_keep_from_the_environment(db_file, tmp_path, invoke, monkeypatch):
    db.open_write(db_file).close()
    monkeypatch.setenv("SALESCLI_BACKUP_KEEP", "zero")
    result = invoke("db", "backup", tmp_path / "bk")
    assert result.exit_code == 1
    assert "SALESCLI_BACKUP_KEEP 'zero' must be a whole number" in result.output
    monkeypatch.setenv("SALESCLI_BACKUP_KEEP", "1")
    for _ in range(2):
        assert invoke("db", "backup", tmp_path / "bk").exit_code == 0
    assert len(os.listdir(tmp_path / "bk")) == 1
