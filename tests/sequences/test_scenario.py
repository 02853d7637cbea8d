"""The issue's scenario with real parts: aiosmtpd receives, Dovecot holds the replies and
bounces, the real scanner records them, and ``send`` obeys what it recorded."""

from __future__ import annotations

import json
from datetime import timedelta

from salescli.mail import sample
from salescli.sequences import enroll
from salescli.sequences.send import send_due
from tests.sequences.conftest import ME
from tests.support.cli import ok, query


def _ours(server) -> list:
    """Sequence mail only (the scan also delivers notifications to the owner)."""
    return [m for m in server.messages if m.message["Message-ID"].startswith("<seq.")]


def _by_rcpt(server) -> dict[str, list]:
    out: dict[str, list] = {}
    for m in _ours(server):
        out.setdefault(m.rcpt_tos[0], []).append(m.message)
    return out


def test_reply_ends_hard_bounce_ends_third_gets_three_threaded_steps(
        conn, db_file, intro, team, smtp_server, mailbox, t0, invoke):
    r = enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org",
                                                "cy@example.net"], now_=t0)
    assert r == {"enrolled": 3, "skipped": {}}
    assert send_due(conn, now=t0)["sent"] == 3
    first = _by_rcpt(smtp_server)
    assert sorted(first) == ["ada@example.com", "bob@example.org", "cy@example.net"]
    ada1 = first["ada@example.com"][0]
    assert ada1["Subject"] == "Quick question, Ada"
    assert ada1["From"] == f"maria <{ME}>"
    assert "would Lovelace Ltd like a demo?" in ada1.get_content()
    assert ada1["In-Reply-To"] is None
    # The server's Sent copies, a reply from Ada, a hard bounce for Bob, all in the mailbox.
    for m in _ours(smtp_server):
        mailbox.append("Sent", m.data, t0)
    raw, _ = sample.reply(team["ada"], ME, t0 + timedelta(hours=1), ada1["Subject"],
                          ada1["Message-ID"])
    mailbox.append("INBOX", raw, t0 + timedelta(hours=1))
    bounce, _ = sample.dsn_bounce("bob@example.org", ME, t0 + timedelta(minutes=5), hard=True,
                                  original_subject="Quick question, Bob")
    mailbox.append("INBOX", bounce, t0 + timedelta(minutes=5))
    ok(invoke("scan"))
    # The scanner saw our three Sent copies as the mails already recorded: no duplicates.
    outs = query(db_file, "SELECT prospect_id, message_id FROM interactions"
                          " WHERE kind = 'email_out' ORDER BY prospect_id")
    assert len(outs) == 3
    assert {o["message_id"] for o in outs} == {m.message["Message-ID"]
                                               for m in _ours(smtp_server)}
    # Ada's reply raised the existing reply notification for her owner, and it went out.
    assert query(db_file, "SELECT rule, recipient FROM notifications WHERE prospect_id = ?"
                          " AND channel = 'email'", (team["ada"]["id"],)) == \
        [{"rule": "reply", "recipient": ME}]
    assert any(m.rcpt_tos == [ME] and "Reply from" in m.message["Subject"]
               for m in smtp_server.messages)

    assert send_due(conn, now=t0 + timedelta(days=3)) == {"replied": 1, "bounced": 1,
                                                          "sent": 1}
    assert send_due(conn, now=t0 + timedelta(days=4)) == {}  # step 3 waits 2 days
    assert send_due(conn, now=t0 + timedelta(days=5, seconds=1)) == {"sent": 1}
    assert send_due(conn, now=t0 + timedelta(days=30)) == {}

    got = _by_rcpt(smtp_server)
    assert len(got["ada@example.com"]) == len(got["bob@example.org"]) == 1
    c1, c2, c3 = got["cy@example.net"]
    assert [c["Subject"] for c in (c1, c2, c3)] == [
        "Quick question, Cy", "Re: Quick question, Cy", "Re: Quick question, Cy"]
    assert c2["In-Reply-To"] == c1["Message-ID"] and c2["References"] == c1["Message-ID"]
    assert c3["In-Reply-To"] == c2["Message-ID"]
    assert c3["References"].split() == [c1["Message-ID"], c2["Message-ID"]]
    assert c3.get_content().strip() == f"Last note from me. {ME}"
    for m in (c1, c2, c3):
        assert m["List-Unsubscribe"].strip().startswith(f"<mailto:{ME}?subject=unsubscribe%20")
        assert m["List-Unsubscribe-Post"] is None  # no https endpoint configured
    status = {r["email"]: r for r in json.loads(ok(invoke("sequences", "status", "intro",
                                                          "--format", "json")))}
    assert status["ada@example.com"]["state"] == "replied"
    assert status["bob@example.org"]["state"] == "bounced"
    assert status["bob@example.org"]["step"] == "1/3"
    assert status["cy@example.net"]["state"] == "finished"
    assert status["cy@example.net"]["step"] == "3/3"
    # every sent step is one ledger row and one email_out interaction, same Message-ID
    assert query(db_file, "SELECT count(*) AS n FROM sends WHERE state = 'sent'") == [{"n": 5}]
    assert query(db_file, "SELECT count(*) AS n FROM sends s JOIN interactions i"
                          " ON i.message_id = s.message_id")[0]["n"] == 5


def test_metrics_by_sequence_and_step(conn, db_file, intro, team, smtp_server, t0, invoke):
    from salescli.core.timeutil import iso
    from salescli.pipeline import interactions

    t0 -= timedelta(days=5)  # everything inside the default 30-day period
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org",
                                            "cy@example.net"], now_=t0)
    smtp_server.refuse_rcpt("bob@example.org", 550)
    send_due(conn, now=t0)
    interactions.record(conn, "monitor", team["ada"]["id"], "email_in",
                        iso(t0 + timedelta(hours=1)), message_id="<r1@x>")
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"replied": 1, "sent": 1}
    rows = json.loads(ok(invoke("metrics", "--sequences", "--format", "json")))
    assert rows == [
        {"sequence": "intro", "step": 1, "sent": 2, "replied": 1, "bounced": 1,
         "unsubscribed": 0, "reply_rate": 0.5},
        {"sequence": "intro", "step": 2, "sent": 1, "replied": 0, "bounced": 0,
         "unsubscribed": 0, "reply_rate": 0.0},
        {"sequence": "intro", "step": 3, "sent": 0, "replied": 0, "bounced": 0,
         "unsubscribed": 0, "reply_rate": None}]
    assert "50.0%" in ok(invoke("metrics", "--sequences"))
    text = ok(invoke("report", "weekly", "--format", "text"))
    assert "intro step 1: 2 sent, 1 replied, 1 bounced, 0 unsubscribed (50.0% replied)" in text
    assert "intro step 3" not in text  # nothing happened at step 3
    assert "| intro | 2 | 1 | 0 | 0 | 0 | 0.0% |" in ok(invoke("report", "weekly", "--format",
                                                            "md"))


def test_out_of_office_seen_by_the_scanner_delays_and_never_ends(
        conn, db_file, intro, team, smtp_server, mailbox, t0, invoke):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    first = _ours(smtp_server)[0].message
    ooo_at = t0 + timedelta(hours=20)
    raw, _ = sample.auto_reply(team["ada"], ME, ooo_at, first["Subject"], first["Message-ID"])
    mailbox.append("INBOX", raw, ooo_at)
    ok(invoke("scan"))
    assert query(db_file, "SELECT kind FROM interactions ORDER BY id") == \
        [{"kind": "email_out"}, {"kind": "auto_reply"}]
    due = t0 + timedelta(days=3)
    assert send_due(conn, now=due) == {"delayed": 1}  # pushed by the wait, from the OOO
    assert send_due(conn, now=ooo_at + timedelta(days=3, seconds=-1)) == {}
    assert send_due(conn, now=ooo_at + timedelta(days=3)) == {"sent": 1}
    assert [m.message["Subject"] for m in _ours(smtp_server)] == [
        "Quick question, Ada", "Re: Quick question, Ada"]


def test_a_colleague_replying_in_the_thread_ends_it(conn, db_file, intro, team, smtp_server,
                                                   mailbox, t0, invoke):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"], now_=t0)
    send_due(conn, now=t0)
    to_ada = next(m.message for m in _ours(smtp_server) if m.rcpt_tos == ["ada@example.com"])
    raw, _ = sample.reply(team["bob"], ME, t0 + timedelta(hours=1), to_ada["Subject"],
                          to_ada["Message-ID"])  # Bob answers Ada's mail
    mailbox.append("INBOX", raw, t0 + timedelta(hours=1))
    ok(invoke("scan"))
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"replied": 2}
    reasons = {r["email"]: r["reason"] for r in query(
        db_file, "SELECT p.email, e.reason FROM enrollments e JOIN prospects p"
                 " ON p.id = e.prospect_id")}
    assert reasons["ada@example.com"].startswith("bob@example.org replied in the thread")
    assert reasons["bob@example.org"].startswith("replied ")
