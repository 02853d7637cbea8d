"""The outbox's states as ``salescli notify --list`` shows them, composed mails queued with
``enqueue_mail`` (the morning digest's way in), and the run's suppressed count (found by
``./dev mutants salescli/notify``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.notify import outbox
from tests.notify.conftest import queue
from tests.support.cli import ok


def listed(invoke, *states: str) -> list[tuple[str, str]]:
    args = [a for s in states for a in ("--state", s)]
    out = json.loads(ok(invoke("notify", "--list", *args, "--format", "json")))
    return [(r["event_key"], r["state"]) for r in out]


def test_each_state_is_listed_when_asked_and_only_then(invoke, conn, team, smtp_server,
                                                      monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_PER_HOUR", "1")
    smtp_server.refuse_rcpt("bob@example.com", 550)
    queue(conn, "reply", team["carol"], "reply:1:<a@x>")          # sent
    queue(conn, "reply", team["carol"], "reply:1:<b@x>")          # suppressed (cap 1)
    queue(conn, "reply", team["erin"], "reply:3:<c@x>")           # failed (refused)
    outbox.deliver(conn)
    queue(conn, "reply", team["dave"], "reply:2:<d@x>")           # pending
    assert listed(invoke) == [("reply:3:<c@x>|email", "failed"),
                              ("reply:2:<d@x>|email", "pending")]
    assert listed(invoke, "sent") == [("reply:1:<a@x>|email", "sent")]
    assert listed(invoke, "suppressed") == [("reply:1:<b@x>|email", "suppressed")]
    assert listed(invoke, "failed") == [("reply:3:<c@x>|email", "failed")]
    assert listed(invoke, "pending", "sent") == [("reply:1:<a@x>|email", "sent"),
                                                 ("reply:2:<d@x>|email", "pending")]


def test_the_run_counts_suppressed_rows_of_the_last_day_only(conn, team, smtp_server,
                                                             monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_PER_HOUR", "0")
    queue(conn, "reply", team["carol"], "reply:1:<s1@x>")
    queue(conn, "reply", team["carol"], "reply:1:<s2@x>")
    old = (datetime.now(UTC) - timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn.execute("UPDATE notifications SET created_at = ? WHERE event_key LIKE '%s1%'", (old,))
    assert outbox.deliver(conn)["suppressed"] == 1


def test_a_composed_mail_is_queued_once_and_sent_as_written(invoke, conn, team, smtp_server):
    text = "Good morning Alice,\n\n2 tasks due today.\n"
    assert outbox.enqueue_mail(conn, rule="morning", event_key="morning:alice:2026-12-05",
                               recipient="alice@example.com", subject="S" * 250, text=text)
    assert not outbox.enqueue_mail(conn, rule="morning", event_key="morning:alice:2026-12-05",
                                   recipient="alice@example.com", subject="again", text="x")
    [row] = [dict(r) for r in conn.execute("SELECT * FROM notifications")]
    assert (row["rule"], row["channel"], row["prospect_id"]) == ("morning", "email", None)
    assert row["subject"] == "S" * 200 and row["next_attempt_at"] == row["created_at"]
    ok(invoke("notify"))
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["alice@example.com"]
    assert got.message.get_content().replace("\r\n", "\n") == \
        "Good morning Alice,\n\n2 tasks due today.\n\n-- \nsalescli notifications\n"


@pytest.mark.parametrize("key, recipient, message", [
    ("", "alice@example.com", "event_key '' must not be empty"),
    ("morning:x", "", "recipient '' must not be empty"),
])
def test_a_composed_mail_needs_a_key_and_a_recipient(conn, key, recipient, message):
    with pytest.raises(InvalidValue) as err:
        outbox.enqueue_mail(conn, rule="morning", event_key=key, recipient=recipient,
                            subject="s", text="t")
    assert str(err.value) == message
