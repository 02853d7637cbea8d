"""A server's refusal written in its own charset (not UTF-8) still reaches the user as one
readable line, the undecodable bytes replaced."""

from __future__ import annotations

import socket
import threading
from email.message import EmailMessage

import pytest

from salescli.notify import smtp


def test_a_recipient_refused_in_latin_1_is_reported_readably():
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    port = listener.getsockname()[1]

    def serve() -> None:  # a real socket speaking just enough SMTP to refuse RCPT TO
        peer, _ = listener.accept()
        with peer, peer.makefile("rwb") as f:
            f.write(b"220 old.test ESMTP\r\n")
            f.flush()
            while line := f.readline():
                verb = line[:4].upper()
                f.write(b"550 5.1.1 bo\xeete inconnue\r\n" if verb == b"RCPT"
                        else b"221 bye\r\n" if verb == b"QUIT" else b"250 old.test\r\n")
                f.flush()
                if verb == b"QUIT":
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    msg = EmailMessage()
    msg["To"] = "alice@example.com"
    msg["Subject"] = "weekly report"
    msg.set_content("numbers")
    settings = smtp.settings_from_env({"SALESCLI_SMTP_HOST": "127.0.0.1", "SALESCLI_SMTP_SSL":
                                       "none", "SALESCLI_SMTP_PORT": str(port),
                                       "SALESCLI_SMTP_FROM": "sales@ours.test"})
    with pytest.raises(smtp.SmtpError) as err:
        smtp.send(msg, settings)
    thread.join(30)
    listener.close()
    assert str(err.value) == (f"SMTP server 127.0.0.1:{port} refused recipient "
                              "alice@example.com (550 5.1.1 bo\ufffdte inconnue)")
    assert err.value.permanent
