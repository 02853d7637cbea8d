"""Delivery edges found by ``./dev mutants salescli/notify`` (issue 17, seeds 2 and 31): what
the outbox row and the mail say when the event, the server or the settings are unusual."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from salescli.core.errors import InvalidValue
from salescli.notify import outbox, smtp
from tests.notify.conftest import queue
from tests.support.cli import ok
from tests.support.smtpd import scripted_smtp


def rows(conn):
    return [dict(r) for r in conn.execute("SELECT * FROM notifications ORDER BY id")]


def test_an_old_event_whose_time_has_no_offset_is_not_news(conn, team, smtp_server):
    # A Date read without a zone is UTC: two years old, it is not queued (and no crash).
    assert queue(conn, "reply", team["carol"], "reply:1:<n1@x>",
                 occurred_at="2020-01-02T03:04:05") == 0
    assert rows(conn) == []


@pytest.mark.parametrize("status, state", [(503, "pending"), (404, "failed")])
def test_a_long_webhook_error_is_stored_cut_to_1000_characters(
        conn, team, webhook, monkeypatch, status, state):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    webhook.statuses, webhook.reason = [status], "Busy " * 400
    queue(conn, "reply", team["carol"], "reply:1:<l1@x>")
    result = outbox.deliver(conn)
    assert (result["sent"], result["failed"]) == (0, 1)
    [row] = rows(conn)
    assert outbox.state_of(row) == state
    assert len(row["last_error"]) == 1000
    port = urlsplit(webhook.url).port
    assert f"webhook http://127.0.0.1:{port}/… answered HTTP {status} Busy Busy" \
        in row["last_error"]


def test_a_sender_with_an_at_sign_in_its_name_gives_its_domain_to_the_message_id(
        invoke, conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_SMTP_FROM", '"sales@acme" <noreply@example.com>')
    queue(conn, "reply", team["carol"], "reply:1:<at1@x>")
    ok(invoke("notify"))
    [got] = smtp_server.wait_for(1)
    assert got.mail_from == "noreply@example.com"
    assert got.message_id.startswith("<salescli.") and got.message_id.endswith("@example.com>")


@pytest.mark.parametrize("code", [500, 554])
def test_a_mail_the_server_rejects_for_good_is_given_up_at_once(
        invoke, conn, team, smtp_server, code):
    smtp_server.fail_next(1, code=code)
    queue(conn, "reply", team["carol"], "reply:1:<p1@x>")
    result = outbox.deliver(conn)
    assert (result["sent"], result["gave_up"], result["pending"]) == (0, 1, 0)
    [row] = rows(conn)
    assert outbox.state_of(row) == "failed" and row["attempts"] == 1
    assert f"rejected the message: {code} " in row["last_error"]
    assert outbox.deliver(conn)["failed"] == 0  # never tried again
    assert smtp_server.messages == []


def test_a_mail_server_that_hangs_up_mid_mail_is_retried_naming_the_failure(
        invoke, conn, team, smtp_server, monkeypatch):
    # A real socket that greets, answers EHLO, then closes when the mail begins.
    def answer(line: bytes) -> bytes | None:
        return b"250 flaky.test" if line.upper().startswith((b"EHLO", b"HELO")) else None

    with scripted_smtp(answer, b"220 flaky.test ESMTP") as port:
        monkeypatch.setenv("SALESCLI_SMTP_PORT", str(port))
        queue(conn, "reply", team["carol"], "reply:1:<h1@x>")
        result = outbox.deliver(conn)
    assert (result["sent"], result["failed"], result["pending"]) == (0, 1, 1)
    [row] = rows(conn)
    assert outbox.state_of(row) == "pending"
    assert row["last_error"] == f"SMTP server 127.0.0.1:{port} failed while sending: " \
        "SMTPServerDisconnected: Connection unexpectedly closed", row["last_error"]
    assert smtp_server.messages == []


def test_the_smtp_timeout_is_30_seconds_unless_set(monkeypatch):
    # docs/configuration.md: SALESCLI_SMTP_TIMEOUT, default 30 (seconds).
    assert smtp.settings_from_env({"SALESCLI_SMTP_HOST": "mx.example"}).timeout == 30.0
    assert smtp.settings_from_env({"SALESCLI_SMTP_HOST": "mx.example",
                                   "SALESCLI_SMTP_TIMEOUT": "2.5"}).timeout == 2.5


def test_an_owner_given_as_a_disabled_users_address_is_routed_like_the_user(
        invoke, conn, team, smtp_server, monkeypatch):
    from salescli.pipeline import prospects

    pid = prospects.add(conn, "tester", "gil@client.test", owner="Alice@Example.com")["id"]
    ok(invoke("users", "disable", "alice"))
    assert queue(conn, "reply", pid, "reply:8:<g1@x>") == 0  # nobody to tell, as for "alice"
    monkeypatch.setenv("SALESCLI_NOTIFY_TO", "sales@example.com")
    assert queue(conn, "reply", pid, "reply:8:<g2@x>") == 1
    ok(invoke("notify"))
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["sales@example.com"]
    assert [r["recipient"] for r in rows(conn)] == ["sales@example.com"]


# ---- survivors of ./dev mutants salescli/notify --sample 80 --seed 31 (see the module doc)


def test_a_reply_without_a_subject_says_so_plainly(invoke, conn, team, smtp_server):
    # The scanner passes the reply's Subject as it is: empty when there was none.
    queue(conn, "reply", team["carol"], "reply:1:<e1@x>", subject="", at="2026-12-01")
    ok(invoke("notify"))
    [got] = smtp_server.wait_for(1)
    assert got.message["Subject"] == "[salescli] Reply from Carol <carol@client.test>"
    body = got.message.get_content()
    assert "Subject:" not in body  # an empty field gets no line
    assert "At:" in body and "2026-12-01" in body


def test_the_mail_describes_the_prospect_field_by_field(invoke, conn, team, smtp_server):
    from salescli.pipeline import prospects

    pid = prospects.add(conn, "tester", "hal@client.test", name="Hal", company="Hal & Co",
                        owner="alice")["id"]
    queue(conn, "reply", pid, "reply:4:<f1@x>", subject="Numbers")
    ok(invoke("notify"))
    [got] = smtp_server.wait_for(1)
    lines = [" ".join(line.split()) for line in got.message.get_content().splitlines()]
    for line in ("Email: hal@client.test", "Name: Hal", "Company: Hal & Co", "Stage: lead",
                 "Owner: alice", "Subject: Numbers"):
        assert line in lines, (line, lines)


def test_the_webhook_gets_the_prospects_stage(conn, team, webhook, monkeypatch):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    queue(conn, "reply", team["carol"], "reply:1:<f2@x>")
    assert outbox.deliver(conn)["sent"] == 1
    [got] = webhook.requests
    assert got["json"]["payload"]["prospect"]["stage"] == "lead"


def test_an_event_for_a_missing_prospect_is_refused_naming_it(conn, team, smtp_server):
    with pytest.raises(InvalidValue) as err:
        queue(conn, "reply", 999, "reply:999:<m@x>")
    assert str(err.value) == "prospect_id 999 does not exist"
    assert rows(conn) == []


def test_an_event_whose_time_cannot_be_read_is_still_news(conn, team, smtp_server):
    assert queue(conn, "reply", team["carol"], "reply:1:<u1@x>", occurred_at="yesterday") == 1
    assert [r["event_key"] for r in rows(conn)] == ["reply:1:<u1@x>|email"]


def test_stale_days_below_one_are_refused_naming_the_option(conn, team):
    with pytest.raises(InvalidValue) as err:
        outbox.enqueue_stale(conn, days=0)
    assert str(err.value) == "--stale-days 0 must be at least 1"


def test_staleness_is_judged_on_the_day_given(conn, team, smtp_server):
    # On 2026-02-01 (14 days), erin (last seen 2026-01-01) is stale; ivy, added 2026-01-25,
    # is not, although both are by the machine's today.
    from salescli.pipeline import prospects

    conn.execute("UPDATE prospects SET created_at = '2026-01-01T09:00:00Z' WHERE id = ?",
                 (team["erin"],))
    ivy = prospects.add(conn, "tester", "ivy@client.test", owner="bob",
                        at="2026-01-25T09:00:00Z")["id"]
    assert outbox.enqueue_stale(conn, days=14, today="2026-02-01") == 1
    assert [r["prospect_id"] for r in rows(conn)] == [team["erin"]]
    assert ivy not in [r["prospect_id"] for r in rows(conn)]


def log_lines(result, level: str) -> list[str]:
    """The job's log lines of ``level`` on stderr, without their time stamp."""
    return [line.split(" ", 1)[1] for line in result.stderr.splitlines()
            if line.split(" ")[1:2] == [level]]


def test_a_given_up_notification_is_logged_as_one_line(invoke, conn, team, monkeypatch):
    from tests.support.smtpd import free_port

    port = free_port()
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("SALESCLI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SALESCLI_SMTP_PORT", str(port))  # nobody listens
    monkeypatch.setenv("SALESCLI_SMTP_SSL", "none")
    queue(conn, "reply", team["carol"], "reply:1:<g3@x>")
    result = invoke("notify")
    [nid] = [r["id"] for r in rows(conn)]
    assert f"ERROR [notify] notification {nid} to alice@example.com given up: SMTP server " \
        f"127.0.0.1:{port} refused the connection" in log_lines(result, "ERROR")


def test_a_failed_mail_is_logged_naming_the_recipient(invoke, conn, team, smtp_server):
    smtp_server.fail_next(1, code=451)
    queue(conn, "reply", team["carol"], "reply:1:<w3@x>")
    result = invoke("notify")
    assert result.exit_code == 1
    assert "WARNING [notify] notification mail to alice@example.com failed: SMTP server " \
        f"127.0.0.1:{smtp_server.port} rejected the message: 451 4.3.0 test server says try " \
        "again later" in log_lines(result, "WARNING")
    assert "Logging error" not in result.stderr


def test_bad_smtp_settings_are_logged_naming_the_variable(invoke, conn, team, smtp_server,
                                                          monkeypatch):
    monkeypatch.setenv("SALESCLI_SMTP_TIMEOUT", "soon")
    queue(conn, "reply", team["carol"], "reply:1:<w4@x>")
    result = invoke("notify")
    assert result.exit_code == 1
    assert "ERROR [notify] notifications by mail cannot be sent: SALESCLI_SMTP_TIMEOUT 'soon' " \
        "is not a number" in log_lines(result, "ERROR")


def test_a_webhook_row_left_when_the_url_is_removed_fails_saying_so(conn, team, webhook,
                                                                    monkeypatch):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    queue(conn, "reply", team["carol"], "reply:1:<w5@x>")
    monkeypatch.delenv("SALESCLI_WEBHOOK_URL")
    result = outbox.deliver(conn)
    assert (result["sent"], result["failed"], result["pending"]) == (0, 1, 1)
    [row] = rows(conn)
    assert row["last_error"] == "SALESCLI_WEBHOOK_URL is not set"
    assert webhook.requests == []


@pytest.mark.parametrize("status", [408, 425, 429])
def test_a_webhook_asking_to_come_back_later_is_retried(conn, team, webhook, monkeypatch,
                                                        status):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    webhook.statuses = [status]
    queue(conn, "reply", team["carol"], "reply:1:<w6@x>")
    result = outbox.deliver(conn)
    assert (result["gave_up"], result["pending"]) == (0, 1)
    [row] = rows(conn)
    assert outbox.state_of(row) == "pending" and f"HTTP {status}" in row["last_error"]


def test_an_already_flattened_message_is_handed_to_the_server(smtp_server):
    # The sequence sender flattens its mails itself and hands the bytes over.
    data = (b"From: ana@notify.test\r\nTo: zoe@client.test\r\nSubject: step 1\r\n"
            b"Message-ID: <seq1@notify.test>\r\n\r\nHello Zoe\r\n")
    with smtp.session(smtp.settings_from_env()) as session:
        session.send_bytes("ana@notify.test", ["zoe@client.test"], data)
    [got] = smtp_server.wait_for(1)
    assert got.mail_from == "ana@notify.test" and got.rcpt_tos == ["zoe@client.test"]
    assert got.message_id == "<seq1@notify.test>"
    assert got.message.get_content().strip() == "Hello Zoe"


@pytest.fixture
def local_zone():
    """Set the process's local time zone (TZ + tzset), restored afterwards."""
    import os
    import time

    old = os.environ.get("TZ")

    def set_zone(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()

    yield set_zone
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize("zone", ["Pacific/Honolulu", "Asia/Tokyo"])
def test_the_machines_time_zone_does_not_shift_the_outbox(conn, team, smtp_server, local_zone,
                                                          zone):
    from datetime import UTC, datetime, timedelta

    local_zone(zone)
    queue(conn, "reply", team["carol"], "reply:1:<tz1@x>")
    [row] = rows(conn)
    created = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)  # stamped in UTC
    assert outbox.deliver(conn)["sent"] == 1  # due at once, whatever the zone
    assert len(smtp_server.wait_for(1)) == 1


def test_a_bad_tls_mode_is_named_with_the_value(invoke, conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_SMTP_SSL", "tls13")
    queue(conn, "reply", team["carol"], "reply:1:<b1@x>")
    assert invoke("notify").exit_code == 1
    [row] = rows(conn)
    assert row["last_error"] == "SALESCLI_SMTP_SSL 'tls13' must be one of ssl, starttls, none"
    assert smtp_server.messages == []


@pytest.mark.parametrize("port, valid", [("0", False), ("1", True), ("65535", True),
                                         ("65536", False)])
def test_smtp_ports_outside_1_to_65535_are_refused(port, valid):
    env = {"SALESCLI_SMTP_HOST": "mx.example", "SALESCLI_SMTP_PORT": port}
    if valid:
        assert smtp.settings_from_env(env).port == int(port)
    else:
        with pytest.raises(InvalidValue) as err:
            smtp.settings_from_env(env)
        assert str(err.value) == f"SALESCLI_SMTP_PORT '{port}' is not a port number"


def report(to: list[str]):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["To"] = ", ".join(to)
    msg["Subject"] = "weekly report"
    msg.set_content("numbers")
    return msg


def test_every_refused_recipient_is_named(smtp_server):
    smtp_server.refuse_rcpt("ann@example.com", 550)
    smtp_server.refuse_rcpt("ben@example.com", 551)
    with pytest.raises(smtp.SmtpError) as err:
        smtp.send(report(["ann@example.com", "ben@example.com"]))
    assert str(err.value) == (
        f"SMTP server 127.0.0.1:{smtp_server.port} refused recipient "
        "ann@example.com (550 5.1.1 <ann@example.com>: recipient refused by test server), "
        "ben@example.com (551 5.1.1 <ben@example.com>: recipient refused by test server)")
    assert err.value.permanent and smtp_server.messages == []


def test_a_partly_refused_mail_goes_to_the_rest_and_logs_who_not(smtp_server, caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="salescli.smtp")
    smtp_server.refuse_rcpt("ann@example.com", 550)
    smtp_server.refuse_rcpt("cy@example.com", 550)
    smtp.send(report(["ann@example.com", "ben@example.com", "cy@example.com"]))
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["ben@example.com"]
    assert [r.getMessage() for r in caplog.records if r.name == "salescli.smtp"] == [
        f"SMTP server 127.0.0.1:{smtp_server.port} refused some recipients: ann@example.com, "
        "cy@example.com"]
