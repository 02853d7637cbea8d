"""Mailing reports through a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import json

import pytest

from salescli.core import db
from salescli.web import users
from tests.reports.helpers import IMG, PERIOD, SCRIPT, assert_inert_html
from tests.support.smtpd import SmtpServer


@pytest.fixture
def smtp(monkeypatch):
    with SmtpServer() as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def runs(db_file) -> list[dict]:
    conn = db.open_read(db_file)
    try:
        return [dict(r) for r in conn.execute(
            "SELECT job, status, counts, error FROM job_runs WHERE job = 'report'")]
    finally:
        conn.close()


def test_weekly_report_arrives_as_html_and_text(invoke, pipeline_db, smtp, db_file):
    result = invoke("report", "weekly", "--email", "boss@example.com", *PERIOD)
    assert result.exit_code == 0, result.output
    [received] = smtp.wait_for(1)
    assert received.rcpt_tos == ["boss@example.com"]
    msg = received.message
    assert msg["Subject"] == "Pipeline report, 2024-05-06 to 2024-05-12"
    assert msg["From"] == "salescli@notify.test"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    assert text.startswith("Pipeline report, 2024-05-06 to 2024-05-12")
    assert SCRIPT in text and "Emails sent             5" in text
    assert "<svg" not in page.lower()  # Gmail and Outlook drop SVG: CSS bars instead
    assert 'bgcolor="#4f46e5"' in page and "height:22px" in page  # funnel bars
    assert "height:6px" in page  # trend bars
    doc = assert_inert_html(page)
    assert SCRIPT in doc.text and IMG in doc.text
    [run] = runs(db_file)
    assert run["status"] == "ok"
    assert json.loads(run["counts"])["recipients"] == 1


def test_role_recipients_and_file_in_one_run(invoke, pipeline_db, smtp, db_file, tmp_path):
    conn = db.open_write(db_file)
    users.add(conn, db_file, "tester", "meg", "manager", email="meg@example.com")
    users.add(conn, db_file, "tester", "max", "manager", email="max@example.com")
    users.add(conn, db_file, "tester", "ann", "analyst", email="ann@example.com")
    conn.close()
    out = tmp_path / "owner.html"
    result = invoke("report", "owner", "--email", "@managers,cc@example.com", "--output", out,
                    *PERIOD)
    assert result.exit_code == 0, result.output
    [received] = smtp.wait_for(1)
    assert sorted(received.rcpt_tos) == ["cc@example.com", "max@example.com",
                                         "meg@example.com"]
    assert received.message["Subject"].startswith("Owner activity report, 2024-05-06")
    assert "<svg" in out.read_text()  # the file keeps its SVG charts


def test_smtp_outage_is_one_line_and_a_failed_run(invoke, pipeline_db, smtp, db_file):
    smtp.stop()
    result = invoke("report", "weekly", "--email", "boss@example.com", *PERIOD)
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"Error: SMTP server 127.0.0.1:{smtp.port} refused the connection"
    [run] = runs(db_file)
    assert run["status"] == "failed" and "refused the connection" in run["error"]


def test_no_manager_with_an_address_is_refused_before_sending(invoke, pipeline_db, smtp):
    result = invoke("report", "weekly", "--email", "@manager", *PERIOD)
    assert result.exit_code == 1
    assert result.stderr == ("Error: --email '@manager' matches no enabled user with an email "
                             "address\n")
    assert smtp.messages == []
