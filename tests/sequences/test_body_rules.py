"""The two exit rules that read the message text, with the real Dovecot and scanner: a reply
whose first own line is "unsubscribe" ends the enrollment; an out-of-office's return date
in its body pauses it until then. The text is fetched partially, and only for mail from
prospects with a live enrollment and for auto-replies."""

from __future__ import annotations

import json
import quopri
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest

from salescli.mail import body, sources
from salescli.pipeline import prospects
from salescli.sequences import enroll
from salescli.sequences.send import send_due
from tests.sequences.conftest import ME
from tests.support.cli import activities, ok, query

_n = iter(range(1, 10_000))


def _head(frm: str, subject: str, when: datetime, extra: str = "") -> str:
    return (f"From: {frm}\r\nTo: {ME}\r\nSubject: {subject}\r\n"
            f"Date: {format_datetime(when)}\r\nMessage-ID: <body{next(_n)}@client.test>\r\n"
            f"{extra}MIME-Version: 1.0\r\n")


def alternative(frm: str, subject: str, when: datetime, plain: str, html: str,
                pad: int = 0) -> bytes:
    """multipart/alternative: a quoted-printable text/plain part, then an HTML part
    (``pad`` bytes of it past the partial fetch)."""
    qp = quopri.encodestring(plain.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return (_head(frm, subject, when)
            + 'Content-Type: multipart/alternative; boundary="b-1"\r\n\r\n'
            "--b-1\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp + "\r\n"
            "--b-1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
            + "<p>" + "x" * pad + "</p>\r\n--b-1--\r\n").encode("utf-8")


def quoted_printable(frm: str, subject: str, when: datetime, text: str,
                     extra: str = "") -> bytes:
    qp = quopri.encodestring(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return (_head(frm, subject, when, extra)
            + "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp).encode("ascii")


def html_only(frm: str, subject: str, when: datetime, html: str) -> bytes:
    return (_head(frm, subject, when) + "Content-Type: text/html; charset=utf-8\r\n\r\n"
            + html).encode("utf-8")


def _states(db_file) -> dict[str, tuple[str, str | None]]:
    return {r["email"]: (r["state"], r["reason"]) for r in query(
        db_file, "SELECT p.email, e.state, e.reason FROM enrollments e JOIN prospects p"
                 " ON p.id = e.prospect_id")}


def test_first_line_unsubscribe_ends_it_a_later_mention_does_not(
        conn, db_file, intro, team, smtp_server, mailbox, t0, invoke):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org",
                                            "cy@example.net"], now_=t0)
    send_due(conn, now=t0)
    when = t0 + timedelta(hours=3)
    quote = "\nOn Fri, Maria <me@ours.example> wrote:\n> Hi Ada, would Lovelace Ltd like a demo?\n"
    # Ada: multipart/alternative, QP plain part "Unsubscribe!" over the quote, an HTML
    # part far past the fetched bytes.
    mailbox.append("INBOX", alternative("Ada <ada@example.com>", "Re: Quick question, Ada",
                                        when, "Unsubscribe!\n" + quote,
                                        "<div>Unsubscribe!</div>", pad=50_000), when)
    # Bob (first in the scan's order): a real answer that mentions the word later on, in
    # quoted-printable German.
    mailbox.append("INBOX", quoted_printable(
        "bob@example.org", "Re: Quick question, Bob", when - timedelta(minutes=1),
        "Danke f\u00fcr die Nachricht, gerne n\u00e4chste Woche.\n"
        "Falls nicht: unsubscribe\n" + quote), when - timedelta(minutes=1))
    # Cy: HTML only, "Remove me, please." in a paragraph of its own (the phone's line runs
    # on right after it) above a blockquote.
    mailbox.append("INBOX", html_only("cy@example.net", "Re: Quick question, Cy", when,
                                      "<html><body><p>Remove me, please.</p>Sent from my"
                                      " phone<blockquote>Hi Cy</blockquote></body></html>"),
                   when)
    ok(invoke("scan"))
    counts = json.loads(query(db_file, "SELECT counts FROM job_runs WHERE job = 'scan'")[-1][
        "counts"])
    assert counts["unsubscribed"] == 2
    assert query(db_file, "SELECT address, source FROM suppressions ORDER BY address") == [
        {"address": "ada@example.com", "source": "unsubscribe"},
        {"address": "cy@example.net", "source": "unsubscribe"}]
    states = _states(db_file)
    assert states["ada@example.com"][0] == "unsubscribed"
    assert states["ada@example.com"][1].startswith("unsubscribe reply ")
    assert states["cy@example.net"][0] == "unsubscribed"
    assert states["bob@example.org"] == ("active", None)  # ended by the reply at send time
    ended = [a for a in activities(db_file, entity="enrollment", action="end")]
    assert sorted(a["after"]["state"] for a in ended) == ["unsubscribed", "unsubscribed"]
    assert {a["actor"] for a in ended} == {"monitor"}
    # The reply itself is recorded too, and the sender ends Bob's enrollment as replied.
    assert query(db_file, "SELECT count(*) AS n FROM interactions WHERE kind = 'email_in'"
                 )[0]["n"] == 3
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"replied": 1}
    assert len([m for m in smtp_server.messages
                if m.message["Message-ID"].startswith("<seq.")]) == 3


def test_a_prospect_without_enrollment_has_no_text_read(conn, db_file, intro, team, mailbox,
                                                        t0, invoke, monkeypatch):
    prospects.add(conn, "tester", "dee@example.com", name="Dee Dee", owner="maria")
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    asked: list = []
    real = sources.ImapSource.texts

    def counting(self, plan, handles):
        asked.extend(handles)
        yield from real(self, plan, handles)

    monkeypatch.setattr(sources.ImapSource, "texts", counting)
    when = t0 + timedelta(hours=1)
    mailbox.append("INBOX", quoted_printable("dee@example.com", "Hello", when, "unsubscribe\n"),
                   when)                                               # UID 1: not enrolled
    mailbox.append("INBOX", quoted_printable("ada@example.com", "Hello", when, "Later.\n"),
                   when)                                               # UID 2: enrolled
    mailbox.append("INBOX", quoted_printable("x@elsewhere.test", "Out of office", when,
                                             "Away.\n", "Auto-Submitted: auto-replied\r\n"),
                   when)                                               # UID 3: auto-reply
    mailbox.append("INBOX", quoted_printable(ME, "Note to self", when, "unsubscribe\n",
                                             "Auto-Submitted: auto-replied\r\n"),
                   when)                                               # UID 4: our own
    mailbox.append("Sent", quoted_printable(ME, "To Ada", when, "unsubscribe\n")
                   .replace(b"To: me@ours.example", b"To: ada@example.com"), when)
    ok(invoke("scan"))
    assert sorted(asked) == [2, 3]
    assert query(db_file, "SELECT * FROM suppressions") == []


def _ooo(person: str, when: datetime, text: str) -> bytes:
    return quoted_printable(person, "Automatic reply: Quick question", when, text,
                            "Auto-Submitted: auto-replied\r\n")


@pytest.mark.parametrize("wording", [
    "Thank you for your message. I am out of the office and back on {weekday} {day} {month}"
    " with limited access to email. For urgent matters call Jo.",
    "Out of office, returning {mm}/{dd}. Your mail will not be forwarded.",
    "Vielen Dank f\u00fcr Ihre Nachricht. Ich bin zur\u00fcck am {dd}.{mm}. und antworte dann.",
])
def test_return_date_in_the_body_pauses_until_then(conn, db_file, intro, team, smtp_server,
                                                   mailbox, t0, invoke, wording):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    ooo_at = t0 + timedelta(hours=2)
    back = (t0 + timedelta(days=9)).date()
    text = wording.format(weekday=f"{back:%A}", day=back.day, month=f"{back:%B}",
                          mm=f"{back.month:02d}", dd=f"{back.day:02d}")
    mailbox.append("INBOX", _ooo("ada@example.com", ooo_at, text), ooo_at)
    ok(invoke("scan"))
    stored = query(db_file, "SELECT body FROM interactions WHERE kind = 'auto_reply'")
    assert len(stored) == 1 and len(stored[0]["body"]) <= body.SNIPPET_CHARS
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"delayed": 1}
    row = query(db_file, "SELECT state, next_due_at FROM enrollments")[0]
    assert row == {"state": "active", "next_due_at": f"{back.isoformat()}T00:00:00Z"}
    delay = activities(db_file, entity="enrollment", action="delay")[-1]
    assert delay["after"]["reason"] == f"out of office until {back.isoformat()}"
    just_before = datetime.fromisoformat(f"{back.isoformat()}T00:00:00+00:00") \
        - timedelta(seconds=1)
    assert send_due(conn, now=just_before) == {}
    assert send_due(conn, now=just_before + timedelta(seconds=1)) == {"sent": 1}


def test_text_helpers_read_what_the_sender_wrote():
    assert body.first_line("\n\n  Unsubscribe  \n\nOn Mon, X wrote:\n> hi") == "Unsubscribe"
    assert body.first_line("> quoted first\nremove me") == "remove me"
    assert body.first_line("On Mon, 7 Dec, Ada wrote:\n> unsubscribe") is None
    assert body.first_line("Hi,\n-- \nunsubscribe") == "Hi,"
    head = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64"
    assert body.text_of(head, b"VW5zdWJzY3JpYmU=\r\n") == "Unsubscribe"
    assert body.text_of(b"", b"plain words\r\n") == "plain words\n"
    html = (b"<html><head><style>p {color: red}</style><title>t</title></head><body>"
            b"<table><tr><td>Remove me</td></tr><tr><td>now</td></tr></table>"
            b"<SCRIPT>var x;</SCRIPT><blockquote>quoted <b>text</b></blockquote>"
            b"<p>after</p></body></html>")
    text = body.text_of(b"Content-Type: text/html; charset=utf-8", html)
    assert body.own_lines(text) == ["Remove me", "now", "after"]
    assert body.first_line(text) == "Remove me"
    # No plain part: the first HTML part, never an attachment before it.
    related = (b'--r\r\nContent-Type: application/octet-stream\r\n\r\nGIF89a\r\n'
               b'--r\r\nContent-Type: text/html\r\n\r\n<p>Unsubscribe</p>\r\n'
               b'--r\r\nContent-Type: text/html\r\n\r\n<p>second</p>\r\n--r--\r\n')
    assert body.own_lines(body.text_of(
        b'Content-Type: multipart/related; boundary="r"', related)) == ["Unsubscribe"]


@pytest.mark.parametrize(("line", "asks"), [
    ("Unsubscribe", True), ("unsubscribe me.", True), ("Please remove me!", True),
    ("REMOVE ME FROM YOUR LIST", True), ("take me off your list", True), ("Opt-out", True),
    ("Bitte austragen.", True), ("Me désabonner", True), ("darme de baja", True),
    ("stop, thanks", True),
    ("Don't unsubscribe me", False), ("unsubscribe me from the webinar list?", False),
    ("Remove me? No, keep me posted", False), ("", False), (None, False),
])
def test_what_counts_as_asking_to_unsubscribe(line, asks):
    from salescli.mail.unsubscribe import asks_to_unsubscribe

    assert asks_to_unsubscribe(line) is asks


def test_a_local_maildir_is_read_the_same_way(conn, db_file, intro, team, t0, invoke,
                                              tmp_path, monkeypatch):
    from salescli.mail import sample

    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"], now_=t0)
    when = t0 + timedelta(hours=1)
    box = tmp_path / "Maildir"
    sample.write_maildir_message(box, alternative(
        "ada@example.com", "Re: hi", when, "Remove me from your list.\n", "<p>x</p>",
        pad=20_000), when)
    back = (t0 + timedelta(days=5)).date()
    sample.write_maildir_message(box, _ooo("bob@example.org", when,
                                           f"Away, back on {back.isoformat()}.\n"), when)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert _states(db_file)["ada@example.com"][0] == "unsubscribed"
    stored = query(db_file, "SELECT body FROM interactions WHERE kind = 'auto_reply'")
    assert stored == [{"body": f"Away, back on {back.isoformat()}."}]
