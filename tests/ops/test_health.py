"""`salescli health` turns unhealthy for each condition and healthy again after recovery."""

from __future__ import annotations

import json

import pytest

from tests.ops.helpers import add_run, ago, corrupt


def health(invoke, *args):
    result = invoke("health", "--format", "json", *args)
    return result.exit_code, json.loads(result.output)


def test_fresh_database_is_healthy_and_reports_everything(invoke, ops_conn):
    code, report = health(invoke)
    assert code == 0 and report["healthy"] and report["problems"] == []
    d = report["database"]
    from salescli.core.schema import SCHEMA_VERSION

    assert d["schema_version"] == SCHEMA_VERSION and d["integrity"] == "ok"
    assert d["size_bytes"] > 0 and d["free_disk_bytes"] > 0
    assert report["quarantine"] == {"total": 0, "last_24h": 0}
    assert report["notifications"]["pending"] == 0


def test_failed_job_then_recovery(invoke, ops_conn, tmp_path):
    # A real failure: the backup directory cannot be created under a file.
    (tmp_path / "not-a-dir").write_text("x")
    bad = invoke("db", "backup", tmp_path / "not-a-dir" / "backups")
    assert bad.exit_code == 1
    code, report = health(invoke)
    assert code == 1
    assert any("job backup failed" in p and "not-a-dir" in p for p in report["problems"])
    (job,) = report["jobs"]
    assert job["status"] == "failed" and job["last_success"] is None

    assert invoke("db", "backup", tmp_path / "bk").exit_code == 0
    code, report = health(invoke)
    assert code == 0, report["problems"]
    assert report["jobs"][0]["status"] == "ok" and report["jobs"][0]["failed_24h"] == 1


def test_table_output_and_quiet_mode(invoke, ops_conn):
    add_run(ops_conn, "rollup", "failed", error="ValueError: boom")
    result = invoke("health")
    assert result.exit_code == 1
    assert result.output.startswith("UNHEALTHY: 1 problem\n")
    assert "job rollup failed" in result.output and "boom" in result.output
    add_run(ops_conn, "rollup", "ok")
    quiet = invoke("-q", "health")
    assert quiet.exit_code == 0 and quiet.output == ""


def test_stale_scan_then_recovery(invoke, ops_conn):
    ops_conn.execute(
        "INSERT INTO mail_checkpoints(account, folder, uidvalidity, last_uid,"
        " newest_message_at, last_scan_at) VALUES ('work', 'INBOX', 1, 10, ?, ?)",
        (ago(hours=3), ago(hours=2)))
    code, report = health(invoke)
    assert code == 1
    assert any("mail work/INBOX last scanned 2h ago" in p for p in report["problems"])
    (mail,) = report["mail"]
    assert 3 * 3600 - 60 <= mail["delay_s"] <= 3 * 3600 + 60

    ops_conn.execute("UPDATE mail_checkpoints SET last_scan_at = ?", (ago(minutes=1),))
    code, report = health(invoke)
    assert code == 0, report["problems"]


def test_scan_threshold_comes_from_the_environment(invoke, ops_conn, monkeypatch):
    ops_conn.execute("INSERT INTO mail_checkpoints(account, folder, last_scan_at)"
                     " VALUES ('work', 'INBOX', ?)", (ago(hours=2),))
    monkeypatch.setenv("SALESCLI_HEALTH_SCAN_MAX_AGE", "3h")
    assert health(invoke)[0] == 0
    monkeypatch.setenv("SALESCLI_HEALTH_SCAN_MAX_AGE", "soon")
    bad = invoke("health")
    assert bad.exit_code == 1
    assert "Error: SALESCLI_HEALTH_SCAN_MAX_AGE 'soon' is not a duration" in bad.output


def test_quarantine_over_threshold_then_recovery(invoke, ops_conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_QUARANTINE", "2")
    for uid in range(3):
        ops_conn.execute("INSERT INTO mail_quarantine(account, folder, uid, message_id, reason,"
                         " created_at) VALUES ('work', 'INBOX', ?, ?, 'unparseable', ?)",
                         (uid, f"<{uid}@x>", ago(minutes=uid)))
    code, report = health(invoke)
    assert code == 1
    assert any("3 messages quarantined" in p for p in report["problems"])
    # Dealt with: a day later they no longer count, and retention removes them.
    ops_conn.execute("UPDATE mail_quarantine SET created_at = ?", (ago(days=2),))
    code, report = health(invoke)
    assert code == 0 and report["quarantine"] == {"total": 3, "last_24h": 0}
    assert invoke("db", "cleanup", "--older-than", "1").exit_code == 0
    assert health(invoke)[1]["quarantine"]["total"] == 0


def test_integrity_failure_then_recovery_by_restore(invoke, ops_conn, db_file, tmp_path):
    for i in range(3000):
        add_run(ops_conn, "import", "ok", started=ago(days=1, seconds=i), error="x" * 50)
    backup = invoke("db", "backup", tmp_path / "bk")
    assert backup.exit_code == 0
    copy = backup.stdout.split()[0]
    ops_conn.close()
    corrupt(db_file, "job_runs")

    code, report = health(invoke)
    assert code == 1
    assert any("integrity check" in p or "malformed" in p for p in report["problems"])

    restored = invoke("db", "restore", copy, "--force")
    assert restored.exit_code == 0, restored.output
    code, report = health(invoke)
    assert code == 0, report["problems"]
    assert report["database"]["integrity"] == "ok"


def test_missing_database_is_unhealthy(invoke, db_file):
    code, report = health(invoke)
    assert code == 1 and "does not exist" in report["problems"][0]
    assert not db_file.exists()  # health never creates it


def test_newer_schema_is_unhealthy(invoke, ops_conn):
    ops_conn.execute("PRAGMA user_version = 99")
    code, report = health(invoke)
    assert code == 1 and any("schema version 99" in p for p in report["problems"])


@pytest.mark.parametrize("setup, needle", [
    (lambda c: add_run(c, "backup", "ok", started=ago(days=3)), "job backup last succeeded 3d"),
    (lambda c: add_run(c, "rollup", "running", started=ago(hours=5)),
     "job rollup has been running for 5h"),
    (lambda c: c.execute(
        "INSERT INTO notifications(event_key, rule, recipient, channel, created_at, attempts,"
        " next_attempt_at) VALUES ('k', 'reply', 'a@b.c', 'email', ?, 1, ?)",
        (ago(hours=5), ago(hours=4))), "a notification has been due for 4h"),
    (lambda c: c.execute(
        "INSERT INTO notifications(event_key, rule, recipient, channel, created_at, attempts,"
        " last_error) VALUES ('k', 'reply', 'a@b.c', 'email', ?, 8, '550 no such user')",
        (ago(hours=1),)), "1 notifications given up"),
])
def test_other_conditions(invoke, ops_conn, setup, needle):
    setup(ops_conn)
    code, report = health(invoke)
    assert code == 1
    assert any(needle in p for p in report["problems"]), report["problems"]


def test_error_rate_needs_enough_runs(invoke, ops_conn):
    for i in range(30):
        add_run(ops_conn, "scan", "failed" if i % 3 == 0 else "ok",
                started=ago(minutes=300 - i * 5), error="boom" if i % 3 == 0 else None)
    code, report = health(invoke)
    assert report["error_rate_24h"] == {"runs": 30, "failed": 10, "rate": 0.3333}
    assert code == 1 and any("10 of 30 job runs failed" in p for p in report["problems"])
