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
    assert "SALESCLI_SMTP_TIMEOUT 'soon' is not a number" in row["last_error"]


def test_message_id_without_a_sender_uses_the_invalid_domain():
    assert send.message_id("reply:1", None).endswith("@salescli.invalid>")
    assert send.message_id("reply:1", "Sales <sales@example.com>").endswith("@example.com>")


# ---- found by a fresh sample: ./dev mutants salescli/notify --tests tests/notify
#      --sample 60 --seed 2


def test_an_empty_event_key_is_refused_naming_the_field(conn, team):
    import pytest

    from salescli.core.errors import InvalidValue

    with pytest.raises(InvalidValue) as err:
        queue(conn, "reply", team["carol"], "")
    assert str(err.value) == "event_key '' must not be empty"


def test_a_payload_value_json_cannot_hold_is_stored_as_text(invoke, conn, team, smtp_server):
    from datetime import date

    queue(conn, "reply", team["carol"], "reply:1:<d1@client.test>", due=date(2026, 3, 4))
    ok(invoke("notify"))
    [got] = smtp_server.wait_for(1)
    assert "Due:" in got.message.get_content() and "2026-03-04" in got.message.get_content()


def test_a_stale_notification_says_when_the_last_interaction_was(invoke, conn, team,
                                                                  smtp_server):
    conn.execute("UPDATE prospects SET created_at = '2026-01-01T09:00:00Z' WHERE id = ?",
                 (team["erin"],))
    assert outbox.enqueue_stale(conn, days=14, today="2026-02-01") >= 1
    ok(invoke("notify"))
    mails = {m.rcpt_tos[0]: m for m in smtp_server.wait_for(1)}
    body = mails["bob@example.com"].message.get_content()
    assert "Last interaction at: 2026-01-01T09:00:00Z" in " ".join(body.split())


def test_the_run_counts_notifications_suppressed_for_a_disabled_owner(invoke, conn, team,
                                                                      smtp_server):
    queue(conn, "reply", team["carol"], "reply:1:<x1@client.test>")
    ok(invoke("users", "disable", "alice"))
    result = outbox.deliver(conn)
    assert (result["suppressed"], result["sent"]) == (1, 0)


def test_a_given_up_notification_is_logged_with_its_id_recipient_and_error(
        invoke, conn, team, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("SALESCLI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SALESCLI_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("SALESCLI_SMTP_SSL", "none")
    queue(conn, "reply", team["carol"], "reply:1:<g2@client.test>")
    result = invoke("notify")
    [nid] = [r["id"] for r in json.loads(ok(invoke("notify", "--list", "--format", "json")))]
    assert f"notification {nid} to alice@example.com given up: SMTP server 127.0.0.1:" \
        in result.stderr


def test_a_webhook_url_broken_before_delivery_fails_the_row_naming_the_variable(
        invoke, conn, team, webhook, monkeypatch):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    queue(conn, "reply", team["carol"], "reply:1:<w1@client.test>")
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", "ftp://hooks.example/x")
    failed(invoke("notify"), "Error: no notification could be delivered (1 failed")
    [row] = json.loads(ok(invoke("notify", "--list", "--format", "json")))
    assert row["state"] == "pending" and row["channel"] == "webhook"
    assert row["last_error"] == "SALESCLI_WEBHOOK_URL 'ftp://hooks.example/…' is not an " \
        "http(s) URL"
    assert webhook.requests == []


def test_a_webhook_that_hangs_up_is_retried_naming_the_failure(invoke, conn, team,
                                                               monkeypatch):
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    listener.settimeout(30)

    def hang_up() -> None:  # reads the one request, closes without an answer
        peer, _ = listener.accept()
        peer.recv(65536)
        peer.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")
    queue(conn, "reply", team["carol"], "reply:1:<w2@client.test>")
    failed(invoke("notify"), "Error: no notification could be delivered (1 failed")
    thread.join(30)
    listener.close()
    [row] = json.loads(ok(invoke("notify", "--list", "--format", "json")))
    assert row["state"] == "pending"
    assert row["last_error"].startswith(
        f"webhook http://127.0.0.1:{port}/… failed: RemoteDisconnected: "), row["last_error"]


def test_the_daily_run_counts_every_stale_prospect_it_queued(invoke, conn, team, smtp_server):
    # All three prospects were last seen long ago: the run queues and mails three, and its
    # job_runs row (what `salescli jobs` shows) says three were queued, not one.
    conn.execute("UPDATE prospects SET created_at = '2020-01-01T09:00:00Z'")
    ok(invoke("notify", "--stale-days", "14"))
    assert sorted(m.rcpt_tos[0] for m in smtp_server.wait_for(3)) == [
        "alice@example.com", "alice@example.com", "bob@example.com"]
    [counts] = [json.loads(r[0]) for r in conn.execute(
        "SELECT counts FROM job_runs WHERE job = 'notify'")]
    assert counts["stale_queued"] == 3 and counts["sent"] == 3
