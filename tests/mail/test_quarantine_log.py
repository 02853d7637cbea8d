"""A quarantined message is named in the scan's log with where it lies and why, so the
person reading the log can find it."""

from __future__ import annotations

from salescli.mail import sample
from tests.mail.helpers import ME, ago
from tests.support.cli import ok


def test_the_log_names_a_quarantined_file_and_the_reason(tmp_path, people, invoke, conn):
    box, t = tmp_path / "Maildir", ago(days=1)
    path = sample.write_maildir_message(
        box, f"To: {ME}\nSubject: no sender\nDate: {sample._date(t)}\n\nhello\n".encode(), t)
    result = invoke("scan", "--source", f"maildir:{box}")
    ok(result)
    [row] = conn.execute("SELECT location, reason FROM mail_quarantine").fetchall()
    assert row["location"] == str(path) and "no From header" in row["reason"]
    assert f"quarantined {path}: {row['reason']}" in result.stderr, result.stderr
