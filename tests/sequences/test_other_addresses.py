"""Sequences and a prospect's other addresses (issue 16): mail goes to the primary address
only, and a suppression of any of the person's addresses keeps them unmailed."""

from __future__ import annotations

from datetime import timedelta

from salescli.pipeline import addresses, suppressions
from salescli.sequences import enroll
from salescli.sequences.send import send_due
from tests.sequences.test_body_rules import quoted_printable
from tests.support.cli import ok, query


def test_sending_goes_to_the_primary_address_only(conn, intro, team, smtp_server, t0):
    addresses.add(conn, "tester", team["ada"]["id"], ["ada@home.example"])
    enroll.enroll(conn, "tester", "intro", ["ada@home.example"], now_=t0)  # found by it
    assert send_due(conn, now=t0) == {"sent": 1}
    [msg] = smtp_server.wait_for(1)
    assert msg.rcpt_tos == ["ada@example.com"]


def test_a_suppressed_other_address_blocks_enrolment(conn, intro, team, t0):
    addresses.add(conn, "tester", team["ada"]["id"], ["ada@home.example"])
    suppressions.add(conn, "tester", "ada@home.example", reason="asked us to stop")
    out = enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"],
                        now_=t0)
    assert out == {"enrolled": 1, "skipped": {"suppressed": 1}}


def test_a_suppressed_other_address_ends_the_enrollment_unsent(conn, db_file, intro, team,
                                                               smtp_server, t0):
    addresses.add(conn, "tester", team["bob"]["id"], ["bob@home.example"])
    enroll.enroll(conn, "tester", "intro", ["bob@example.org"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 1}
    smtp_server.wait_for(1)
    suppressions.add(conn, "tester", "@home.example")  # a domain covers it too
    assert send_due(conn, now=t0 + timedelta(days=4)) == {"unsubscribed": 1}
    assert len(smtp_server.messages) == 1
    [row] = query(db_file, "SELECT state, reason FROM enrollments")
    assert row["state"] == "unsubscribed" and "@home.example" in row["reason"]


def test_an_unsubscribe_reply_from_an_other_address_stops_the_sequence(
        conn, db_file, intro, team, smtp_server, mailbox, t0, invoke):
    addresses.add(conn, "tester", team["ada"]["id"], ["ada@home.example"])
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 1}
    when = t0 + timedelta(hours=3)
    # The reply comes from her personal address; only its first line says to stop.
    mailbox.append("INBOX", quoted_printable("ada@home.example", "Re: Quick question, Ada",
                                             when, "Remove me\n\nAda\n"), when)
    ok(invoke("scan"))
    assert [r["address"] for r in query(db_file, "SELECT address FROM suppressions")] == [
        "ada@home.example"]
    assert send_due(conn, now=t0 + timedelta(days=4)).get("sent") is None
    assert len([m for m in smtp_server.messages
                if m.message["Message-ID"].startswith("<seq.")]) == 1
    [row] = query(db_file, "SELECT state FROM enrollments")
    assert row["state"] != "active"
