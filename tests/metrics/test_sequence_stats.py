"""``salescli metrics --sequences``: mails sent and how enrollments ended, per sequence and
step, in the period; sequences in name order whatever their case (issue 17, seed 31)."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta

from salescli.core.timeutil import iso
from salescli.metrics import sequences as stats
from salescli.pipeline import interactions, prospects
from salescli.sequences import enroll, store
from salescli.sequences.send import send_due
from salescli.web import users
from tests.support.cli import ok

PLAN = """
name = "{name}"
window = "00:00-24:00"
days = "daily"
[[steps]]
wait = "0d"
subject = "Hello {{{{ prospect.first_name }}}}"
body = "Hi {{{{ prospect.first_name }}}}"
[[steps]]
wait = "3d"
body = "Again, {{{{ prospect.first_name }}}}"
"""


def load(conn, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(PLAN.format(name=name)))
    store.load(conn, "tester", path)


def test_sequences_are_listed_by_name_whatever_the_case(conn, tmp_path, invoke):
    for name in ("ab", "Beta", "a_x"):  # '_' sorts between upper and lower case letters
        load(conn, tmp_path, name)
    rows = json.loads(ok(invoke("metrics", "--sequences", "--format", "json")))
    assert [(r["sequence"], r["step"]) for r in rows] == [
        ("a_x", 1), ("a_x", 2), ("ab", 1), ("ab", 2), ("Beta", 1), ("Beta", 2)]
    assert all(r["sent"] == 0 and r["reply_rate"] is None for r in rows)


def test_sent_replied_and_bounced_count_at_their_step_in_the_period(conn, tmp_path, invoke,
                                                                   smtp_server):
    users.add(conn, None, "tester", "maria", "operator", email="me@ours.example")
    ids = {}
    for who, email in (("ada", "ada@example.com"), ("bob", "bob@example.org"),
                       ("cy", "cy@example.net"), ("di", "di@example.net")):
        ids[who] = prospects.add(conn, "tester", email, name=who.title() + " X",
                                 owner="maria")["id"]
    load(conn, tmp_path, "intro")
    t0 = (datetime.now(UTC) - timedelta(days=6)).replace(microsecond=0)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org",
                                            "cy@example.net", "di@example.net"], now_=t0)
    smtp_server.refuse_rcpt("bob@example.org", 550)
    send_due(conn, now=t0)  # step 1: ada, cy, di sent; bob bounced
    interactions.record(conn, "monitor", ids["ada"], "email_in",
                        iso(t0 + timedelta(hours=1)), message_id="<r1@x>")
    send_due(conn, now=t0 + timedelta(days=3))  # ada replied; step 2 to cy and di
    rows = stats.by_step(conn)
    assert rows == [
        {"sequence": "intro", "step": 1, "sent": 3, "replied": 1, "bounced": 1,
         "unsubscribed": 0, "reply_rate": 0.3333},
        {"sequence": "intro", "step": 2, "sent": 2, "replied": 0, "bounced": 0,
         "unsubscribed": 0, "reply_rate": 0.0}]
    # Only what happened in [start, end): the step-2 mails, and ada's enrollment ending
    # (at the run that saw her reply) at step 1.
    later = stats.by_step(conn, start=iso(t0 + timedelta(days=2)),
                          end=iso(t0 + timedelta(days=4)))
    assert [(r["step"], r["sent"], r["replied"], r["bounced"]) for r in later] == [
        (1, 0, 1, 0), (2, 2, 0, 0)]
    assert [r["sent"] for r in stats.by_step(conn, end=iso(t0))] == [0, 0]
    table = ok(invoke("metrics", "--sequences"))
    assert "33.3%" in table and "intro" in table


def test_a_reply_before_the_first_mail_counts_at_step_0(conn, tmp_path, invoke, smtp_server):
    # Ada answers (an earlier thread) after being enrolled but before step 1 goes out: her
    # enrollment ends with no mail sent, and the stats still show that reply, at step 0.
    users.add(conn, None, "tester", "maria", "operator", email="me@ours.example")
    ada = prospects.add(conn, "tester", "ada@example.com", name="Ada X", owner="maria")["id"]
    load(conn, tmp_path, "intro")
    t0 = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    interactions.record(conn, "monitor", ada, "email_in", iso(t0 + timedelta(minutes=1)),
                        message_id="<r0@x>")
    send_due(conn, now=t0 + timedelta(minutes=2))
    assert smtp_server.messages == []
    rows = json.loads(ok(invoke("metrics", "--sequences", "--format", "json")))
    assert [(r["step"], r["sent"], r["replied"]) for r in rows] == [(0, 0, 1), (1, 0, 0),
                                                                     (2, 0, 0)]
