"""What the scanner keeps of an out-of-office: the start of the text its sender wrote (the
return date a sequence waits for is read from it), in the thread of the mail it answers."""

from __future__ import annotations

from salescli.mail import sample
from tests.mail.helpers import ME, ago, kinds, state
from tests.support.cli import ok


def _auto_reply(person: dict, when, body: str, content_type: str = "text/plain",
                charset: str = "utf-8") -> bytes:
    return "\n".join([
        f"From: {person['name']} <{person['email']}>", f"To: {ME}",
        "Subject: Automatic reply: Hello", f"Date: {sample._date(when)}",
        f"Message-ID: <ooo.{when.timestamp():.0f}@{person['email'].split('@')[1]}>",
        "Auto-Submitted: auto-replied", f"Content-Type: {content_type}; charset={charset}", "",
        body]).encode()


def _bodies(conn, email: str) -> list:
    return [r[0] for r in conn.execute(
        "SELECT i.body FROM interactions i JOIN prospects p ON p.id = i.prospect_id"
        " WHERE p.email = ? AND i.kind = 'auto_reply'", (email,))]


def test_an_auto_reply_keeps_its_own_text_and_none_when_it_has_none(tmp_path, people, invoke,
                                                                     conn):
    box = tmp_path / "Maildir"
    t = ago(days=1)
    sample.write_maildir_message(box, _auto_reply(
        people["ada"], t, "I am   out of the office\nuntil 14 December.\n\n"
                          "> Hello Ada,\n> would you like a demo?\n"), t)
    sample.write_maildir_message(box, _auto_reply(
        people["bob"], t, "> Hello Bob,\n> would you like a demo?\n"), t)
    sample.write_maildir_message(box, _auto_reply(people["cy"], t, ""), t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert _bodies(conn, "ada@example.com") == ["I am out of the office until 14 December."]
    assert _bodies(conn, "bob@example.org") == [None]
    assert _bodies(conn, "cy@example.net") == [None]


def test_the_demo_auto_reply_is_in_the_thread_of_the_mail_it_answers(tmp_path, people, invoke,
                                                                     conn):
    sample.write_sample_maildir(tmp_path / "Maildir", list(people.values()), ME)
    ok(invoke("scan", "--source", f"maildir:{tmp_path / 'Maildir'}"))
    rows = conn.execute(
        "SELECT i.kind, i.thread_key, i.message_id FROM interactions i JOIN prospects p"
        " ON p.id = i.prospect_id WHERE p.email = 'bob@example.org' ORDER BY i.occurred_at"
        ).fetchall()
    assert [r["kind"] for r in rows] == ["email_out", "auto_reply"]
    assert rows[1]["thread_key"] == rows[0]["message_id"] != rows[1]["message_id"]


def test_an_encoded_auto_reply_is_kept_decoded(tmp_path, people, invoke, conn):
    box = tmp_path / "Maildir"
    t = ago(days=1)
    raw = _auto_reply(people["dee"], t, "Je suis absente jusqu'au 14 d=C3=A9cembre.\n")
    raw = raw.replace(b"charset=utf-8\n",
                      b"charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n")
    sample.write_maildir_message(box, raw, t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert _bodies(conn, "dee@example.com") == ["Je suis absente jusqu'au 14 décembre."]


def test_outlooks_suppress_header_alone_does_not_make_a_reply_automatic(tmp_path, people,
                                                                        invoke, conn):
    """Outlook puts ``X-Auto-Response-Suppress`` on ordinary mail: a person's answer that
    carries it is a reply; with an out-of-office subject it is an auto-reply."""
    box = tmp_path / "Maildir"
    t = ago(days=1)
    for key, subject in (("eve", "Re: Hello"), ("ada", "Automatic reply: Hello")):
        p = people[key]
        raw = "\n".join([f"From: {p['name']} <{p['email']}>", f"To: {ME}",
                         f"Subject: {subject}", f"Date: {sample._date(t)}",
                         f"Message-ID: <ol.{key}@example.com>", "X-Auto-Response-Suppress: All",
                         "Content-Type: text/plain", "", "Sounds good, call me on Monday.\n"])
        sample.write_maildir_message(box, raw.encode(), t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert kinds(conn, "eve@example.org") == ["email_in"]
    assert state(conn, "eve@example.org")["last_reply_at"] is not None
    assert kinds(conn, "ada@example.com") == ["auto_reply"]
    assert state(conn, "ada@example.com")["last_reply_at"] is None


def test_an_html_auto_reply_keeps_its_paragraphs_apart(tmp_path, people, invoke, conn):
    """HTML lets a paragraph run on without ``</p>``: each ``<p>`` still starts a line."""
    box = tmp_path / "Maildir"
    t = ago(days=1)
    sample.write_maildir_message(box, _auto_reply(
        people["ada"], t, "<html><body><p>I am out of the office<p>Back on 14 December."
                          "</body></html>", "text/html"), t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert _bodies(conn, "ada@example.com") == ["I am out of the office Back on 14 December."]


def test_an_auto_reply_in_a_charset_nobody_knows_is_read_as_utf8(tmp_path, people, invoke,
                                                                 conn):
    box = tmp_path / "Maildir"
    t = ago(days=1)
    sample.write_maildir_message(box, _auto_reply(
        people["ada"], t, "Ich bin bis 14. Dezember außer Haus.", charset="x-klingon"), t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert _bodies(conn, "ada@example.com") == ["Ich bin bis 14. Dezember außer Haus."]
