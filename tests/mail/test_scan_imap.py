"""Scanning a real Dovecot: first, incremental and empty rescans, UIDVALIDITY resets, the
Sent folder by special use, ordering across folders and runs, threading, auto-replies."""

from __future__ import annotations

from datetime import timedelta

from salescli.mail import sample
from salescli.mail.scan import ScanOptions, scan
from salescli.mail.sources import ImapSource
from tests.mail.helpers import CREATED, ME, ago, kinds, last_run, snapshot, state
from tests.support.cli import ok


def _conversation(box, people, sent_folder="Sent"):
    """ada: out + reply; bob: out + auto-reply; cy: out only. Returns the Message-IDs."""
    t = ago(days=5)
    ids = {}
    sent, inbox = [], []
    for i, key in enumerate(("ada", "bob", "cy")):
        raw, mid = sample.outbound(ME, people[key], t + timedelta(hours=i), "Pipeline review")
        sent.append((raw, t + timedelta(hours=i)))
        ids[key] = mid
    raw, ids["ada_reply"] = sample.reply(people["ada"], ME, t + timedelta(days=1),
                                         "Pipeline review", ids["ada"])
    inbox.append((raw, t + timedelta(days=1)))
    raw, _ = sample.auto_reply(people["bob"], ME, t + timedelta(hours=1, minutes=1),
                               "Pipeline review", ids["bob"])
    inbox.append((raw, t + timedelta(hours=1, minutes=1)))
    box.append_many(sent_folder, sent)
    box.append_many("INBOX", inbox)
    return ids


def test_first_scan_records_contacts_replies_and_auto_replies(mailbox, people, invoke, conn):
    ids = _conversation(mailbox, people)
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["stage"] == "replied"
    assert state(conn, "ada@example.com")["last_reply_at"] is not None
    assert kinds(conn, "ada@example.com") == ["email_out", "email_in"]
    # An out-of-office answer is recorded but is not a reply.
    assert state(conn, "bob@example.org") == {"stage": "contacted", "email_status": "ok",
                                              "bounce_reason": None, "last_reply_at": None}
    assert kinds(conn, "bob@example.org") == ["email_out", "auto_reply"]
    assert state(conn, "cy@example.net")["stage"] == "contacted"
    assert state(conn, "dee@example.com")["stage"] == "lead"
    # Threading: the reply shares the thread key of the mail it answers.
    threads = dict(conn.execute(
        "SELECT kind, thread_key FROM interactions WHERE prospect_id = ?",
        (people["ada"]["id"],)).fetchall())
    assert threads["email_out"] == threads["email_in"] == ids["ada"]
    # Audit rows name the monitor, and the job history has per-account counts.
    actors = {r[0] for r in conn.execute(
        "SELECT DISTINCT actor FROM activities WHERE prospect_id = ? AND action != 'create'",
        (people["ada"]["id"],))}
    assert actors == {"monitor"}
    run = last_run(conn)
    assert run["status"] == "ok"
    acc = run["counts"]["accounts"]["default"]
    assert (acc["seen"], acc["outbound"], acc["replies"], acc["auto_replies"]) == (5, 3, 1, 1)


def test_scanning_never_marks_mail_seen(mailbox, people, invoke):
    _conversation(mailbox, people)
    ok(invoke("scan"))
    client = mailbox.client()
    client.select_folder("INBOX", readonly=True)
    assert client.search(["SEEN"]) == []
    client.logout()


def test_incremental_scan_reads_only_new_mail(mailbox, people, invoke, conn):
    _conversation(mailbox, people)
    ok(invoke("scan"))
    before = conn.execute("SELECT count(*) FROM interactions").fetchone()[0]
    raw, _ = sample.reply(people["cy"], ME, ago(hours=2), "Pipeline review", None)
    mailbox.append("INBOX", raw, ago(hours=2))
    ok(invoke("scan"))
    run = last_run(conn)
    assert run["counts"]["seen"] == 1
    assert conn.execute("SELECT count(*) FROM interactions").fetchone()[0] == before + 1
    assert state(conn, "cy@example.net")["stage"] == "replied"
    cps = dict(conn.execute("SELECT folder, last_uid FROM mail_checkpoints").fetchall())
    assert cps == {"INBOX": 3, "Sent": 3}


class CountingSource(ImapSource):
    """The real IMAP source, noting each command it sends (one round trip each)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands: list[str] = []

    def call(self, what, fn):
        self.commands.append(what.split()[0])
        return super().call(what, fn)


def test_rescan_without_new_mail_is_one_round_trip_per_folder(mailbox, people, invoke, conn):
    from salescli.mail.config import load_accounts

    _conversation(mailbox, people)
    ok(invoke("scan"))
    source = CountingSource(load_accounts()[0])
    counts = scan(conn, [source], ScanOptions(deliver=False))
    assert counts["seen"] == 0
    assert source.commands == ["connect", "STATUS", "STATUS", "LIST"]


def test_uidvalidity_reset_rescans_without_duplicates(mailbox, people, invoke, conn):
    _conversation(mailbox, people)
    ok(invoke("scan"))
    before = snapshot(conn_path := conn.execute("PRAGMA database_list").fetchone()[2])
    old = conn.execute("SELECT uidvalidity FROM mail_checkpoints WHERE folder = 'Sent'"
                       ).fetchone()[0]
    # Delete and recreate the Sent folder with the same mail: new UIDVALIDITY.
    client = mailbox.client()
    client.select_folder("Sent")
    messages = client.fetch(client.search(), ["RFC822", "INTERNALDATE"])
    client.close_folder()
    client.delete_folder("Sent")
    client.create_folder("Sent")
    for data in messages.values():
        client.append("Sent", data[b"RFC822"], msg_time=data[b"INTERNALDATE"])
    client.logout()
    result = invoke("scan")
    ok(result)
    assert ("account default: folder Sent has a new UIDVALIDITY: rescanning it (known "
            "messages are skipped)") in result.stderr, result.stderr  # the user is told why
    new = conn.execute("SELECT uidvalidity FROM mail_checkpoints WHERE folder = 'Sent'"
                       ).fetchone()[0]
    assert new != old
    run = last_run(conn)
    assert run["counts"]["duplicates"] == 3 and run["counts"]["matched"] == 0
    after = snapshot(conn_path)
    assert {k: v for k, v in after.items() if k != "checkpoints"} == \
        {k: v for k, v in before.items() if k != "checkpoints"}


def test_sent_folder_found_by_special_use_under_another_name(mailbox, people, invoke, conn):
    _conversation(mailbox, people, sent_folder="Sent Items")
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["stage"] == "replied"
    folders = {r[0] for r in conn.execute("SELECT folder FROM interactions WHERE kind = "
                                          "'email_out'")}
    assert folders == {"Sent Items"}


def test_outbound_found_without_our_addresses_configured(mailbox, people, invoke, conn,
                                                          monkeypatch):
    """Mail in the Sent folder is ours even when SALESCLI_MY_ADDRESSES is unset."""
    monkeypatch.delenv("SALESCLI_MY_ADDRESSES")
    _conversation(mailbox, people)
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["stage"] == "replied"
    assert state(conn, "cy@example.net")["stage"] == "contacted"


def test_reply_found_before_its_outbound_mail_still_ends_replied(
        dovecot, mailbox, people, invoke, conn, tmp_path, monkeypatch):
    t = ago(days=3)
    raw_out, mid = sample.outbound(ME, people["ada"], t, "Intro")
    raw_in, _ = sample.reply(people["ada"], ME, t + timedelta(hours=3), "Intro", mid)
    # Run 1 sees only the reply (INBOX), run 2 the outbound mail (Sent, dated earlier).
    mailbox.append("INBOX", raw_in, t + timedelta(hours=3))
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["stage"] == "lead"
    mailbox.append("Sent", raw_out, t)
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["stage"] == "replied"
    incremental = snapshot(tmp_path / "sales.db")

    # The same mail in one first scan gives the same facts.
    other = tmp_path / "other.db"
    monkeypatch.setenv("SALESCLI_DB", str(other))
    from salescli.core import db
    from salescli.pipeline import prospects
    c = db.open_write(other)
    for p in people.values():
        prospects.add(c, "tester", p["email"], name=p["name"], company=p["company"],
                      at=CREATED)
    c.close()
    ok(invoke("scan"))
    once = snapshot(other)
    for table in ("prospects", "interactions", "messages"):
        assert incremental[table] == once[table], table
    strip = lambda rows: [r for r in rows if r[4] == "monitor"]  # noqa: E731
    assert strip(incremental["stage_changes"]) == strip(once["stage_changes"])
