"""Webhook notifications to a real HTTP server on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from salescli.notify import outbox, send
from tests.notify.conftest import queue


def test_webhook_gets_json_with_idempotency_key_once(invoke, conn, team, webhook):
    assert queue(conn, "reply", team["carol"], "reply:1:<w1@x>", subject="Re: hello") == 1
    assert invoke("notify").exit_code == 0
    assert invoke("notify").exit_code == 0
    [req] = webhook.requests
    assert req["path"] == "/hooks/T0KEN-s3cret"
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["headers"]["Idempotency-Key"] == send.idempotency_key("reply:1:<w1@x>|webhook")
    body = req["json"]
    assert body["event_key"] == "reply:1:<w1@x>" and body["rule"] == "reply"
    assert body["prospect_id"] == team["carol"]
    assert body["payload"]["prospect"]["email"] == "carol@client.test"
    assert body["payload"]["subject"] == "Re: hello"
    # The URL may carry a token: the database keeps only scheme and host.
    dump = "\n".join(conn.iterdump())
    assert "T0KEN-s3cret" not in dump


def test_webhook_and_mail_both_go_and_retry_keeps_the_same_key(
        conn, team, webhook, smtp_server):
    webhook.statuses = [503]
    queue(conn, "bounce", team["erin"], "bounce:3:<w2@x>", diagnostic="user unknown")
    t0 = datetime.now(UTC)
    first = outbox.deliver(conn, now=t0)
    assert first["sent"] == 1 and first["failed"] == 1  # mail went, webhook answered 503
    assert len(smtp_server.messages) == 1
    row = conn.execute("SELECT * FROM notifications WHERE channel = 'webhook'").fetchone()
    base = webhook.url.rsplit("/hooks/", 1)[0]
    assert row["last_error"] == f"webhook {base}/… answered HTTP 503 Service Unavailable"

    again = outbox.deliver(conn, now=t0 + timedelta(hours=1))
    assert again["sent"] == 1 and again["pending"] == 0
    keys = [r["headers"]["Idempotency-Key"] for r in webhook.requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(smtp_server.messages) == 1  # the mail is not sent again


def test_webhook_client_error_gives_up_at_once(conn, team, webhook):
    webhook.statuses = [410]
    queue(conn, "reply", team["carol"], "reply:1:<w3@x>")
    result = outbox.deliver(conn)
    assert result["gave_up"] == 1
    assert outbox.deliver(conn, now=datetime.now(UTC) + timedelta(days=1))["failed"] == 0
    assert len(webhook.requests) == 1
