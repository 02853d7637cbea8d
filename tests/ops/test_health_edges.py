"""Health on the edges of its inputs: a database whose directory is gone, a mailbox never
scanned. Each asserts what the user reads (exit code, the problem line, the JSON report)."""

from __future__ import annotations

import json


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
