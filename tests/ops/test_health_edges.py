"""Health on the edges of its inputs: a database whose directory is gone, a mailbox never
scanned, a threshold that is not a number. Each asserts what the user reads (exit code,
the problem line or the error line, the JSON report)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import fails


def test_a_database_in_a_missing_directory_is_reported_not_a_crash(invoke, tmp_path):
    gone = tmp_path / "gone" / "sales.db"
    result = invoke("--db", gone, "health", "--format", "json")
    assert result.exit_code == 1
    rep = json.loads(result.output)
    assert rep["problems"] == [f"database {str(gone)!r} does not exist; run: salescli init"]
    assert rep["database"]["free_disk_bytes"] is None


def test_a_mailbox_never_scanned_is_named_without_an_age(invoke, ops_conn):
    ops_conn.execute("INSERT INTO mail_checkpoints(account, folder) VALUES ('work', 'INBOX')")
    result = invoke("health", "--format", "json")
    assert result.exit_code == 1
    rep = json.loads(result.output)
    assert rep["problems"] == ["mail work/INBOX last scanned never (threshold 30m)"]
    assert rep["mail"] == [{"account": "work", "folder": "INBOX", "newest_message_at": None,
                            "delay_s": None, "last_scan_at": None, "scan_age_s": None}]


@pytest.mark.parametrize(("name", "value", "error"), [
    ("SALESCLI_HEALTH_PENDING_MAX_AGE", "soon",
     "Error: SALESCLI_HEALTH_PENDING_MAX_AGE 'soon' is not a duration like 30m, 12h, 7d or 2w"),
    ("SALESCLI_HEALTH_MAX_ERROR_RATE", "most",
     "Error: SALESCLI_HEALTH_MAX_ERROR_RATE 'most' is not a number"),
    ("SALESCLI_HEALTH_MAX_ERROR_RATE", "1.5",
     "Error: SALESCLI_HEALTH_MAX_ERROR_RATE '1.5' must be between 0 and 1"),
    ("SALESCLI_HEALTH_MAIL_MAX_DELAY", "soon",
     "Error: SALESCLI_HEALTH_MAIL_MAX_DELAY 'soon' is not a duration like 30m, 12h, 7d or 2w"),
    ("SALESCLI_HEALTH_MIN_FREE_DISK", "lots",
     "Error: SALESCLI_HEALTH_MIN_FREE_DISK 'lots' is not a size like 500M or 2G"),
    ("SALESCLI_HEALTH_MAX_WAL", "big",
     "Error: SALESCLI_HEALTH_MAX_WAL 'big' is not a size like 500M or 2G"),
])
def test_a_bad_threshold_is_one_error_line_naming_its_variable(invoke, ops_conn, monkeypatch,
                                                               name, value, error):
    monkeypatch.setenv(name, value)
    assert fails(invoke("health")) == error


def test_a_damaged_database_is_one_problem_line(invoke, ops_conn, db_file, monkeypatch):
    from salescli.pipeline import prospects
    from tests.ops.helpers import corrupt

    for i in range(200):
        prospects.add(ops_conn, "tester", f"p{i}@damage.example", notes="n" * 300)
    ops_conn.close()
    corrupt(db_file, "prospects")
    monkeypatch.setenv("SALESCLI_HEALTH_INTEGRITY", "full")
    result = invoke("health")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "UNHEALTHY: 1 problem"
    assert lines[1].startswith(f"  - integrity check of {db_file} failed: *** in database main"
                               " ***; On tree page ")
    assert lines[2] == ""  # the problem list ends; the report's tables follow


def test_a_mailbox_scanned_exactly_the_threshold_ago_is_not_yet_late(ops_conn, db_file):
    from datetime import UTC, datetime, timedelta

    from salescli.core.timeutil import iso
    from salescli.ops import health

    scanned = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ops_conn.execute("INSERT INTO mail_checkpoints(account, folder, last_scan_at)"
                     " VALUES ('work', 'INBOX', ?)", (iso(scanned),))

    def mail_problems(seconds_after_threshold: int) -> list[str]:
        now = scanned + timedelta(minutes=30, seconds=seconds_after_threshold)
        report = health.check(db_file, now=now, thresholds=health.Thresholds())
        return [p for p in report["problems"] if p.startswith("mail ")]

    assert mail_problems(0) == []
    assert mail_problems(1) == ["mail work/INBOX last scanned 30m ago (threshold 30m)"]


@pytest.mark.parametrize("off", ["off", "0", "none", " NONE "])
def test_a_jobs_age_check_is_turned_off_by_each_of_its_spellings(invoke, ops_conn,
                                                                  monkeypatch, off):
    from tests.ops.helpers import add_run, ago

    add_run(ops_conn, "backup", "ok", started=ago(days=3))
    late = invoke("health", "--format", "json")
    assert late.exit_code == 1
    assert json.loads(late.output)["problems"] == [
        "job backup last succeeded 3d ago (threshold 2d)"]
    monkeypatch.setenv("SALESCLI_HEALTH_JOB_MAX_AGE", f"backup={off}")
    result = invoke("health", "--format", "json")
    assert result.exit_code == 0, result.output


def test_the_credentials_database_beside_is_checked_and_healthy(invoke, ops_conn, db_file):
    from salescli.web import credentials

    credentials.open_credentials(db_file).close()
    result = invoke("health", "--format", "json")
    rep = json.loads(result.output)
    assert result.exit_code == 0, rep["problems"]
    assert rep["database"]["credentials_integrity"] == "ok"


def test_the_json_report_says_when_it_was_checked(invoke, ops_conn):
    from datetime import UTC, datetime

    before = datetime.now(UTC).replace(microsecond=0)
    result = invoke("health", "--format", "json")
    after = datetime.now(UTC)
    checked = datetime.fromisoformat(json.loads(result.output)["checked_at"])
    assert before <= checked <= after


def test_an_error_rate_threshold_of_one_is_accepted(invoke, ops_conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_ERROR_RATE", "1")
    result = invoke("health", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["thresholds"]["max_error_rate"] == 1


def test_a_backup_copy_has_no_wal_and_reports_zero_wal_bytes(invoke, tmp_path):
    from tests.support.cli import ok

    ok(invoke("init"))
    ok(invoke("db", "backup", tmp_path / "bk"))
    (copy,) = (tmp_path / "bk").glob("sales-*.db")
    result = invoke("--db", copy, "health", "--format", "json")
    # A backup copy is in rollback-journal mode: reading it makes no -wal file.
    assert not copy.with_name(copy.name + "-wal").exists()
    assert json.loads(result.output)["database"]["wal_bytes"] == 0


def test_a_damaged_credentials_database_is_one_problem_line(invoke, ops_conn, db_file):
    from salescli.web import credentials
    from tests.ops.helpers import corrupt

    creds = credentials.open_credentials(db_file)
    with creds:
        creds.executemany("INSERT INTO signin_log(at, username, event, remote, detail)"
                          " VALUES ('2026-01-01T00:00:00Z', ?, 'login_failed', '10.0.0.1', ?)",
                          [(f"user{i}", "d" * 300) for i in range(200)])
    creds.close()
    cred = db_file.with_name("credentials.db")
    corrupt(cred, "signin_log")
    result = invoke("health", "--format", "json")
    assert result.exit_code == 1
    rep = json.loads(result.output)
    assert rep["database"]["integrity"] == "ok"
    assert rep["database"]["credentials_integrity"] not in (None, "ok")
    assert rep["problems"] == [
        f"integrity check of {cred} failed: {rep['database']['credentials_integrity']}"]


def test_a_replica_url_that_cannot_be_used_is_a_problem_line_naming_it(invoke, ops_conn,
                                                                       monkeypatch):
    monkeypatch.setenv("SALESCLI_REPLICA_URL", "backups/sales")
    result = invoke("health", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.output)["problems"] == [
        "SALESCLI_REPLICA_URL 'backups/sales' is not a URL like s3://bucket/path or a path"]
