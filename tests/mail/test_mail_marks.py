"""Marks a user relies on (issue 17's surviving mutants): each reply notifies the owner,
a full mailbox is a soft bounce, ``Precedence: bulk`` alone marks bulk mail, and a person
who writes ``Auto-Submitted: no`` is a person. Local Maildirs: no server needed."""

from __future__ import annotations

import quopri
from datetime import timedelta

import pytest

from salescli.mail import sample
from tests.mail.helpers import ME, ago, kinds, state
from tests.support.cli import ok


def _scan(invoke, path):
    ok(invoke("scan", "--source", f"maildir:{path}"))


def _deliver(path, raw: bytes, when) -> None:
    sample.write_maildir_message(path, raw, when)


def test_every_reply_of_a_prospect_notifies_the_owner(tmp_path, people, invoke, conn,
                                                        monkeypatch):
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # queued, not sent
    box = tmp_path / "Maildir"
    t = ago(days=2)
    raw, mid = sample.outbound(ME, people["ada"], t, "Hi")
    _deliver(box / ".Sent", raw, t)
    _deliver(box, sample.reply(people["ada"], ME, t + timedelta(hours=1), "Hi", mid)[0],
             t + timedelta(hours=1))
    _scan(invoke, box)
    # A second reply from the same person, found by a later scan, is news too.
    _deliver(box, sample.reply(people["ada"], ME, t + timedelta(hours=5), "Hi", mid)[0],
             t + timedelta(hours=5))
    _scan(invoke, box)
    rows = conn.execute("SELECT rule, prospect_id FROM notifications ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [("reply", people["ada"]["id"])] * 2
    assert kinds(conn, "ada@example.com") == ["email_out", "email_in", "email_in"]


DSN_FULL = """From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {me}
Subject: Undelivered Mail Returned to Sender
Date: {date}
Message-ID: <full.{n}@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

<{addr}>: 552 5.2.2 Mailbox full, quota exceeded

--B
Content-Type: message/delivery-status
Content-Transfer-Encoding: {cte}

{report}
--B--
"""


def _full_report(addr: str) -> str:
    return (f"Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; {addr}\n"
            f"Action: failed\nStatus: 5.2.2\n"
            f"Diagnostic-Code: smtp; 552 5.2.2 <{addr}>: Mailbox full, quota exceeded\n")


def test_mailbox_full_is_a_soft_bounce(tmp_path, people, invoke, conn):
    """x.2.2 (mailbox full) is temporary whatever the Action; read directly (7bit part)
    or by the whole-message parser (quoted-printable part)."""
    box = tmp_path / "Maildir"
    t = ago(days=1)
    for n, (key, cte) in enumerate((("ada", "7bit"), ("bob", "quoted-printable"))):
        addr = people[key]["email"]
        report = _full_report(addr)
        if cte == "quoted-printable":
            report = quopri.encodestring(report.encode()).decode()
        raw = DSN_FULL.format(me=ME, addr=addr, n=n, cte=cte, report=report,
                              date=sample._date(t))
        _deliver(box, raw.encode(), t)
    _scan(invoke, box)
    for key in ("ada", "bob"):
        s = state(conn, people[key]["email"])
        assert s["email_status"] == "bounced_soft", key
        assert "Mailbox full" in s["bounce_reason"], key


@pytest.mark.parametrize("precedence", ["bulk", "list", "junk", " List "])
def test_precedence_bulk_alone_marks_bulk_mail(tmp_path, people, invoke, conn, precedence):
    """A prospect's company mailing from their address with ``Precedence: bulk`` (or list,
    or junk, in any case) and no List-Id is not a reply."""
    box = tmp_path / "Maildir"
    t = ago(days=2)
    raw, mid = sample.outbound(ME, people["ada"], t, "Hi")
    _deliver(box / ".Sent", raw, t)
    bulk = (f"From: Ada Lovelace <ada@example.com>\nTo: {ME}\nSubject: Our spring catalogue\n"
            f"Date: {sample._date(t + timedelta(hours=2))}\nMessage-ID: <bulk.1@example.com>\n"
            f"Precedence:{precedence}\n\nNew products.\n").encode()
    _deliver(box, bulk, t + timedelta(hours=2))
    _scan(invoke, box)
    assert state(conn, "ada@example.com")["stage"] == "contacted"
    assert state(conn, "ada@example.com")["last_reply_at"] is None
    assert kinds(conn, "ada@example.com") == ["email_out"]


def test_auto_submitted_no_is_a_person_replying(tmp_path, people, invoke, conn):
    box = tmp_path / "Maildir"
    t = ago(days=2)
    raw, mid = sample.outbound(ME, people["ada"], t, "Hi")
    _deliver(box / ".Sent", raw, t)
    raw, _ = sample.reply(people["ada"], ME, t + timedelta(hours=3), "Hi", mid)
    raw = raw.replace(b"MIME-Version", b"Auto-Submitted: no\nMIME-Version")
    _deliver(box, raw, t + timedelta(hours=3))
    _scan(invoke, box)
    assert state(conn, "ada@example.com")["stage"] == "replied"
    assert kinds(conn, "ada@example.com") == ["email_out", "email_in"]


def test_a_date_in_utc_with_no_known_zone_is_read_as_utc(tmp_path, people, invoke, conn):
    """``-0000`` (RFC 5322: the time is UTC, the sender's zone unknown): the reply is
    recorded at that UTC time, and is Ada's last reply."""
    box = tmp_path / "Maildir"
    t = ago(days=2)
    raw, mid = sample.outbound(ME, people["ada"], t, "Hi")
    _deliver(box / ".Sent", raw, t)
    when = t + timedelta(hours=3)
    raw, _ = sample.reply(people["ada"], ME, when, "Hi", mid)
    raw = raw.replace(f"Date: {sample._date(when)}".encode(),
                      when.strftime("Date: %a, %d %b %Y %H:%M:%S -0000").encode())
    assert b"-0000" in raw
    _deliver(box, raw, t + timedelta(days=1))  # the file's own time is later
    _scan(invoke, box)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert state(conn, "ada@example.com")["last_reply_at"] == stamp
    assert kinds(conn, "ada@example.com") == ["email_out", "email_in"]
