"""A server's refusal written in its own charset (not UTF-8) still reaches the user as one
readable line, the undecodable bytes replaced."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from salescli.notify import smtp
from tests.support.smtpd import scripted_smtp


def test_a_recipient_refused_in_latin_1_is_reported_readably():
    def answer(line: bytes) -> bytes:  # just enough SMTP to refuse RCPT TO, in Latin-1
        verb = line[:4].upper()
        return (b"550 5.1.1 bo\xeete inconnue" if verb == b"RCPT"
                else b"221 bye" if verb == b"QUIT" else b"250 old.test")

    msg = EmailMessage()
    msg["To"] = "alice@example.com"
    msg["Subject"] = "weekly report"
    msg.set_content("numbers")
    with scripted_smtp(answer, b"220 old.test ESMTP") as port:
        settings = smtp.settings_from_env({"SALESCLI_SMTP_HOST": "127.0.0.1",
                                           "SALESCLI_SMTP_SSL": "none",
                                           "SALESCLI_SMTP_PORT": str(port),
                                           "SALESCLI_SMTP_FROM": "sales@ours.test"})
        with pytest.raises(smtp.SmtpError) as err:
            smtp.send(msg, settings)
    assert str(err.value) == (f"SMTP server 127.0.0.1:{port} refused recipient "
                              "alice@example.com (550 5.1.1 bo\ufffdte inconnue)")
    assert err.value.permanent
