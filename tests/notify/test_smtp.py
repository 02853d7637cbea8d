"""salescli.notify.smtp against real aiosmtpd servers: TLS verification, login, clear errors,
secrets."""

from __future__ import annotations

import logging
import subprocess
from email.message import EmailMessage

import pytest

from salescli.core.errors import InvalidValue
from salescli.notify import smtp
from tests.notify.conftest import queue
from tests.support.cli import cli_process
from tests.support.smtpd import SmtpServer, free_port, make_certs

SECRET = "pa55-W0rd-never-logged"


def message(to: str = "alice@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = "weekly report"
    msg.set_content("numbers")
    return msg


def test_starttls_with_private_ca_and_login(certs):
    with SmtpServer(starttls=certs, users={"mailer": SECRET}) as server:
        env = {**server.env(), "SALESCLI_SMTP_USER": "mailer", "SALESCLI_SMTP_PASSWORD": SECRET}
        smtp.send(message(), smtp.settings_from_env(env))
        [got] = server.wait_for(1)
    assert got.tls and got.user == "mailer"
    assert got.message["From"] == "salescli@notify.test"


def test_implicit_tls(certs):
    with SmtpServer(implicit_tls=certs) as server:
        smtp.send(message(), smtp.settings_from_env(server.env()))
        [got] = server.wait_for(1)
    assert got.tls


def test_unknown_ca_fails_naming_the_host(certs, tmp_path):
    stranger = make_certs(tmp_path, name="stranger")
    with SmtpServer(starttls=stranger) as server:
        env = {**server.env(), "SALESCLI_SMTP_CA": str(certs.ca)}  # trusts another CA
        with pytest.raises(smtp.SmtpError) as err:
            smtp.send(message(), smtp.settings_from_env(env))
        assert server.messages == []
    text = str(err.value)
    assert text.startswith("TLS verification of SMTP server 'localhost' failed")
    assert "unable to get local issuer certificate" in text and "\n" not in text


def test_system_trust_store_refuses_a_private_ca(certs):
    with SmtpServer(implicit_tls=certs) as server:
        env = {k: v for k, v in server.env().items() if k != "SALESCLI_SMTP_CA"}
        with pytest.raises(smtp.SmtpError, match="set SALESCLI_SMTP_CA"):
            smtp.send(message(), smtp.settings_from_env(env))


def test_wrong_host_name_fails(tmp_path):
    other = make_certs(tmp_path, hostname="mail.example.test", name="named", ip=False)
    with SmtpServer(starttls=other) as server:
        env = {**server.env(), "SALESCLI_SMTP_HOST": "localhost"}
        with pytest.raises(smtp.SmtpError, match="Hostname mismatch.*'localhost'"):
            smtp.send(message(), smtp.settings_from_env(env))


def test_starttls_required_by_default(smtp_server):
    env = {**smtp_server.env(), "SALESCLI_SMTP_SSL": "starttls"}
    with pytest.raises(smtp.SmtpError, match="does not offer STARTTLS"):
        smtp.send(message(), smtp.settings_from_env(env))
    assert smtp_server.messages == []


def test_plaintext_warns_unless_loopback(smtp_server, caplog):
    caplog.set_level(logging.WARNING, logger="salescli")
    smtp.send(message(), smtp.settings_from_env(smtp_server.env()))
    assert "without TLS" not in caplog.text
    env = {**smtp_server.env(), "SALESCLI_SMTP_HOST": "smtp.invalid"}
    with pytest.raises(smtp.SmtpError, match="cannot be resolved"):
        smtp.send(message(), smtp.settings_from_env(env))
    assert "SMTP to smtp.invalid:" in caplog.text and "without TLS" in caplog.text


def test_connection_refused_is_one_clear_line():
    port = free_port()
    env = {"SALESCLI_SMTP_HOST": "127.0.0.1", "SALESCLI_SMTP_PORT": str(port),
           "SALESCLI_SMTP_SSL": "none"}
    with pytest.raises(smtp.SmtpError) as err:
        smtp.send(message(), smtp.settings_from_env(env))
    assert str(err.value) == f"SMTP server 127.0.0.1:{port} refused the connection"


@pytest.mark.parametrize("env, field", [
    ({}, "SALESCLI_SMTP_HOST"),
    ({"SALESCLI_SMTP_HOST": "h", "SALESCLI_SMTP_SSL": "tls13"}, "SALESCLI_SMTP_SSL"),
    ({"SALESCLI_SMTP_HOST": "h", "SALESCLI_SMTP_PORT": "x"}, "SALESCLI_SMTP_PORT"),
])
def test_bad_settings_name_the_variable(env, field):
    with pytest.raises(InvalidValue, match=field):
        smtp.settings_from_env(env)


def test_password_never_in_repr():
    s = smtp.settings_from_env({"SALESCLI_SMTP_HOST": "h", "SALESCLI_SMTP_USER": "u",
                                "SALESCLI_SMTP_PASSWORD": SECRET})
    assert SECRET not in repr(s)


def test_login_failure_via_cli_keeps_secrets_out_of_logs_and_database(
        certs, tmp_path, db_file, conn, team, webhook, monkeypatch):
    log_file = tmp_path / "salescli.log"
    with SmtpServer(starttls=certs, users={"mailer": "the-right-one"}) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        queue(conn, "reply", team["carol"], "reply:1:<s1@x>")
        webhook.statuses = [500]
        proc = cli_process(db_file, "-v", "notify", env={
            "SALESCLI_SMTP_USER": "mailer", "SALESCLI_SMTP_PASSWORD": SECRET,
            "SALESCLI_LOG_FILE": str(log_file)})
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        # smtplib tries each offered mechanism (PLAIN, LOGIN); all were refused.
        assert server.logins and set(server.logins) == {("mailer", False)}
    assert proc.returncode == 1
    assert "Error: no notification could be delivered" in err
    assert "refused the login as mailer: 535" in err
    everything = out + err + log_file.read_text() + "\n".join(conn.iterdump())
    assert SECRET not in everything
    assert "T0KEN-s3cret" not in everything  # the webhook path is a secret too
    assert "Traceback" not in err
