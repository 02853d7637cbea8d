"""SMTP faults and settings as the sender meets them, against real sockets: a server that
refuses at the greeting, hangs up, never answers, a TLS mode the server does not speak, a
login without a password, and where mail comes from (found by ``./dev mutants``)."""

from __future__ import annotations

import logging
import socket
import threading
from email.message import EmailMessage

import pytest

from salescli.core.errors import InvalidValue
from salescli.notify import smtp
from tests.support.smtpd import SmtpServer, scripted_smtp


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = "alice@example.com"
    msg["Subject"] = "weekly report"
    msg.set_content("numbers")
    return msg


class Script:
    """A real TCP server on loopback that writes ``greeting`` (if any) to the first client,
    then closes at once (``hang_up``) or waits for the client to go."""

    def __init__(self, greeting: bytes | None, *, hang_up: bool):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(30)
        self.port = self.listener.getsockname()[1]
        self.greeting, self.hang_up = greeting, hang_up
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        peer, _ = self.listener.accept()
        with peer:
            if self.greeting:
                peer.sendall(self.greeting)
            if not self.hang_up:
                peer.settimeout(30)
                try:
                    while peer.recv(1024):
                        pass
                except OSError:
                    pass

    def env(self, **extra: str) -> dict[str, str]:
        return {"SALESCLI_SMTP_HOST": "127.0.0.1", "SALESCLI_SMTP_PORT": str(self.port),
                "SALESCLI_SMTP_SSL": "none", **extra}

    def close(self) -> None:
        self.thread.join(30)
        self.listener.close()


def fails(env: dict[str, str]) -> str:
    with pytest.raises(smtp.SmtpError) as err:
        smtp.send(message(), smtp.settings_from_env(env))
    return str(err.value)


def test_a_server_refusing_at_the_greeting_is_quoted():
    server = Script(b"554 5.3.2 not today, thanks\r\n", hang_up=True)
    text = fails(server.env())
    server.close()
    assert text == f"SMTP server 127.0.0.1:{server.port} answered 554 5.3.2 not today, thanks"


def test_a_server_hanging_up_at_once_is_named():
    server = Script(None, hang_up=True)
    text = fails(server.env())
    server.close()
    assert text.startswith(f"SMTP server 127.0.0.1:{server.port} closed the connection: ")


def test_a_server_that_never_greets_times_out_after_the_setting():
    server = Script(None, hang_up=False)
    text = fails(server.env(SALESCLI_SMTP_TIMEOUT="0.5"))
    server.close()
    assert text == f"SMTP server 127.0.0.1:{server.port} timed out after 0.5s"


def test_implicit_tls_to_a_plain_server_fails_the_handshake_in_one_line(smtp_server):
    env = {**smtp_server.env(), "SALESCLI_SMTP_SSL": "ssl"}
    text = fails(env)
    assert text.startswith(f"TLS handshake with SMTP server 127.0.0.1:{smtp_server.port} "
                           "failed: ") and "\n" not in text
    assert smtp_server.messages == []


def test_a_user_without_a_password_is_refused_before_connecting(smtp_server):
    env = {**smtp_server.env(), "SALESCLI_SMTP_USER": "mailer"}
    with pytest.raises(InvalidValue) as err:
        smtp.send(message(), smtp.settings_from_env(env))
    assert str(err.value) == "SALESCLI_SMTP_PASSWORD '' is not set (needed to log in as mailer)"
    assert smtp_server.messages == []


def test_a_missing_ca_file_is_named(certs, tmp_path):
    with SmtpServer(implicit_tls=certs) as server:
        env = {**server.env(), "SALESCLI_SMTP_CA": str(tmp_path / "nope.pem")}
        with pytest.raises(InvalidValue) as err:
            smtp.send(message(), smtp.settings_from_env(env))
        assert server.messages == []
    assert str(err.value) == f"SALESCLI_SMTP_CA '{tmp_path / 'nope.pem'}' does not exist"


def test_a_login_refused_names_the_user(certs):
    with SmtpServer(starttls=certs, users={"mailer": "right"}) as server:
        env = {**server.env(), "SALESCLI_SMTP_USER": "mailer",
               "SALESCLI_SMTP_PASSWORD": "wrong"}
        text = fails(env)
        assert server.messages == []
    assert text.startswith(f"SMTP server localhost:{server.port} refused the login as mailer: 535")


@pytest.mark.parametrize("user, sender", [("mailer@example.com", "mailer@example.com"),
                                          ("mailer", None)])
def test_mail_comes_from_the_user_if_it_is_an_address(smtp_server, user, sender):
    settings = smtp.settings_from_env({"SALESCLI_SMTP_HOST": "h", "SALESCLI_SMTP_USER": user})
    if sender:
        assert settings.sender == sender
    else:
        assert settings.sender == f"salescli@{socket.getfqdn()}"
    env = {k: v for k, v in smtp_server.env().items() if k != "SALESCLI_SMTP_FROM"}
    smtp.send(message(), smtp.settings_from_env(env))
    [got] = smtp_server.wait_for(1)
    assert got.mail_from == f"salescli@{socket.getfqdn()}"
    assert got.message["From"] == got.mail_from


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "localhost.localdomain", "[::1]",
                                  "127.0.0.2"])
def test_plaintext_to_a_loopback_name_does_not_warn(host, caplog):
    caplog.set_level(logging.WARNING, logger="salescli.smtp")
    assert smtp.is_loopback(host)
    port = Script(None, hang_up=True)  # whatever happens next, no plaintext warning
    env = port.env(SALESCLI_SMTP_HOST=host)
    with pytest.raises((smtp.SmtpError, InvalidValue)):
        smtp.send(message(), smtp.settings_from_env(env))
    assert "without TLS" not in caplog.text
    # (The script server may not have been reached: release it.)
    with socket.create_connection(("127.0.0.1", port.port), timeout=5):
        pass
    port.close()


def test_plaintext_to_another_host_warns_naming_it(caplog):
    caplog.set_level(logging.WARNING, logger="salescli.smtp")
    assert not smtp.is_loopback("smtp.invalid") and not smtp.is_loopback("10.0.0.1")
    env = {"SALESCLI_SMTP_HOST": "smtp.invalid", "SALESCLI_SMTP_SSL": "none"}
    with pytest.raises(smtp.SmtpError, match="cannot be resolved"):
        smtp.send(message(), smtp.settings_from_env(env))
    assert [r.getMessage() for r in caplog.records] == [
        "SMTP to smtp.invalid:25 without TLS (SALESCLI_SMTP_SSL=none): mail and password "
        "cross the network in plain text"]


@pytest.mark.parametrize("mode, port", [("ssl", 465), ("starttls", 587), ("none", 25),
                                        ("", 587), (" SSL ", 465)])
def test_the_default_port_follows_the_tls_mode(mode, port):
    env = {"SALESCLI_SMTP_HOST": "mx.example", "SALESCLI_SMTP_SSL": mode}
    assert smtp.settings_from_env(env).port == port


def test_a_sender_the_server_refuses_for_good_gives_up_at_once(conn, team, monkeypatch):
    """A real socket speaking just enough SMTP to refuse MAIL FROM with 553."""
    from salescli.notify import outbox
    from tests.notify.conftest import queue

    def answer(line: bytes) -> bytes:
        verb = line[:4].upper()
        return (b"250 strict.test" if verb in (b"EHLO", b"HELO", b"RSET")
                else b"221 bye" if verb == b"QUIT" else b"553 5.7.1 sender not allowed here")

    with scripted_smtp(answer, b"220 strict.test ESMTP") as port:
        for key, value in {"SALESCLI_SMTP_HOST": "127.0.0.1", "SALESCLI_SMTP_PORT": str(port),
                           "SALESCLI_SMTP_SSL": "none", "SALESCLI_SMTP_FROM": "sales@ours.test"
                           }.items():
            monkeypatch.setenv(key, value)
        queue(conn, "reply", team["carol"], "reply:1:<sr@x>")
        result = outbox.deliver(conn)
    assert (result["gave_up"], result["pending"]) == (1, 0)
    [row] = conn.execute("SELECT last_error FROM notifications").fetchall()
    assert row[0] == (f"gave up after 1 attempt(s): SMTP server 127.0.0.1:{port} refused "
                      "sender sales@ours.test: 553 5.7.1 sender not allowed here")
