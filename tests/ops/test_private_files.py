"""State is private whatever the umask; the sign-in log is pruned with the other retention."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from salescli.web.credentials import open_credentials
from tests.ops.helpers import ago
from tests.support.cli import ok


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def salescli(*args: str, env: dict[str, str], umask: int = 0,
             input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process that starts with ``umask``."""
    def set_umask() -> None:
        os.umask(umask)

    return subprocess.run([sys.executable, "-m", "salescli", *args], env=env,
                          capture_output=True, text=True, preexec_fn=set_umask, timeout=120,
                          input=input)


def test_init_under_umask_000_creates_private_directories_and_files(tmp_path):
    state = tmp_path / "srv" / "salescli" / "state"
    backups = tmp_path / "backups" / "nightly"
    locks = tmp_path / "locks" / "here"
    env = {**os.environ, "SALESCLI_DB": str(state / "sales.db"),
           "SALESCLI_LOCK_DIR": str(locks), "SALESCLI_LOG_FILE": str(tmp_path / "log" / "s.log"),
           "SALESCLI_LOG_MAX_BYTES": "150", "SALESCLI_LOG_BACKUPS": "2"}
    for args in (["init"], ["users", "add", "ada", "--role", "admin", "--password-stdin"],
                 ["prospects", "add", "a@example.com"], ["db", "backup", str(backups)]):
        r = salescli(*args, env=env, input="correct horse battery\n")
        assert r.returncode == 0, r.stderr
    # Enough job lines to rotate the log at least once.
    for _ in range(4):
        r = salescli("db", "cleanup", env=env)
        assert r.returncode == 0, r.stderr

    created_dirs = [tmp_path / "srv", tmp_path / "srv" / "salescli", state,
                    tmp_path / "backups", backups, tmp_path / "locks", locks, tmp_path / "log"]
    assert {str(d): oct(mode(d)) for d in created_dirs} == \
        {str(d): "0o700" for d in created_dirs}
    files = [state / "sales.db", state / "credentials.db", *backups.iterdir(),
             *locks.iterdir(), *(tmp_path / "log").iterdir()]
    assert any(p.name == "s.log.1" for p in files), "the log never rotated"
    assert any(p.name.startswith("credentials-") for p in backups.iterdir())
    assert {p.name: oct(mode(p)) for p in files} == {p.name: "0o600" for p in files}


def test_cleanup_prunes_the_signin_log_with_the_same_retention(invoke, sales, db_file):
    creds = open_credentials(db_file)
    for at, user in ((ago(days=200), "old"), (ago(days=31), "month"), (ago(days=29), "recent"),
                     (ago(minutes=1), "now")):
        creds.execute("INSERT INTO signin_log(at, username, event, remote) VALUES (?, ?, "
                      "'failed', '203.0.113.9')", (at, user))
    dry = json.loads(ok(invoke("db", "cleanup", "--older-than", "30", "--dry-run",
                               "--format", "json")))
    assert {"table": "signin_log", "would_delete": 2} in dry
    assert creds.execute("SELECT count(*) FROM signin_log").fetchone()[0] == 4

    done = json.loads(ok(invoke("db", "cleanup", "--older-than", "30", "--format", "json")))
    assert {"table": "signin_log", "deleted": 2} in done
    left = [r[0] for r in creds.execute("SELECT username FROM signin_log ORDER BY at")]
    assert left == ["recent", "now"]
    creds.close()


def test_cleanup_reads_the_retention_from_the_environment(invoke, sales, db_file):
    creds = open_credentials(db_file)
    creds.execute("INSERT INTO signin_log(at, username, event) VALUES (?, 'x', 'ok')",
                  (ago(days=11),))
    kept = json.loads(ok(invoke("db", "cleanup", "--format", "json")))  # default 90 days
    assert {"table": "signin_log", "deleted": 0} in kept
    gone = json.loads(ok(invoke("db", "cleanup", "--format", "json",
                                env={"SALESCLI_RETENTION_DAYS": "10"})))
    assert {"table": "signin_log", "deleted": 1} in gone
    creds.close()


WAL_MODES = """
import os, stat, sys
from salescli.core.db import open_write, transaction
from salescli.web.credentials import open_credentials
conns = [open_write(sys.argv[1]), open_credentials(sys.argv[1])]
for c in conns:
    c.execute("PRAGMA wal_autocheckpoint = 0")
with transaction(conns[0]):
    conns[0].execute("INSERT INTO job_runs(job, started_at, status) VALUES ('t', 'x', 'ok')")
conns[1].execute("INSERT INTO signin_log(at, event) VALUES ('2025-01-01T00:00:00Z', 'ok')")
for name in ("sales.db", "credentials.db"):
    for suffix in ("-wal", "-shm"):
        p = os.path.join(os.path.dirname(sys.argv[1]), name + suffix)
        print(name + suffix, oct(stat.S_IMODE(os.stat(p).st_mode)))
"""


def test_wal_and_shm_files_are_private_under_umask_000(tmp_path):
    db = tmp_path / "new" / "sales.db"

    def set_umask() -> None:
        os.umask(0)

    r = subprocess.run([sys.executable, "-c", WAL_MODES, str(db)], capture_output=True,
                       text=True, preexec_fn=set_umask, timeout=60)
    assert r.returncode == 0, r.stderr
    modes = dict(line.split() for line in r.stdout.splitlines())
    assert modes == {f"{n}{s}": "0o600" for n in ("sales.db", "credentials.db")
                     for s in ("-wal", "-shm")}
    assert oct(mode(db.parent)) == "0o700"
