"""The morning digest: one mail per owner per day through the notification outbox."""

from __future__ import annotations

import json
from datetime import date, timedelta

from salescli.tasks import store
from salescli.web import users
from tests.sequences.conftest import ME, cy_replied
from tests.support.cli import ok, query


def test_morning_digest_lists_tasks_and_waiting_replies_once_a_day(
        conn, db_file, intro, team, smtp_server, t0, invoke):
    users.add(conn, db_file, "tester", "dev", "operator", email="dev@ours.example")
    today = date.today()
    store.add(conn, "tester", "ada@example.com", "Call Ada", kind="call",
              due=(today - timedelta(days=2)).isoformat())
    store.add(conn, "tester", "bob@example.org", "Send the deck", kind="email", due="today")
    store.add(conn, "tester", "cy@example.net", "Later", due="+5d")
    done = store.add(conn, "tester", "cy@example.net", "Done already", due="today")
    store.done(conn, "tester", done["id"])
    cy_replied(conn, team, t0)
    before = len(smtp_server.messages)

    ok(invoke("notify", "--morning"))
    digests = [m for m in smtp_server.messages[before:]]
    assert [m.rcpt_tos for m in digests] == [[ME]]  # dev has nothing today: no mail
    text = digests[0].message.get_content().replace("\r\n", "\n")
    overdue_on = (today - timedelta(days=2)).isoformat()
    assert "Overdue tasks (1):" in text
    assert f" call: Call Ada (ada@example.com, due {overdue_on})\n" in text
    assert "Due today (1):" in text and "email: Send the deck (bob@example.org)" in text
    assert "Later" not in text and "Done already" not in text
    assert "Sequence replies waiting for you (1):" in text and "Cy Young <cy@example.net>" in text
    assert digests[0].message["Subject"] == "[salescli] Your day: 3 item(s)"
    assert "\nsalescli tasks list --owner maria\n" in text  # the command to see them all

    ok(invoke("notify", "--morning"))  # the same day again: nothing new
    assert len(smtp_server.messages) == before + 1
    runs = json.loads(ok(invoke("jobs", "history", "--job", "notify", "--format", "json")))
    assert [r["counts"].get("morning_queued") for r in runs] == [0, 1]  # newest first
    assert query(db_file, "SELECT rule, recipient, sent_at IS NOT NULL AS sent FROM"
                          " notifications WHERE rule = 'morning'") == \
        [{"rule": "morning", "recipient": ME, "sent": 1}]
