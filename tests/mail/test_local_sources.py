"""Local mail as people keep it: an mbsync ``inbox`` in lower case, a Maildir recorded in
small batches, a directory of mbox files beside hidden files, and an mbox message without a
Date (its ``From_`` line says when it came)."""

from __future__ import annotations

import mailbox
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from salescli.core.timeutil import iso
from salescli.mail import sample
from tests.mail.helpers import ME, ago, kinds, last_run, state
from tests.support.cli import ok


def _folders(conn, email_: str) -> list[tuple[str, str]]:
    return [tuple(r) for r in conn.execute(
        "SELECT i.kind, i.folder FROM interactions i JOIN prospects p ON p.id = i.prospect_id"
        " WHERE p.email = ? ORDER BY i.occurred_at", (email_,))]


def test_an_mbsync_inbox_in_lower_case_is_the_inbox(tmp_path, people, invoke, conn):
    t = ago(days=2)
    raw, mid = sample.outbound(ME, people["ada"], t, "Hi")
    sample.write_maildir_message(tmp_path / "mail" / "Sent", raw, t)
    raw, _ = sample.reply(people["ada"], ME, t + timedelta(hours=2), "Hi", mid)
    sample.write_maildir_message(tmp_path / "mail" / "inbox", raw, t + timedelta(hours=2))
    ok(invoke("scan", "--source", f"maildir:{tmp_path / 'mail'}"))
    assert _folders(conn, "ada@example.com") == [("email_out", "Sent"), ("email_in", "INBOX")]


def test_a_maildir_recorded_in_batches_of_one(tmp_path, people, invoke, conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_SCAN_BATCH", "1")
    box = tmp_path / "Maildir"
    t = ago(days=2)
    for n, key in enumerate(("ada", "bob", "cy")):
        raw, _ = sample.outbound(ME, people[key], t + timedelta(minutes=n), "Hi")
        sample.write_maildir_message(box / ".Sent", raw, t + timedelta(minutes=n))
    raw, _ = sample.reply(people["dee"], ME, t, "Hi", None)
    sample.write_maildir_message(box, raw, t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert [state(conn, people[k]["email"])["stage"] for k in ("ada", "bob", "cy")] == \
        ["contacted"] * 3
    assert kinds(conn, "dee@example.com") == ["email_in"]
    assert (last_run(conn)["counts"]["outbound"], last_run(conn)["counts"]["replies"]) == (3, 1)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert last_run(conn)["counts"]["seen"] == 0


def test_a_directory_of_mbox_files_skips_hidden_files(tmp_path, people, invoke, conn,
                                                      monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    t = ago(days=2)
    for name, key in (("sent-mail", "ada"), (".sent-mail.swp", "bob")):
        box = mailbox.mbox(tmp_path / name)
        box.add(sample.outbound(ME, people[key], t, "Hello")[0])
        box.flush()
        box.close()
    ok(invoke("scan", "--source", f"mbox:{tmp_path}"))
    assert kinds(conn, "ada@example.com") == ["email_out"]
    assert kinds(conn, "bob@example.org") == []


def test_an_mbox_message_without_a_date_is_dated_by_its_from_line(tmp_path, people, invoke,
                                                                  conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    when = ago(days=3)
    raw, _ = sample.reply(people["cy"], ME, when, "Hello", None)
    msg = mailbox.mboxMessage(b"\n".join(line for line in raw.split(b"\n")
                                         if not line.startswith(b"Date:")))
    msg.set_from("cy@example.net", when.timetuple())
    box = mailbox.mbox(tmp_path / "in.mbox")
    box.add(msg)
    box.flush()
    box.close()
    ok(invoke("scan", "--source", f"mbox:{tmp_path / 'in.mbox'}"))
    assert state(conn, "cy@example.net")["last_reply_at"] == iso(when)
    assert conn.execute("SELECT count(*) FROM mail_quarantine").fetchone()[0] == 0


@pytest.fixture(params=["UTC", "Asia/Tokyo"])
def machine_zone(request, monkeypatch):
    """The machine's local time zone (the arrival time must not depend on it)."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_a_message_with_an_unreadable_date_is_dated_by_its_arrival(tmp_path, people, invoke,
                                                                   conn, machine_zone):
    box = tmp_path / "Maildir"
    when = ago(days=2)
    raw, _ = sample.reply(people["eve"], ME, when, "Hello", None)
    raw = b"\n".join(b"Date: the day after tomorrow-ish" if line.startswith(b"Date:") else line
                     for line in raw.split(b"\n"))
    sample.write_maildir_message(box, raw, when)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert state(conn, "eve@example.org")["last_reply_at"] == iso(when)
    assert conn.execute("SELECT count(*) FROM mail_quarantine").fetchone()[0] == 0


def test_a_mail_to_a_stranger_and_a_prospect_is_recorded_for_the_prospect(tmp_path, people,
                                                                          invoke, conn):
    """Our mail to someone we do not know (To) and to Ada (Cc): the stranger is no
    prospect (no --create-unknown), Ada's contact is recorded all the same."""
    t = ago(days=2)
    raw, _ = sample.outbound(ME, {"email": "stranger@elsewhere.example", "name": "Stan"}, t,
                             "Intro", cc="Ada <ada@example.com>")
    sample.write_maildir_message(tmp_path / "mail" / "Sent", raw, t)
    ok(invoke("scan", "--source", f"maildir:{tmp_path / 'mail'}"))
    assert kinds(conn, "ada@example.com") == ["email_out"]
    assert state(conn, "ada@example.com")["stage"] == "contacted"
    assert conn.execute("SELECT count(*) FROM prospects WHERE email LIKE 'stranger@%'"
                        ).fetchone()[0] == 0


def test_internal_mail_saying_stop_suppresses_nobody(tmp_path, conn, invoke, monkeypatch):
    """A colleague at our own domain who is also a prospect writes "Stop" to us: internal
    mail is never an unsubscribe request."""
    from salescli.pipeline import prospects

    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", f"{ME}, @ours.example")
    prospects.add(conn, "tester", "colleague@ours.example", name="Col League")
    t = ago(days=1)
    sample.write_maildir_message(tmp_path / "Maildir", (
        f"From: Col League <colleague@ours.example>\nTo: {ME}\nSubject: Stop\n"
        f"Date: {sample._date(t)}\nMessage-ID: <stop.1@ours.example>\n\nlunch?\n").encode(), t)
    ok(invoke("scan", "--source", f"maildir:{tmp_path / 'Maildir'}"))
    assert last_run(conn)["counts"].get("unsubscribed", 0) == 0
    assert conn.execute("SELECT count(*) FROM suppressions").fetchone()[0] == 0


def test_our_address_learned_from_sent_holds_for_the_inbox(tmp_path, people, invoke, conn,
                                                           monkeypatch):
    """With no SALESCLI_MY_ADDRESSES, the From of the Sent folder is ours: the Sent folder
    is read first, so our copy of a mail to Bob in INBOX (a Bcc to ourselves) is our
    mail to Bob, not mail from a stranger."""
    monkeypatch.delenv("SALESCLI_MY_ADDRESSES", raising=False)
    box = tmp_path / "Maildir"
    t = ago(days=2)
    raw, _ = sample.outbound(ME, people["ada"], t, "Hi")
    sample.write_maildir_message(box / ".Sent", raw, t)
    raw, _ = sample.outbound(ME, people["bob"], t + timedelta(hours=1), "Hi Bob")
    sample.write_maildir_message(box, raw, t + timedelta(hours=1))
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert kinds(conn, "bob@example.org") == ["email_out"]
    assert state(conn, "bob@example.org")["stage"] == "contacted"


def test_an_auto_reply_whose_text_cannot_be_read_is_recorded_and_the_log_says_why(
        tmp_path, people, invoke, conn):
    """A charset Python knows but cannot decode with replacements (idna): the text is
    skipped with a warning naming the message and the error; the auto-reply counts."""
    box = tmp_path / "Maildir"
    t = ago(days=1)
    raw, _ = sample.auto_reply(people["ada"], ME, t, "Hello")
    raw = raw.replace(b"charset=utf-8", b"charset=idna")
    path = sample.write_maildir_message(box, raw, t)
    result = invoke("scan", "--source", f"maildir:{box}")
    ok(result)
    [warning] = [ln for ln in result.stderr.splitlines() if "text not readable" in ln]
    assert f"{path.name}: text not readable (UnicodeError: " in warning
    assert kinds(conn, "ada@example.com") == ["auto_reply"]


def test_mail_in_the_sent_folder_from_an_unlisted_alias_is_ours(tmp_path, people, invoke, conn,
                                                                monkeypatch):
    """Only me@ours.example is listed as ours, but the Sent folder holds a mail to Ada sent
    as team@ours.example: whatever its From, mail in Sent is mail we sent."""
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    box = tmp_path / "Maildir"
    t = ago(days=2)
    (box / "cur").mkdir(parents=True)  # an (empty) INBOX: a Maildir++ with .Sent
    raw, _ = sample.outbound("team@ours.example", people["ada"], t, "Hi")
    sample.write_maildir_message(box / ".Sent", raw, t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert kinds(conn, "ada@example.com") == ["email_out"]
    assert state(conn, "ada@example.com")["stage"] == "contacted"


def test_an_unreadable_message_file_does_not_hide_the_ones_after_it(tmp_path, people,
                                                                     invoke, conn):
    box = tmp_path / "Maildir"
    t = ago(days=2)
    raw, _ = sample.reply(people["ada"], ME, t, "Hi", None)
    sample.write_maildir_message(box, raw, t)
    (box / "cur" / "0000000001.M1P1.gone:2,S").symlink_to(tmp_path / "unmounted" / "mail")
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert kinds(conn, "ada@example.com") == ["email_in"]


def test_a_maildir_name_from_2001_dates_a_message_without_a_date(tmp_path, people, invoke,
                                                                 conn):
    box = tmp_path / "Maildir"
    raw, _ = sample.reply(people["cy"], ME, ago(days=1), "Hello", None)
    raw = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"Date:"))
    path = sample.write_maildir_message(box, raw, ago(days=1))
    old = path.with_name("999999999" + path.name[path.name.index("."):])  # 9 digits
    os.replace(path, old)                             # its mtime stays yesterday's
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert state(conn, "cy@example.net")["last_reply_at"] == iso(
        datetime.fromtimestamp(999999999, UTC))


def test_an_unchanged_mbox_still_counts_as_scanned_for_health(tmp_path, people, invoke,
                                                              conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(path)
    box.add(sample.outbound(ME, people["cy"], ago(days=3), "Hello")[0])
    box.flush()
    box.close()
    ok(invoke("scan", "--source", f"mbox:{path}"))
    conn.execute("UPDATE mail_checkpoints SET last_scan_at = ?", (iso(ago(hours=2)),))
    stale = invoke("health")
    assert stale.exit_code == 1 and "last scanned 2h ago" in stale.output
    ok(invoke("scan", "--source", f"mbox:{path}"))     # nothing new: the scan still counts
    assert last_run(conn)["counts"]["seen"] == 0
    fresh = invoke("health")
    assert fresh.exit_code == 0, fresh.output
