"""Outbox behaviour the other notify tests left unchecked (found by ``./dev mutants``):
an owner given as a bare address, the sent listing, one-attempt give-up, the SMTP timeout
setting, and the Message-ID of a mail with no sender."""

from __future__ import annotations

import json

from salescli.notify import outbox, send
from salescli.pipeline import prospects
from tests.notify.conftest import queue
from tests.support.cli import ok
from tests.support.smtpd import free_port


def failed(result, line: str) -> None:
    """The run exits 1 with this ``Error:`` line (the job's log lines come before it)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith(line), result.stderr


def test_an_owner_given_as_an_address_is_notified_at_that_address(
        invoke, conn, team, smtp_server):
    pid = prospects.add(conn, "tester", "fay@client.test", owner="Pat@Agency.test")["id"]
    assert queue(conn, "reply", pid, "reply:7:<a1@client.test>") == 1
    ok(invoke("notify"))
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["pat@agency.test"]


def test_sent_notifications_are_listed_with_state_sent(invoke, conn, team, smtp_server):
    queue(conn, "reply", team["carol"], "reply:1:<s1@client.test>")
    ok(invoke("notify"))
    smtp_server.wait_for(1)
    [row] = json.loads(ok(invoke("notify", "--list", "--state", "sent", "--format", "json")))
    assert row["state"] == "sent" and row["recipient"] == "alice@example.com"
    assert json.loads(ok(invoke("notify", "--list", "--format", "json"))) == []


def test_max_attempts_of_one_gives_up_after_the_first_failure(invoke, conn, team, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("SALESCLI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SALESCLI_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("SALESCLI_SMTP_SSL", "none")
    queue(conn, "reply", team["carol"], "reply:1:<g1@client.test>")
    failed(invoke("notify"), "Error: no notification could be delivered (1 failed")
    [row] = json.loads(ok(invoke("notify", "--list", "--format", "json")))
    assert row["state"] == "failed" and row["attempts"] == 1
    assert row["last_error"].startswith("gave up after 1 attempt(s)")
    assert outbox.max_attempts() == 1


def test_a_bad_smtp_timeout_fails_delivery_naming_the_variable(
        invoke, conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_SMTP_TIMEOUT", "soon")
    queue(conn, "reply", team["carol"], "reply:1:<t1@client.test>")
    failed(invoke("notify"), "Error: no notification could be delivered (1 failed")
    assert smtp_server.messages == []
    [row] = json.loads(ok(invoke("notify", "--list", "--format", "json")))
    assert "SALESCLI_SMTP_TIMEOUT" in row["last_error"] and "soon" in row["last_error"]


def test_message_id_without_a_sender_uses_the_invalid_domain():
    assert send.message_id("reply:1", None).endswith("@salescli.invalid>")
    assert send.message_id("reply:1", "Sales <sales@example.com>").endswith("@example.com>")
