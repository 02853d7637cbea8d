"""What a notification mail and a webhook POST carry, line by line and header by header
(found by ``./dev mutants salescli/notify``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from salescli import __version__
from salescli.notify import outbox, send
from tests.notify.conftest import queue
from tests.support.cli import ok
from tests.support.smtpd import free_port


def text(got) -> str:
    return got.message.get_content().replace("\r\n", "\n")


def rows(conn):
    return [dict(r) for r in conn.execute("SELECT * FROM notifications ORDER BY id")]


def test_an_event_mail_lists_its_fields_aligned_and_ends_with_the_signature(
        invoke, conn, team, smtp_server):
    queue(conn, "bounce", team["erin"], "bounce:3:<c1@mx>", diagnostic="550 no such user",
          empty="", none=None, items=[])
    [row] = rows(conn)
    ok(invoke("notify"))
    [got] = smtp_server.wait_for(1)
    assert text(got) == (
        "[salescli] Hard bounce for Erin <erin@client.test>\n"
        "\n"
        "  Email:     erin@client.test\n"
        "  Name:      Erin\n"
        "  Stage:     lead\n"
        "  Owner:     bob\n"
        "  Diagnostic: 550 no such user\n"
        f"  Event:     bounce at {row['created_at']}\n"
        "\n"
        "-- \n"
        "salescli notifications\n")
    assert sorted(got.message.keys()) == sorted([
        "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Salescli-Event",
        "Content-Type", "Content-Transfer-Encoding", "MIME-Version"])
    assert got.message["X-Salescli-Event"] == send.idempotency_key("bounce:3:<c1@mx>|email")
    assert got.message["From"] == "salescli@notify.test"
    assert got.message["To"] == "bob@example.com"
    sent = parsedate_to_datetime(got.message["Date"])
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_digest_numbers_its_events_and_counts_them(invoke, conn, team, smtp_server,
                                                    monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_DIGEST", "1")
    queue(conn, "reply", team["erin"], "reply:3:<g1@x>", subject="Yes")
    ok(invoke("notify"))
    queue(conn, "reply", team["carol"], "reply:1:<g2@x>", subject="Hi")
    queue(conn, "bounce", team["dave"], "bounce:2:<g3@mx>")
    ok(invoke("notify"))
    one, two = smtp_server.wait_for(2)
    first = text(one)
    assert first.startswith("1 event since the last digest:\n\n"
                            "1. [salescli] Reply from Erin <erin@client.test>: Yes\n"
                            "  Email:     erin@client.test\n")
    created = rows(conn)[0]["created_at"]
    assert first.endswith(f"  Subject:   Yes\n  Event:     reply at {created}\n"
                          "-- \nsalescli notifications\n")
    body = text(two)
    assert body.startswith("2 events since the last digest:\n\n1. [salescli] Reply from Carol")
    assert "\n2. [salescli] Hard bounce for Dave <dave@client.test>\n" in body
    assert two.message["Subject"] == "[salescli] 2 notifications"
    assert one.message_id != two.message_id
    assert one.message["X-Salescli-Event"] != two.message["X-Salescli-Event"]


def test_the_webhook_body_and_headers(conn, team, webhook, monkeypatch):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    queue(conn, "reply", team["carol"], "reply:1:<h1@x>", subject="Re: hi")
    [row] = rows(conn)
    assert outbox.deliver(conn)["sent"] == 1
    [req] = webhook.requests
    assert req["headers"]["User-Agent"] == f"salescli/{__version__}"
    body = req["json"]
    assert {k: body[k] for k in ("event_key", "rule", "prospect_id", "subject", "created_at")} \
        == {"event_key": "reply:1:<h1@x>", "rule": "reply", "prospect_id": team["carol"],
            "subject": "[salescli] Reply from Carol <carol@client.test>: Re: hi",
            "created_at": row["created_at"]}


@pytest.mark.parametrize("status, gave_up", [(400, 1), (499, 1), (500, 0), (502, 0)])
def test_webhook_client_errors_give_up_and_server_errors_retry(conn, team, webhook,
                                                              monkeypatch, status, gave_up):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    webhook.statuses = [status]
    queue(conn, "reply", team["carol"], "reply:1:<h2@x>")
    result = outbox.deliver(conn)
    assert (result["gave_up"], result["pending"]) == (gave_up, 1 - gave_up)


def test_an_unreachable_webhook_is_retried_naming_it(conn, team, monkeypatch):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    port = free_port()
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook?token=s3cret")
    queue(conn, "reply", team["carol"], "reply:1:<h3@x>")
    assert outbox.deliver(conn)["pending"] == 1
    [row] = rows(conn)
    assert row["last_error"].startswith(f"webhook http://127.0.0.1:{port}/… unreachable: ")
    assert "Connection refused" in row["last_error"] and "s3cret" not in row["last_error"]
