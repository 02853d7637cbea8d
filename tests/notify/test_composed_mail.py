"""A composed mail (``enqueue_mail``, e.g. the morning digest) carries the same Message-ID
and X-Salescli-Event as any mail of its event, so that a resend is recognisable."""

from __future__ import annotations

from salescli.notify import outbox, send


def test_a_composed_mail_is_identified_by_its_event_and_channel(conn, team, smtp_server):
    key = "morning:alice:2026-12-05"
    assert outbox.enqueue_mail(conn, rule="morning", event_key=key,
                               recipient="alice@example.com", subject="Today", text="Hi\n")
    assert outbox.deliver(conn)["sent"] == 1
    [got] = smtp_server.wait_for(1)
    assert got.message_id == send.message_id(f"{key}|email", "salescli@notify.test")
    assert got.message["X-Salescli-Event"] == send.idempotency_key(f"{key}|email")
