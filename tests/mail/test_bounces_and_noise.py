"""Bounces (RFC 3464 and the common non-standard formats), and the mail that must never
count: auto-replies, lists, no-reply senders, internal mail; unknown senders; --since."""

from __future__ import annotations

from datetime import timedelta

from salescli.mail import sample
from tests.mail.helpers import ME, ago, kinds, last_run, state
from tests.support.cli import ok


def _sent(box, person, when, subject="Hello"):
    raw, mid = sample.outbound(ME, person, when, subject)
    box.append("Sent", raw, when)
    return mid


def test_dsn_hard_and_soft_bounces(mailbox, people, invoke, conn):
    t = ago(days=2)
    _sent(mailbox, people["ada"], t)
    _sent(mailbox, people["bob"], t)
    hard, _ = sample.dsn_bounce("ada@example.com", ME, t + timedelta(minutes=5), hard=True)
    soft, _ = sample.dsn_bounce("bob@example.org", ME, t + timedelta(minutes=6), hard=False)
    mailbox.append_many("INBOX", [(hard, t + timedelta(minutes=5)),
                                  (soft, t + timedelta(minutes=6))])
    ok(invoke("scan"))
    ada, bob = state(conn, "ada@example.com"), state(conn, "bob@example.org")
    assert ada["email_status"] == "bounced_hard"
    assert "5.1.1" in ada["bounce_reason"] and "User unknown" in ada["bounce_reason"]
    assert bob["email_status"] == "bounced_soft" and "Mailbox full" in bob["bounce_reason"]
    assert kinds(conn, "ada@example.com") == ["email_out", "bounce"]
    # A bounce is not a reply.
    assert ada["stage"] == bob["stage"] == "contacted" and ada["last_reply_at"] is None
    assert last_run(conn)["counts"]["bounces"] == 2


def test_reply_clears_a_soft_bounce_but_not_a_hard_one(mailbox, people, invoke, conn):
    t = ago(days=4)
    for key in ("ada", "bob"):
        _sent(mailbox, people[key], t)
    hard, _ = sample.dsn_bounce("ada@example.com", ME, t + timedelta(minutes=5), hard=True)
    soft, _ = sample.dsn_bounce("bob@example.org", ME, t + timedelta(minutes=6), hard=False)
    mailbox.append_many("INBOX", [(hard, t + timedelta(minutes=5)),
                                  (soft, t + timedelta(minutes=6))])
    ok(invoke("scan"))
    later = t + timedelta(days=1)
    for key in ("ada", "bob"):
        raw, _ = sample.reply(people[key], ME, later, "Hello", None)
        mailbox.append("INBOX", raw, later)
    ok(invoke("scan"))
    assert state(conn, "bob@example.org")["email_status"] == "ok"
    assert state(conn, "bob@example.org")["bounce_reason"] is None
    assert state(conn, "ada@example.com")["email_status"] == "bounced_hard"
    assert state(conn, "ada@example.com")["stage"] == "replied"


def test_hard_bounce_stays_reset_until_a_new_bounce(mailbox, people, invoke, conn):
    t = ago(days=4)
    _sent(mailbox, people["ada"], t)
    hard, _ = sample.dsn_bounce("ada@example.com", ME, t + timedelta(minutes=5))
    mailbox.append("INBOX", hard, t + timedelta(minutes=5))
    ok(invoke("scan"))
    ok(invoke("prospects", "update", "ada@example.com", "--email-status", "ok"))
    # New mail for ada (not a bounce): the old bounce is not applied again.
    raw, _ = sample.reply(people["ada"], ME, ago(hours=3), "Hello", None)
    mailbox.append("INBOX", raw, ago(hours=3))
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["email_status"] == "ok"
    # A new hard bounce after the reset marks it again.
    again, _ = sample.dsn_bounce("ada@example.com", ME, ago(hours=1))
    mailbox.append("INBOX", again, ago(hours=1))
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["email_status"] == "bounced_hard"


QMAIL = """From: MAILER-DAEMON@mail.example.net
To: {me}
Subject: failure notice
Date: {date}
Message-ID: <qmail.{n}@mail.example.net>

Hi. This is the qmail-send program at mail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{addr}>:
192.0.2.1 does not like recipient.
Remote host said: 550 5.1.1 <{addr}>... User unknown
Giving up on 192.0.2.1.

--- Below this line is a copy of the message.

From: {me}
To: {addr}
Subject: Hello
"""

EXIM = """From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: {me}
Subject: Mail delivery failed: returning message to sender
Date: {date}
Message-ID: <exim.{n}@mx.example.org>
X-Failed-Recipients: {addr}
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {addr}
    SMTP error from remote mail server after RCPT TO:<{addr}>:
    550 5.1.1 <{addr}>: Recipient address rejected: User unknown in virtual mailbox table
"""

EXCHANGE = """From: System Administrator <postmaster@corp.example>
To: {me}
Subject: Undeliverable: Hello
Date: {date}
Message-ID: <exch.{n}@corp.example>
Content-Type: text/plain

Your message

  Subject: Hello

did not reach the following recipient(s):

{addr} on 10/2/2023 10:00 AM
    The e-mail account does not exist at the organization this message was sent to.
    MSEXCH:IMS:Corp:Site:SERVER 0 (000C05A6) Unknown Recipient
"""


def test_non_standard_bounces(mailbox, people, invoke, conn):
    t = ago(days=1)
    for n, (template, key) in enumerate(((QMAIL, "ada"), (EXIM, "bob"), (EXCHANGE, "cy"))):
        _sent(mailbox, people[key], t)
        raw = template.format(me=ME, addr=people[key]["email"], n=n,
                              date=sample._date(t + timedelta(minutes=9)))
        mailbox.append("INBOX", raw.encode(), t + timedelta(minutes=9))
    ok(invoke("scan"))
    for key in ("ada", "bob", "cy"):
        s = state(conn, people[key]["email"])
        assert s["email_status"] == "bounced_hard", key
        assert s["bounce_reason"], key
    assert "550 5.1.1" in state(conn, "bob@example.org")["bounce_reason"]


def test_auto_reply_subjects_and_headers_never_count_as_replies(mailbox, people, invoke, conn):
    t = ago(days=2)
    for key in ("ada", "bob", "cy"):
        _sent(mailbox, people[key], t)
    marks = {"ada": ("Auto-Submitted: auto-replied", "Re: Hello"),
             "bob": ("Precedence: auto_reply", "Re: Hello"),
             "cy": ("X-Mailer: Outlook", "Out of Office: Hello")}
    for key, (header, subject) in marks.items():
        raw = (f"From: {people[key]['email']}\nTo: {ME}\nSubject: {subject}\n"
               f"Date: {sample._date(t + timedelta(minutes=1))}\n"
               f"Message-ID: <auto.{key}@x.example>\n{header}\n\nAway.\n").encode()
        mailbox.append("INBOX", raw, t + timedelta(minutes=1))
    ok(invoke("scan"))
    for key in marks:
        assert state(conn, people[key]["email"])["stage"] == "contacted", key
        assert kinds(conn, people[key]["email"]) == ["email_out", "auto_reply"], key


def test_lists_no_reply_and_internal_mail_are_ignored(mailbox, people, invoke, conn,
                                                      monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", f"{ME}, @ours.example")
    t = ago(days=1)
    _sent(mailbox, people["ada"], t)
    news, _ = sample.newsletter(ME, t + timedelta(hours=1), sender="ada@example.com")
    noreply = (f"From: Example <no-reply@example.com>\nTo: {ME}\nSubject: Your receipt\n"
               f"Date: {sample._date(t)}\nMessage-ID: <r1@example.com>\n\nThanks\n").encode()
    internal = (f"From: {ME}\nTo: colleague@ours.example\nSubject: lunch?\n"
                f"Date: {sample._date(t)}\nMessage-ID: <i1@ours.example>\n\n12?\n").encode()
    robot = (f"From: Build Bot <builds@ci.example>\nTo: {ME}\nSubject: build passed\n"
             f"Date: {sample._date(t)}\nMessage-ID: <b1@ci.example>\n"
             "Auto-Submitted: auto-generated\n\nok\n").encode()
    mailbox.append_many("INBOX", [(news, t + timedelta(hours=1)), (noreply, t), (robot, t)])
    mailbox.append("Sent", internal, t)
    ok(invoke("scan", "--create-unknown"))
    # The newsletter from ada's address is not her reply.
    assert state(conn, "ada@example.com")["stage"] == "contacted"
    assert kinds(conn, "ada@example.com") == ["email_out"]
    emails = {r[0] for r in conn.execute("SELECT email FROM prospects")}
    assert not emails & {"no-reply@example.com", "colleague@ours.example", "builds@ci.example"}
    counts = last_run(conn)["counts"]
    assert counts["ignored"] == 4 and counts["created"] == 0


def test_unknown_senders_are_counted_or_become_leads(mailbox, people, invoke, conn):
    t = ago(days=1)
    stranger = {"email": "Zoe.Q@NewCo.example", "name": "Zoë Quinn"}
    raw, _ = sample.reply(stranger, ME, t, "Your product", None)
    mailbox.append("INBOX", raw, t)
    raw, _ = sample.outbound(ME, {"email": "yan@other.example", "name": "Yan"}, t, "Hi")
    mailbox.append("Sent", raw, t)
    ok(invoke("scan"))
    assert conn.execute("SELECT count(*) FROM prospects").fetchone()[0] == 5
    assert last_run(conn)["counts"]["unmatched"] == 2
    # A later run with --create-unknown does not revisit mail already processed…
    ok(invoke("scan", "--create-unknown"))
    assert conn.execute("SELECT count(*) FROM prospects").fetchone()[0] == 5
    # …but new mail from strangers becomes leads (and contacts).
    raw, _ = sample.reply({"email": "xi@third.example", "name": "Xi Li"}, ME, ago(hours=1),
                          "Question", None)
    mailbox.append("INBOX", raw, ago(hours=1))
    raw, _ = sample.outbound(ME, {"email": "wu@fourth.example"}, ago(hours=1), "Intro")
    mailbox.append("Sent", raw, ago(hours=1))
    ok(invoke("scan", "--create-unknown"))
    rows = {r["email"]: dict(r) for r in conn.execute(
        "SELECT p.email, p.name, p.source, s.name AS stage FROM prospects p"
        " JOIN stages s ON s.id = p.stage_id")}
    assert rows["xi@third.example"]["name"] == "Xi Li"
    assert rows["xi@third.example"]["source"] == "email"
    assert rows["xi@third.example"]["stage"] == "lead"  # wrote first: no outbound yet
    assert rows["wu@fourth.example"]["stage"] == "contacted"
    creator = conn.execute("SELECT actor FROM activities WHERE action = 'create' AND"
                           " entity = 'prospect' ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert creator == "monitor"


def test_since_bounds_the_first_import(mailbox, people, invoke, conn):
    old, recent = ago(days=40), ago(days=2)
    _sent(mailbox, people["ada"], old)
    _sent(mailbox, people["bob"], recent)
    ok(invoke("scan", "--since", "30d"))
    assert state(conn, "ada@example.com")["stage"] == "lead"
    assert state(conn, "bob@example.org")["stage"] == "contacted"
    # Later runs do not go back for it either.
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["stage"] == "lead"
