"""Malformed mail: what cannot be used is quarantined with its location and reason, what
can be repaired is recorded, and the scan always goes on."""

from __future__ import annotations

from salescli.mail import sample
from tests.mail.helpers import ME, ago, last_run
from tests.support.cli import ok

D = sample._date(ago(days=1))

# name → (raw message, expected: "quarantine" + reason fragment, or "recorded" + subject)
CASES = {
    "missing From": (
        f"To: {ME}\nSubject: who am I\nDate: {D}\nMessage-ID: <m1@x.example>\n\nhi\n",
        ("quarantine", "no From header")),
    "From without an address": (
        f"From: undisclosed sender\nTo: {ME}\nSubject: x\nDate: {D}\n"
        "Message-ID: <m2@x.example>\n\nhi\n",
        ("quarantine", "no usable From address")),
    "no From, a Sender without an address": (
        f"Sender: undisclosed sender\nTo: {ME}\nSubject: x\nDate: {D}\n"
        "Message-ID: <m2s@x.example>\n\nhi\n",
        ("quarantine", "no usable From address")),
    "huge header": (
        f"From: ada@example.com\nTo: {ME}\nSubject: big\nDate: {D}\n"
        "Message-ID: <m3@x.example>\nReferences: "
        + " ".join(f"<ref{i}@x.example>" for i in range(40000)) + "\n\nhi\n",
        ("quarantine", "header block too large")),
    "broken MIME delivery report": (
        f"From: MAILER-DAEMON@mx.example\nTo: {ME}\nSubject: Undelivered Mail\nDate: {D}\n"
        "Message-ID: <m4@mx.example>\n"
        "Content-Type: multipart/report; report-type=delivery-status\n\n"
        "--nobody-declared-me\nContent-Type: message/delivery-status\n\nAction: failed\n",
        ("quarantine", "delivery report")),
    "unknown charset": (
        f"From: bob@example.org\nTo: {ME}\nSubject: =?x-klingon?Q?Qapla=E2?= deal\n"
        f"Date: {D}\nMessage-ID: <m5@x.example>\n\nhi\n",
        ("recorded", "deal")),
    "8-bit UTF-8 header": (
        f"From: Cy Young <cy@example.net>\nTo: {ME}\nSubject: Grüße aus Köln\nDate: {D}\n"
        "Message-ID: <m6@x.example>\n\nhi\n",
        ("recorded", "Grüße aus Köln")),
    "8-bit Latin-1 header": (
        (f"From: dee@example.com\nTo: {ME}\nSubject: Caf\xe9 cr\xe8me\nDate: {D}\n"
         "Message-ID: <m7@x.example>\n\nhi\n").encode("latin-1"),
        ("recorded", "Café crème")),
    "no Date, no Message-ID": (
        f"From: eve@example.org\nTo: {ME}\nSubject: undated\n\nhi\n",
        ("recorded", "undated")),
}


def test_malformed_mail_is_quarantined_or_repaired_and_the_scan_goes_on(
        mailbox, people, invoke, conn):
    when = ago(days=1)
    uids = {}
    for name, (raw, _expect) in CASES.items():
        data = raw if isinstance(raw, bytes) else raw.encode()
        uids[name] = mailbox.append("INBOX", data, when)
    good, _ = sample.reply(people["ada"], ME, ago(hours=1), "Still here", None)
    mailbox.append("INBOX", good, ago(hours=1))
    ok(invoke("scan"))

    quarantined = {r["uid"]: dict(r) for r in conn.execute("SELECT * FROM mail_quarantine")}
    subjects = {r[0] for r in conn.execute("SELECT subject FROM interactions")}
    for name, (_raw, (outcome, text)) in CASES.items():
        if outcome == "quarantine":
            row = quarantined.get(uids[name])
            assert row is not None, name
            assert text in row["reason"], (name, row["reason"])
            assert row["location"].endswith(f"/INBOX;UID={uids[name]}"), row["location"]
        else:
            assert any(s and text in s for s in subjects), (name, subjects)
    assert "Re: Still here" in subjects  # the mail after the bad ones
    assert len(quarantined) == 5
    run = last_run(conn)
    assert run["status"] == "ok" and run["counts"]["quarantined"] == 5

    # A rescan of the whole folder quarantines nothing twice and records nothing twice.
    conn.execute("DELETE FROM mail_checkpoints")
    ok(invoke("scan"))
    assert conn.execute("SELECT count(*) FROM mail_quarantine").fetchone()[0] == 5
    assert last_run(conn)["counts"]["duplicates"] == len(CASES) + 1


def test_undated_mail_uses_the_arrival_time(mailbox, people, invoke, conn):
    arrived = ago(days=3)
    mailbox.append("INBOX", f"From: eve@example.org\nTo: {ME}\nSubject: x\n\nhi\n".encode(),
                   arrived)
    ok(invoke("scan"))
    at = conn.execute("SELECT occurred_at FROM interactions").fetchone()[0]
    assert at == arrived.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_message_that_fails_to_record_is_quarantined_alone(mailbox, people, invoke, conn):
    """A real database error on one message (a trigger refusing it) rolls back only that
    message: the rest of its batch is recorded and counted once."""
    conn.execute("CREATE TRIGGER poison BEFORE INSERT ON interactions"
                 " WHEN new.subject = 'Re: poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
    t = ago(days=1)
    mailbox.append_many("INBOX", [
        (sample.reply(people[k], ME, t, subject, None)[0], t)
        for k, subject in (("ada", "fine"), ("bob", "poison"), ("cy", "also fine"))])
    ok(invoke("scan"))
    reasons = [r[0] for r in conn.execute("SELECT reason FROM mail_quarantine")]
    assert len(reasons) == 1 and "poisoned" in reasons[0]
    assert {r[0] for r in conn.execute("SELECT subject FROM interactions")} == \
        {"Re: fine", "Re: also fine"}
    counts = last_run(conn)["counts"]
    assert (counts["seen"], counts["replies"], counts["quarantined"]) == (3, 2, 1)


def test_a_parser_failure_quarantines_each_message_it_hits_and_the_scan_goes_on(
        tmp_path, people, invoke, conn, monkeypatch):
    """No known input breaks the header parser, so a fault stands in for a parser bug on
    hostile input: each message it hits is quarantined on its own (two of them, not one
    taken for the other's duplicate) with the error, and the rest is recorded."""
    from salescli.mail import parse

    real = parse.header_items

    def failing(raw: bytes):
        if b"X-Poison" in raw:
            raise RuntimeError("boom")
        return real(raw)

    monkeypatch.setattr(parse, "header_items", failing)
    box = tmp_path / "Maildir"
    when = ago(days=1)
    for n in (1, 2):
        sample.write_maildir_message(box, (
            f"From: eve@example.org\nTo: {ME}\nSubject: poison {n}\nX-Poison: {n}\n"
            f"Date: {D}\n\nhi\n").encode(), when)
    good, _ = sample.reply(people["ada"], ME, when, "Hello", None)
    sample.write_maildir_message(box, good, when)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert [r[0] for r in conn.execute("SELECT reason FROM mail_quarantine ORDER BY id")] == \
        ["headers could not be parsed (RuntimeError: boom)"] * 2
    assert conn.execute("SELECT count(*) FROM interactions i JOIN prospects p ON"
                        " p.id = i.prospect_id WHERE p.email = 'ada@example.com'"
                        ).fetchone()[0] == 1



def test_a_huge_header_in_a_maildir_is_quarantined_with_the_size_of_the_header(
        tmp_path, people, invoke, conn):
    """The reason states the header block's size: the header up to the first empty line,
    not the paragraphs of the text after it."""
    refs = " ".join(f"<ref{i}@x.example>" for i in range(40000))
    raw = (f"From: ada@example.com\nTo: {ME}\nSubject: big\nDate: {D}\n"
           f"Message-ID: <m3@x.example>\nReferences: {refs}\n\nfirst paragraph\n\n"
           "second paragraph\n").encode()
    size = raw.index(b"\n\n") + 2
    sample.write_maildir_message(tmp_path / "Maildir", raw, ago(days=1))
    ok(invoke("scan", "--source", f"maildir:{tmp_path / 'Maildir'}"))
    assert [r[0] for r in conn.execute("SELECT reason FROM mail_quarantine")] == \
        [f"header block too large ({size} bytes > {512 * 1024})"]
