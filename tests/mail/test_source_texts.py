"""What a local source hands the text reader for each message: the content headers alone
(continuation lines joined, any case, CRLF or LF) and the first ``TEXT_BYTES`` of the
body, as IMAP's partial fetch gives them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salescli.mail import sample
from salescli.mail.body import TEXT_BYTES
from salescli.mail.local import MaildirSource

DAY = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("raw, head, body", [
    (b"From: a@b.example\r\nContent-Type: text/plain;\r\n\tcharset=utf-8\r\n"
     b"X-Note: one\r\n  two\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHi\r\nthere\r\n",
     b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit",
     b"Hi\nthere\n"),
    (b"content-type: text/html\nSubject: x\n    y\n\n" + b"z" * (TEXT_BYTES + 5),
     b"content-type: text/html", b"z" * TEXT_BYTES),
    (b" stray continuation\nSubject: none\n", b"", b""),
])
def test_the_text_of_a_local_message_is_its_content_headers_and_first_bytes(
        tmp_path, raw, head, body):
    box = tmp_path / "Maildir"
    path = sample.write_maildir_message(box, raw, DAY)
    src = MaildirSource(box)
    src.folders()
    plan = src.plan("INBOX", False, None, None)
    assert list(src.texts(plan, [path])) == [(path, head, body)]
