"""What one scan of a local Maildir records, pinned whole: every interaction row (who,
kind, date, subject, key, auto-reply text, thread, folder, bounce detail), every
processed-message row and its outcome, the quarantine row and its log line, the
folder checkpoints, the queued notifications, the leads created, the prospects' stage
and email status, and the run's counts. The same mail gives the same rows whatever the
batch size, through the bulk path or the one-by-one path a failing message forces (its
warning names how many messages its batch held)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from salescli.core.timeutil import iso
from salescli.mail import sample
from salescli.mail.run import ScanOptions
from salescli.mail.scan import scan, sources_for
from salescli.pipeline import addresses, interactions, prospects
from tests.mail.helpers import ME, ago

HOOK = "https://hooks.example/salescli"
COLLEAGUE = "colleague@ours.example"


def _raw(sender: str, to: str, when, subject: str, mid: str, *extra: str,
         body: str = "Hello.") -> bytes:
    return "\n".join([f"From: {sender}", f"To: {to}", f"Subject: {subject}",
                      f"Date: {sample._date(when)}", f"Message-ID: {mid}", *extra,
                      "Content-Type: text/plain; charset=utf-8", "", body, ""]).encode()


def _mailbox(box, people, t, *, weird: bool) -> dict:
    """Deliver the mail; returns the Message-IDs the sample builders made up."""
    ids = {}

    def put(folder, raw, when):
        sample.write_maildir_message(box / folder if folder else box, raw, when)

    # Sent, in arrival order unlike their dates: recorded in sent order all the same.
    put(".Sent", _raw(f"Sales <{ME}>", "Nina <nina@new.example>", t + timedelta(minutes=1),
                      "Hello", "<a-o2@ours.example>"), t)
    put(".Sent", _raw(f"Sales <{ME}>", "Ada <ada@example.com>", t, "Offer",
                      "<z-o1@ours.example>", "Cc: ada.alt@example.com, " + COLLEAGUE), t)
    raw, ids["ada"] = sample.reply(people["ada"], ME, t + timedelta(hours=1), "Offer",
                                   "<z-o1@ours.example>")
    put("", raw, t + timedelta(hours=1))
    raw, ids["bob"] = sample.auto_reply(people["bob"], ME, t + timedelta(hours=2), "Offer")
    put("", raw, t + timedelta(hours=2))
    raw, ids["cy"] = sample.dsn_bounce(people["cy"]["email"], ME, t + timedelta(hours=3))
    put("", raw, t + timedelta(hours=3))
    raw, ids["dee"] = sample.dsn_bounce(people["dee"]["email"], ME, t + timedelta(hours=4),
                                        hard=False)
    put("", raw, t + timedelta(hours=4))
    raw, ids["eve.old"] = sample.dsn_bounce("eve.old@example.org", ME, t + timedelta(hours=5))
    put("", raw, t + timedelta(hours=5))
    raw, ids["news"] = sample.newsletter(ME, t + timedelta(hours=6))
    put("", raw, t + timedelta(hours=6))
    put("", _raw("Zed Z <zed@else.example>", ME, t + timedelta(hours=7), "Hi",
                 "<zed.1@else.example>"), t + timedelta(hours=7))
    raw, ids["stranger-ooo"] = sample.auto_reply({"email": "sam@else.example"}, ME,
                                                 t + timedelta(hours=8), "Hi")
    put("", raw, t + timedelta(hours=8))
    raw, ids["ghost"] = sample.dsn_bounce("ghost@else.example", ME, t + timedelta(hours=9))
    put("", raw, t + timedelta(hours=9))
    put("", _raw("", ME, t + timedelta(hours=10), "no sender", "<nofrom.1@else.example>")
        .replace(b"From: \n", b""), t + timedelta(hours=10))
    raw, ids["eve"] = sample.reply(people["eve"], ME, t - timedelta(days=30), "Old", None)
    put("", raw, t - timedelta(days=30))
    if weird:
        put("", _raw("x@-weird.example", ME, t + timedelta(hours=11), "Odd",
                     "<weird.1@else.example>"), t + timedelta(hours=11))
    return ids


@pytest.fixture
def mail(tmp_path, people, conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", f"{ME}, @ours.example")
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", HOOK)
    addresses.add(conn, "tester", people["eve"]["id"], ["eve.old@example.org"])
    addresses.add(conn, "tester", people["ada"]["id"], ["ada.alt@example.com"])
    prospects.add(conn, "tester", COLLEAGUE, name="Col League")
    return tmp_path / "Maildir"


def _rows(conn, sql: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(sql)]


@pytest.mark.parametrize("batch, weird", [(500, False), (2, True), (1, True)])
def test_a_scan_records_each_kind_of_mail_whole(mail, people, conn, caplog, batch, weird):
    t = ago(days=3)
    ids = _mailbox(mail, people, t, weird=weird)
    acct = f"maildir:{mail.resolve()}"
    caplog.set_level(logging.INFO, "salescli.mail")
    counts = scan(conn, sources_for(f"maildir:{mail}"),
                  ScanOptions(create_unknown=True, batch_size=batch, deliver=False))

    at = lambda **kw: iso(t + timedelta(**kw))  # noqa: E731
    hard = "550 5.1.1 <{}>: Recipient address rejected: User unknown"
    assert _rows(conn, "SELECT p.email, i.kind, i.occurred_at, i.subject, i.message_id,"
                 " i.body, i.thread_key, i.account, i.folder, i.uid, i.detail"
                 " FROM interactions i JOIN prospects p ON p.id = i.prospect_id"
                 " ORDER BY i.id") == [
        ("ada@example.com", "email_out", at(), "Offer", "<z-o1@ours.example>", None,
         "<z-o1@ours.example>", acct, "Sent", None, None),
        ("nina@new.example", "email_out", at(minutes=1), "Hello", "<a-o2@ours.example>",
         None, "<a-o2@ours.example>", acct, "Sent", None, None),
        ("eve@example.org", "email_in", at(days=-30), "Re: Old", ids["eve"], None,
         ids["eve"], acct, "INBOX", None, None),
        ("ada@example.com", "email_in", at(hours=1), "Re: Offer", ids["ada"], None,
         "<z-o1@ours.example>", acct, "INBOX", None, None),
        ("bob@example.org", "auto_reply", at(hours=2), "Automatic reply: Offer", ids["bob"],
         "I am out of the office until Monday with limited access to email.", ids["bob"],
         acct, "INBOX", None, None),
        ("cy@example.net", "bounce", at(hours=3), "Undelivered Mail Returned to Sender",
         ids["cy"], None, ids["cy"], acct, "INBOX", None,
         json.dumps({"bounce": "hard", "diagnostic": hard.format("cy@example.net")})),
        ("dee@example.com", "bounce", at(hours=4), "Delayed Mail (still being retried)",
         ids["dee"], None, ids["dee"], acct, "INBOX", None,
         json.dumps({"bounce": "soft",
                     "diagnostic": "452 4.2.2 <dee@example.com>: Mailbox full"})),
        ("eve@example.org", "bounce", at(hours=5), "Undelivered Mail Returned to Sender",
         ids["eve.old"], None, ids["eve.old"], acct, "INBOX", None,
         json.dumps({"bounce": "hard", "diagnostic": hard.format("eve.old@example.org"),
                     "other_address": "eve.old@example.org"})),
        ("zed@else.example", "email_in", at(hours=7), "Hi", "<zed.1@else.example>", None,
         "<zed.1@else.example>", acct, "INBOX", None, None)]

    weird_reason = ("processing failed (InvalidValue: email 'x@-weird.example' is not a"
                    " valid email address)")
    assert _rows(conn, "SELECT message_key, sent_at, account, folder, uid, kind, outcome"
                 " FROM mail_messages ORDER BY sent_at, message_key") == [
        (ids["eve"], at(days=-30), acct, "INBOX", None, "inbound", "recorded"),
        ("<z-o1@ours.example>", at(), acct, "Sent", None, "outbound", "recorded"),
        ("<a-o2@ours.example>", at(minutes=1), acct, "Sent", None, "outbound", "recorded"),
        (ids["ada"], at(hours=1), acct, "INBOX", None, "inbound", "recorded"),
        (ids["bob"], at(hours=2), acct, "INBOX", None, "auto_reply", "recorded"),
        (ids["cy"], at(hours=3), acct, "INBOX", None, "bounce", "recorded"),
        (ids["dee"], at(hours=4), acct, "INBOX", None, "bounce", "recorded"),
        (ids["eve.old"], at(hours=5), acct, "INBOX", None, "bounce", "recorded"),
        (ids["news"], at(hours=6), acct, "INBOX", None, "list", "ignored"),
        ("<zed.1@else.example>", at(hours=7), acct, "INBOX", None, "inbound", "recorded"),
        (ids["stranger-ooo"], at(hours=8), acct, "INBOX", None, "auto_reply", "unmatched"),
        (ids["ghost"], at(hours=9), acct, "INBOX", None, "bounce", "unmatched"),
        ("<nofrom.1@else.example>", at(hours=10), acct, "INBOX", None, "quarantined",
         "quarantined"),
        *([("<weird.1@else.example>", at(hours=11), acct, "INBOX", None, "quarantined",
            "quarantined")] if weird else [])]

    [nofrom] = [r for r in conn.execute("SELECT * FROM mail_quarantine")
                if r["message_id"] == "<nofrom.1@else.example>"]
    where = str(next((mail / "cur").glob(f"{int((t + timedelta(hours=10)).timestamp())}.*")))
    assert (nofrom["account"], nofrom["folder"], nofrom["uid"], nofrom["location"]) == \
        (acct, "INBOX", None, where)
    quarantined = _rows(conn, "SELECT message_id, reason FROM mail_quarantine ORDER BY id")
    assert quarantined == [("<nofrom.1@else.example>", nofrom["reason"]),
                           *([("<weird.1@else.example>", weird_reason)] if weird else [])]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    redo = (f"{acct}/INBOX: {min(batch, 12)} message(s) recorded one by one after an error"
            f" in their batch (InvalidValue: email 'x@-weird.example' is not a valid email"
            " address)")
    weird_line = f"quarantined {mail.resolve()}/cur/"
    assert [w for w in warnings if not w.startswith(weird_line)] == ([redo] if weird else [])
    assert [w.split(": ", 1)[1] for w in warnings if w.startswith(weird_line)] == \
        [nofrom["reason"], *([weird_reason] if weird else [])]

    assert _rows(conn, "SELECT account, folder, last_uid, newest_message_at"
                 " FROM mail_checkpoints ORDER BY folder") == [
        (acct, "INBOX", 12 if weird else 11, at(hours=11 if weird else 10)),
        (acct, "Sent", 2, at(minutes=1))]

    def note(rule, who, key, address, when, subject, stage, diagnostic=None):
        p = dict(conn.execute("SELECT id, email, name, company, owner FROM prospects"
                              " WHERE email = ?", (who,)).fetchone())
        payload = {"account": acct, "address": address, "at": when,
                   "event_key": f"{rule}:{p['id']}:{key}", "folder": "INBOX",
                   "prospect": {**p, "stage": stage}, "subject": subject}
        if diagnostic:
            payload["diagnostic"] = diagnostic
        return (rule, p["id"], f"{rule}:{p['id']}:{key}|webhook", "https://hooks.example/…",
                payload)

    assert [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in conn.execute(
        "SELECT rule, prospect_id, event_key, recipient, payload FROM notifications"
        " ORDER BY id")] == [
        note("reply", "ada@example.com", ids["ada"], "ada@example.com", at(hours=1),
             "Re: Offer", "contacted"),
        note("hard_bounce", "cy@example.net", ids["cy"], "cy@example.net", at(hours=3),
             "Undelivered Mail Returned to Sender", "lead", hard.format("cy@example.net")),
        note("hard_bounce", "eve@example.org", ids["eve.old"], "eve.old@example.org",
             at(hours=5), "Undelivered Mail Returned to Sender", "lead",
             hard.format("eve.old@example.org")),
        note("reply", "zed@else.example", "<zed.1@else.example>", "zed@else.example",
             at(hours=7), "Hi", "lead")]

    assert _rows(conn, "SELECT p.email, p.name, p.source, p.created_at, s.name,"
                 " p.email_status, p.last_reply_at FROM prospects p"
                 " JOIN stages s ON s.id = p.stage_id ORDER BY p.id") == [
        ("ada@example.com", "Ada Lovelace", None, "2020-01-01T00:00:00Z", "replied", "ok",
         at(hours=1)),
        ("bob@example.org", "Bob Babbage", None, "2020-01-01T00:00:00Z", "lead", "ok", None),
        ("cy@example.net", "Cy Young", None, "2020-01-01T00:00:00Z", "lead", "bounced_hard",
         None),
        ("dee@example.com", "Dee Dee", None, "2020-01-01T00:00:00Z", "lead", "bounced_soft",
         None),
        ("eve@example.org", "Eve Ng", None, "2020-01-01T00:00:00Z", "lead", "ok",
         at(days=-30)),
        (COLLEAGUE, "Col League", None, conn.execute(
            "SELECT created_at FROM prospects WHERE email = ?", (COLLEAGUE,)).fetchone()[0],
         "lead", "ok", None),
        ("nina@new.example", None, "email", at(minutes=1), "contacted", "ok", None),
        ("zed@else.example", "Zed Z", "email", at(hours=7), "lead", "ok", at(hours=7))]

    per_account = {"seen": 14 if weird else 13, "matched": 9, "outbound": 2, "replies": 3,
                   "auto_replies": 1, "bounces": 3, "ignored": 1, "unmatched": 2,
                   "duplicates": 0, "quarantined": 2 if weird else 1, "created": 2}
    assert counts == {"accounts": {acct: per_account}, **per_account, "moves": 3,
                      "status_changes": 5}


def test_mail_its_prospect_has_already_is_not_recorded_again(mail, people, conn):
    """Ada's reply was logged by hand with its Message-ID before any scan: the scan
    records nothing for it (no second row, no notification) and calls it unmatched."""
    t = ago(days=1)
    raw, mid = sample.reply(people["ada"], ME, t, "Offer", None)
    sample.write_maildir_message(mail, raw, t)
    interactions.record(conn, "tester", people["ada"]["id"], "email_in", iso(t),
                        message_id=mid)
    counts = scan(conn, sources_for(f"maildir:{mail}"), ScanOptions(deliver=False))
    assert (counts["matched"], counts["replies"], counts["unmatched"]) == (0, 0, 1)
    assert _rows(conn, "SELECT outcome FROM mail_messages") == [("unmatched",)]
    assert _rows(conn, "SELECT actor FROM interactions") == [("tester",)]
    assert _rows(conn, "SELECT rule FROM notifications") == []


def test_our_mail_to_a_robot_makes_no_lead(mail, conn):
    """With --create-unknown, our mail to a no-reply address is nobody's: no lead."""
    t = ago(days=1)
    sample.write_maildir_message(mail / ".Sent", _raw(
        f"Sales <{ME}>", "Robot <no-reply@vendor.example>", t, "Re: your ticket",
        "<robot.1@ours.example>"), t)
    counts = scan(conn, sources_for(f"maildir:{mail}"),
                  ScanOptions(create_unknown=True, deliver=False))
    assert (counts["created"], counts["unmatched"], counts["outbound"]) == (0, 1, 0)
    assert _rows(conn, "SELECT email FROM prospects WHERE email LIKE '%vendor%'") == []
