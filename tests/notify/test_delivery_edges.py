"""Delivery edges found by ``./dev mutants salescli/notify`` (issue 17, seeds 2 and 31): what
the outbox row and the mail say when the event, the server or the settings are unusual."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import pytest

from salescli.notify import outbox, smtp
from tests.notify.conftest import queue
from tests.support.cli import ok


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
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    port = listener.getsockname()[1]

    def serve() -> None:
        peer, _ = listener.accept()
        with peer, peer.makefile("rwb") as f:
            f.write(b"220 flaky.test ESMTP\r\n")
            f.flush()
            while line := f.readline():
                if line.upper().startswith((b"EHLO", b"HELO")):
                    f.write(b"250 flaky.test\r\n")
                    f.flush()
                else:
                    return  # MAIL FROM: hang up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setenv("SALESCLI_SMTP_PORT", str(port))
    queue(conn, "reply", team["carol"], "reply:1:<h1@x>")
    result = outbox.deliver(conn)
    thread.join(30)
    listener.close()
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
