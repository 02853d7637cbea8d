"""Health and restore behaviour ``./dev mutants`` found unchecked: thresholds read from
the environment, exact problem and error lines, the keys of the JSON report, and
--timestamp offsets converted to UTC."""

from __future__ import annotations

import json
import signal
from datetime import timedelta

from salescli.ops import health, replica_restore, replication
from tests.ops.helpers import add_run, ago
from tests.ops.test_replication import in_step, start_replicator, wait_until
from tests.support.cli import fails, ok


def report(invoke) -> tuple[int, dict]:
    result = invoke("health", "--format", "json")
    return result.exit_code, json.loads(result.output)


def test_max_runtime_comes_from_the_environment(invoke, ops_conn, monkeypatch):
    add_run(ops_conn, "rollup", "running", started=ago(hours=5))
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_RUNTIME", "6h")
    code, rep = report(invoke)
    assert code == 0, rep["problems"]
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_RUNTIME", "4h")
    code, rep = report(invoke)
    assert code == 1 and any("job rollup has been running for 5h" in p
                             for p in rep["problems"])


def test_a_job_age_without_equals_sign_is_one_exact_error(invoke, ops_conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_HEALTH_JOB_MAX_AGE", "scan")
    assert fails(invoke("health")) == \
        "Error: SALESCLI_HEALTH_JOB_MAX_AGE 'scan' is not JOB=DURATION"


def test_a_stale_scan_is_reported_in_minutes(invoke, ops_conn):
    ops_conn.execute("INSERT INTO mail_checkpoints(account, folder, last_scan_at)"
                     " VALUES ('work', 'INBOX', ?)", (ago(minutes=45, seconds=20),))
    code, rep = report(invoke)
    assert code == 1
    assert "mail work/INBOX last scanned 45m ago (threshold 30m)" in rep["problems"]
    [mail] = rep["mail"]
    assert mail["last_scan_at"] is not None and 45 * 60 <= mail["scan_age_s"] < 47 * 60


def test_integrity_off_reports_it_as_null(invoke, ops_conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_HEALTH_INTEGRITY", "off")
    code, rep = report(invoke)
    assert code == 0 and "integrity" in rep["database"]
    assert rep["database"]["integrity"] is None


def test_restore_timestamps_with_an_offset_are_converted_to_utc(invoke, tmp_path, db_file):
    ok(invoke("init"))
    empty = f"file://{tmp_path / 'empty'}"
    for stamp, utc in (("2025-01-31T09:15:00+02:00", "2025-01-31T07:15:00.000000Z"),
                       ("2025-01-31T09:15:00", "2025-01-31T09:15:00.000000Z"),
                       ("2025-01-31 09:15:00.5Z", "2025-01-31T09:15:00.500000Z")):
        line = fails(invoke("db", "restore", "--from-replica", empty, "--output",
                            tmp_path / "o", "--timestamp", stamp))
        assert f"from {empty} at {utc} failed" in line


def test_a_lagging_replica_asks_whether_the_replicator_runs(tmp_path, procs, db_file, invoke,
                                                           monkeypatch):
    url = f"file://{tmp_path / 'replica'}"
    ok(invoke("init"))
    monkeypatch.setenv("SALESCLI_REPLICA_URL", url)
    assert any(p.startswith("the replica ") and p.endswith(
        "sales.db holds nothing yet: is salescli db replicate running?")
        for p in health.check(db_file)["problems"])
    replicator, _, _ = start_replicator(procs, tmp_path, url)
    wait_until(lambda: in_step(url, db_file), 60, "the replica")
    replicator.send_signal(signal.SIGTERM)
    assert replicator.wait(timeout=60) == 0
    ok(invoke("prospects", "add", "late@example.com"))  # never shipped

    sales = next(r for r in health.check(db_file)["replica"]
                 if r["database"].endswith("sales.db"))
    later = replication.parse_time(sales["newest_at"]) + timedelta(minutes=6)
    problems = health.check(db_file, now=later)["problems"]
    assert "the replica of sales.db is 6m behind (threshold 5m); is salescli db replicate " \
           "running?" in problems

    result = replica_restore.restore(url, tmp_path / "restored", live_db=db_file)
    assert result["url"] == url and result["timestamp"] is None
    assert [d["kind"] for d in result["databases"]] == ["sales"]


# ---- found by a fresh sample: ./dev mutants salescli/core --tests tests/core
#      --sample 60 --seed 2 (core/log.py, whose tests live here)


def test_log_lines_name_the_job_cron_set(invoke, ops_conn, tmp_path, monkeypatch):
    monkeypatch.setenv("SALESCLI_JOB", "cronjob")
    (tmp_path / "file").write_text("x")
    result = invoke("db", "backup", tmp_path / "file" / "backups")
    assert result.exit_code == 1
    assert " ERROR [cronjob] backup failed after " in result.stderr


def test_without_log_settings_nothing_but_stderr_is_written(invoke, ops_conn, tmp_path,
                                                          monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = invoke("prospects", "list")
    assert result.exit_code == 0 and result.stderr == "No prospects match.\n"
    assert list(cwd.iterdir()) == []  # no log file appeared where the command ran
