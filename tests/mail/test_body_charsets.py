"""The text kept of an out-of-office is decoded in the charset the message declares, and
bytes that charset does not define become one replacement character each, in place."""

from __future__ import annotations

from salescli.mail import sample
from tests.mail.helpers import ME, ago
from tests.support.cli import ok


def _body(conn, email: str):
    return conn.execute(
        "SELECT i.body FROM interactions i JOIN prospects p ON p.id = i.prospect_id"
        " WHERE p.email = ? AND i.kind = 'auto_reply'", (email,)).fetchone()[0]


def test_a_windows_1252_auto_reply_with_an_undefined_byte_keeps_its_accents(
        tmp_path, people, invoke, conn):
    box, t, p = tmp_path / "Maildir", ago(days=1), people["ada"]
    head = "\n".join([
        f"From: {p['name']} <{p['email']}>", f"To: {ME}", "Subject: Automatic reply: Hello",
        f"Date: {sample._date(t)}", "Message-ID: <ooo.1252@example.com>",
        "Auto-Submitted: auto-replied", "Content-Type: text/plain; charset=windows-1252",
        "", ""]).encode()
    # 0xE9 is "é" in windows-1252; 0x81 is undefined there.
    sample.write_maildir_message(box, head + b"Absente jusqu'au 14 d\xe9cembre \x81.\n", t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert _body(conn, p["email"]) == "Absente jusqu'au 14 décembre \ufffd."
