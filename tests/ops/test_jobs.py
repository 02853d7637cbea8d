"""The cron entries: quiet on success, loud on failure, locked, recovering from a killed run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest

from salescli.core import db
from tests.ops.helpers import job, salescli, salescli_env

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) \[(\w+)\] ")


@pytest.fixture
def cron_env(db_file, tmp_path):
    """What crontab.example sets, pointed at tmp."""
    db.open_write(db_file).close()
    return salescli_env(SALESCLI_LOG_FILE=str(tmp_path / "log" / "salescli.log"),
                        SALESCLI_BACKUP_DIR=str(tmp_path / "backups"))


def log_lines(tmp_path) -> list[str]:
    return (tmp_path / "log" / "salescli.log").read_text().splitlines()


def history(db_file, job_name: str) -> list[dict]:
    conn = db.open_read(db_file)
    try:
        return [dict(r) for r in conn.execute(
            "SELECT * FROM job_runs WHERE job = ? ORDER BY id", (job_name,))]
    finally:
        conn.close()


def test_success_prints_nothing_and_logs_one_summary_line(cron_env, tmp_path, db_file):
    r = job("backup", env=cron_env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    lines = log_lines(tmp_path)
    assert any(LINE.match(x) and "[backup] backup ok in" in x and "files=1" in x
               for x in lines), lines
    # What the command printed (the copy's path) went to the log, not to cron's mail.
    assert any("[backup] backup output: " + str(tmp_path / "backups") in x for x in lines)
    assert [r["status"] for r in history(db_file, "backup")] == ["ok"]
    assert len(list((tmp_path / "backups").iterdir())) == 1


def test_failure_is_reported_once_on_stderr_and_exits_non_zero(cron_env, tmp_path, db_file):
    (tmp_path / "file").write_text("")
    cron_env["SALESCLI_BACKUP_DIR"] = str(tmp_path / "file" / "backups")
    r = job("backup", env=cron_env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("cannot create the backup directory") == 1, r.stderr
    assert LINE.match(r.stderr)
    assert any(" ERROR [backup] " in x for x in log_lines(tmp_path))
    assert [r["status"] for r in history(db_file, "backup")] == ["failed"]


def test_missing_setting_is_a_clear_failure(cron_env):
    del cron_env["SALESCLI_BACKUP_DIR"]
    r = job("backup", env=cron_env)
    assert r.returncode == 1
    assert "SALESCLI_BACKUP_DIR is not set" in r.stderr


def test_env_file_supplies_settings_without_overriding_the_environment(cron_env, tmp_path):
    env_file = tmp_path / "salescli.env"
    env_file.write_text(
        "# settings for cron\n"
        f"export SALESCLI_BACKUP_DIR='{tmp_path / 'from-file'}'\n"
        "SALESCLI_BACKUP_KEEP=2   # two generations\n"
        f'SALESCLI_DB="{tmp_path / "elsewhere.db"}"\n')
    env_file.chmod(0o600)
    del cron_env["SALESCLI_BACKUP_DIR"]
    cron_env["SALESCLI_ENV_FILE"] = str(env_file)
    for _ in range(3):
        r = job("backup", env=cron_env)
        assert (r.returncode, r.stderr) == (0, "")
    # From the file: the directory and --keep; from the environment (wins): the database.
    assert len(list((tmp_path / "from-file").iterdir())) == 2
    assert not (tmp_path / "elsewhere.db").exists()

    env_file.write_text("this is not a setting\n")
    r = job("backup", env=cron_env)
    assert r.returncode == 1 and "line 1 is not KEY=VALUE" in r.stderr
    cron_env["SALESCLI_ENV_FILE"] = str(tmp_path / "missing.env")
    r = job("backup", env=cron_env)
    assert r.returncode == 1 and "cannot be read" in r.stderr


def test_maintenance_runs_cleanup_then_optimize(cron_env, tmp_path, db_file):
    r = job("maintenance", env=cron_env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert [h["status"] for h in history(db_file, "cleanup")] == ["ok"]
    assert [h["status"] for h in history(db_file, "optimize")] == ["ok"]
    assert sum("[maintenance]" in x and " ok in " in x for x in log_lines(tmp_path)) == 2


HOLDER = """
import sys, time
from salescli.ops.runner import run_job
with run_job("backup"):
    print("ready", flush=True)
    time.sleep(600)
"""


def test_overlap_is_skipped_and_a_killed_runs_lock_recovers(cron_env, tmp_path, db_file,
                                                              procs, invoke):
    holder = procs(sys.executable, "-c", HOLDER, env=cron_env, stdout=subprocess.PIPE,
                   text=True)
    assert holder.stdout.readline().strip() == "ready"

    # While the first run holds the lock, a second one is skipped, quietly.
    r = job("backup", env=cron_env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert any(f"skipped: backup is already running (pid {holder.pid}" in x
               for x in log_lines(tmp_path))
    assert [h["status"] for h in history(db_file, "backup")] == ["running"]

    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    report = json.loads(salescli("health", "--format", "json", env=cron_env).stdout)
    assert any(f"died while running (pid {holder.pid} is gone)" in p
               for p in report["problems"])

    # The kernel dropped the lock with the process: the next run goes ahead.
    r = job("backup", env=cron_env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    runs = history(db_file, "backup")
    assert [h["status"] for h in runs] == ["failed", "ok"]
    assert "interrupted" in runs[0]["error"]
    shown = invoke("jobs", "history", "--job", "backup", "--format", "json")
    assert [h["status"] for h in json.loads(shown.stdout)] == ["ok", "failed"]
    r = salescli("health", env=cron_env)
    assert r.returncode == 0, r.stdout


def test_jobs_history_table(invoke, cron_env):
    assert job("backup", env=cron_env).returncode == 0
    out = invoke("jobs", "history").stdout
    assert out.splitlines()[0].split() == ["id", "job", "started_at", "duration", "status",
                                           "counts", "error"]
    assert "backup" in out and "files=1" in out
    assert invoke("jobs", "history", "--job", "scan").stdout == ""
