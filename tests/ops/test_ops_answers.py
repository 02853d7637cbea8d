"""Operations behaviour ``./dev mutants`` (seed 31) found unchecked: health thresholds read
from the environment and the exact lines they produce, the report of a missing database,
cleanup with no retention, the job history's counts, backup and restore refusals."""

from __future__ import annotations

import json

import pytest

from salescli.core.errors import InvalidValue
from tests.ops.helpers import add_run, ago
from tests.support.cli import fails


def report(invoke) -> tuple[int, dict]:
    result = invoke("health", "--format", "json")
    return result.exit_code, json.loads(result.output)


def test_a_missing_database_reports_every_section_empty(invoke, db_file):
    code, rep = report(invoke)
    assert code == 1
    assert {k: rep[k] for k in ("jobs", "mail", "quarantine", "error_rate_24h",
                                "notifications", "replica")} == {
        "jobs": [], "mail": [], "quarantine": None, "error_rate_24h": None,
        "notifications": None, "replica": None}


def test_pending_notifications_threshold_comes_from_the_environment(invoke, ops_conn,
                                                                     monkeypatch):
    ops_conn.execute(
        "INSERT INTO notifications(event_key, rule, recipient, channel, created_at, attempts,"
        " next_attempt_at) VALUES ('k', 'reply', 'a@b.c', 'email', ?, 0, ?)",
        (ago(minutes=2), ago(minutes=1)))
    code, rep = report(invoke)
    assert code == 0, rep["problems"]
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_PENDING", "0")
    code, rep = report(invoke)
    assert code == 1 and rep["problems"] == ["1 notifications pending (threshold 0)"]


def test_free_disk_threshold_comes_from_the_environment(invoke, ops_conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_HEALTH_MIN_FREE_DISK", "1000T")
    code, rep = report(invoke)
    free_mb = rep["database"]["free_disk_bytes"] // 1024**2
    assert code == 1 and rep["problems"] == [
        f"only {free_mb} MB free beside the database (threshold {1000 * 1024**2} MB)"]


def test_a_bad_size_or_lag_names_its_variable(invoke, ops_conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_WAL", "lots")
    assert fails(invoke("health")) == \
        "Error: SALESCLI_HEALTH_MAX_WAL 'lots' is not a size like 500M or 2G"
    monkeypatch.delenv("SALESCLI_HEALTH_MAX_WAL")
    monkeypatch.setenv("SALESCLI_HEALTH_REPLICA_MAX_LAG", "later")
    assert fails(invoke("health")).startswith(
        "Error: SALESCLI_HEALTH_REPLICA_MAX_LAG 'later' ")


def test_error_rate_threshold_comes_from_the_environment(invoke, ops_conn, monkeypatch):
    for i in range(30):
        add_run(ops_conn, "scan", "failed" if i % 3 == 0 else "ok",
                started=ago(minutes=300 - i * 5), error="boom" if i % 3 == 0 else None)
    monkeypatch.setenv("SALESCLI_HEALTH_JOB_MAX_AGE", "scan=off")
    code, rep = report(invoke)
    assert code == 1 and rep["problems"] == [
        "10 of 30 job runs failed in the last 24 h (33% > 20%)"]
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_ERROR_RATE", "0.5")
    code, rep = report(invoke)
    assert code == 0, rep["problems"]
    assert rep["thresholds"]["max_error_rate"] == 0.5
    assert rep["thresholds"]["job_max_age"]["scan"] == 0
    assert rep["thresholds"]["job_max_age"]["backup"] == 2 * 86400


def test_a_late_mail_names_its_delay_and_threshold(invoke, ops_conn, monkeypatch):
    ops_conn.execute(
        "INSERT INTO mail_checkpoints(account, folder, uidvalidity, last_uid,"
        " newest_message_at, last_scan_at) VALUES ('work', 'INBOX', 1, 10, ?, ?)",
        (ago(hours=3, minutes=1), ago(minutes=1)))
    monkeypatch.setenv("SALESCLI_HEALTH_MAIL_MAX_DELAY", "2h")
    code, rep = report(invoke)
    assert code == 1 and rep["problems"] == [
        "mail work/INBOX: newest message seen is 3h old (threshold 2h)"]
    assert 3 * 3600 <= rep["mail"][0]["delay_s"] < 3 * 3600 + 300
    assert rep["mail"][0]["newest_message_at"].startswith(ago(hours=3, minutes=1)[:13])


def test_cleanup_with_no_retention_keeps_only_the_newest_runs(invoke, ops_conn):
    for _ in range(3):
        add_run(ops_conn, "scan", "ok", started=ago(minutes=5))
    result = invoke("db", "cleanup", "--older-than", "0", "--format", "json")
    assert result.exit_code == 0, result.output
    deleted = {r["table"]: r["deleted"] for r in json.loads(result.stdout)}
    assert deleted["job_runs"] == 2


def test_job_history_shows_the_counts_of_a_run(invoke, ops_conn):
    ops_conn.execute("INSERT INTO job_runs(job, started_at, finished_at, status, counts)"
                     " VALUES ('scan', ?, ?, 'ok', ?)",
                     (ago(minutes=2), ago(minutes=1), json.dumps({"messages": 7})))
    result = invoke("jobs", "history", "--format", "json")
    assert result.exit_code == 0
    assert [r["counts"] for r in json.loads(result.output)] == [{"messages": 7}]


def test_a_backup_into_a_file_says_it_is_not_a_directory(ops_conn, db_file, tmp_path):
    from salescli.ops import backup

    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InvalidValue) as err:
        backup.backup(db_file, tmp_path / "a-file")
    assert str(err.value) == f"DIR '{tmp_path / 'a-file'}' is not a directory"


def test_restoring_the_live_database_onto_itself_is_refused(invoke, ops_conn, db_file):
    assert fails(invoke("db", "restore", db_file, "--force")) == \
        f"Error: FILE '{db_file}' is the live database itself"


def test_a_file_without_a_schema_version_is_named_in_the_refusal(tmp_path, db_file):
    import sqlite3

    from salescli.ops import backup

    bare = tmp_path / "bare.db"
    conn = sqlite3.connect(bare)
    conn.executescript("CREATE TABLE prospects(id); CREATE TABLE stages(id);"
                       " CREATE TABLE job_runs(id);")
    conn.close()
    with pytest.raises(InvalidValue) as err:
        backup.restore(bare, db_file)
    assert str(err.value) == f"FILE '{bare}' has no salescli schema version"


def test_the_report_names_each_jobs_last_run_and_the_lag_threshold(invoke, ops_conn,
                                                                   monkeypatch):
    started = ago(minutes=3)
    add_run(ops_conn, "rollup", "ok", started=started)
    monkeypatch.setenv("SALESCLI_HEALTH_REPLICA_MAX_LAG", "7m")
    code, rep = report(invoke)
    assert code == 0, rep["problems"]
    assert [(j["job"], j["last_run"]) for j in rep["jobs"]] == [("rollup", started)]
    assert rep["thresholds"]["replica_max_lag"] == 7 * 60


def test_a_file_that_is_not_a_database_is_reported_not_a_crash(invoke, db_file):
    db_file.write_bytes(b"this is not SQLite at all\n" * 200)
    code, rep = report(invoke)
    assert code == 1
    assert rep["problems"][0] == f"cannot open {db_file}: file is not a database"
    assert rep["database"]["schema_version"] is None and rep["jobs"] == []


def test_a_job_run_records_what_it_counted(db_file, ops_conn):
    from salescli.ops.runner import history, run_job

    with run_job("rollup", db_file) as run:
        run.add("days")
        run.add("rows", 5)
        run.add("rows", 2)
    [row] = history(ops_conn, "rollup")
    assert (row["status"], row["counts"]) == ("ok", {"days": 1, "rows": 7})


def test_a_failure_is_recorded_with_its_type_named_once(db_file, ops_conn):
    from salescli.ops.runner import history, run_job

    for exc in (ValueError("boom"), RuntimeError("RuntimeError: disk on fire")):
        with pytest.raises(type(exc)):
            with run_job("rollup", db_file):
                raise exc
    assert [r["error"] for r in history(ops_conn, "rollup")] == [
        "RuntimeError: disk on fire", "ValueError: boom"]


def test_a_job_failing_inside_its_own_transaction_is_recorded_and_its_half_write_undone(
        db_file, ops_conn):
    from salescli.ops.runner import history, run_job

    with pytest.raises(RuntimeError):
        with run_job("rollup", db_file) as run:
            run.conn.execute("BEGIN")
            run.conn.execute("INSERT INTO job_runs(job, started_at, status)"
                             " VALUES ('half', '2026-01-01T00:00:00Z', 'ok')")
            raise RuntimeError("disk on fire")
    [row] = history(ops_conn, "rollup")
    assert (row["status"], row["error"]) == ("failed", "RuntimeError: disk on fire")
    assert history(ops_conn, "half") == []


def test_restore_shows_progress_for_the_copy_it_keeps(ops_conn, db_file, tmp_path):
    from salescli.ops import backup

    copy = backup.backup(db_file, tmp_path / "bk", keep=1)["copies"][0].path
    labels = set()
    backup.restore(copy, db_file, force=True,
                   progress=lambda label, done, total: labels.add(label))
    assert f"{db_file.name} (current)" in labels and copy.name in labels


def test_a_bad_replica_url_names_the_option_it_came_from():
    from salescli.ops import replication

    with pytest.raises(InvalidValue) as err:
        replication.replica_url("s3://")
    assert str(err.value) == "--to 's3://' is not a URL like s3://bucket/path or file:///dir"


def test_an_unreadable_config_file_names_the_variable(tmp_path, monkeypatch):
    from salescli.ops import replication

    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv("SALESCLI_CONFIG", str(missing))
    with pytest.raises(InvalidValue) as err:
        replication.replica_url()
    assert str(err.value) == \
        f"SALESCLI_CONFIG '{missing}' cannot be read (No such file or directory)"


def test_a_replication_setting_that_is_not_a_table_is_one_error_line(invoke, tmp_path,
                                                                     monkeypatch):
    config = tmp_path / "salescli.toml"
    config.write_text('replication = "s3://bucket/salescli"\n')
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    assert fails(invoke("db", "replicate")) == \
        f"Error: SALESCLI_CONFIG '{config}' has a [replication] that is not a table"
