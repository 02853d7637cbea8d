"""Logging in: XOAUTH2 against Dovecot's oauth2 passdb (introspection served here), and
TLS with a certificate the fixture makes: verified connections work, wrong names and
unknown CAs fail with a clear error."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from imapclient import IMAPClient

from salescli.mail import sample
from tests.mail.conftest import _need_dovecot
from tests.mail.helpers import ME, ago, last_run, state
from tests.support.cli import ok
from tests.support.dovecot import Dovecot

TOKENS = {"good-token": "oauser"}


@pytest.fixture(scope="module")
def introspection():
    """An OAuth2 token introspection endpoint (RFC 7662) on loopback."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            token = dict(p.split("=", 1) for p in body.split("&") if "=" in p).get("token")
            seen.append(token)
            user = TOKENS.get(token)
            answer = {"active": True, "username": user} if user else {"active": False}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/introspect", seen
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def oauth_dovecot(introspection):
    _need_dovecot()
    server = Dovecot(oauth2_introspection_url=introspection[0]).start()
    yield server
    server.close()


def _oauth_env(monkeypatch, server, token_cmd):
    for key, value in {"SALESCLI_IMAP_HOST": server.host, "SALESCLI_IMAP_PORT": str(server.port),
                       "SALESCLI_IMAP_USER": "oauser", "SALESCLI_IMAP_SSL": "none",
                       "SALESCLI_IMAP_TOKEN_CMD": token_cmd, "SALESCLI_IMAP_RETRIES": "0",
                       "SALESCLI_MY_ADDRESSES": ME}.items():
        monkeypatch.setenv(key, value)


def test_xoauth2_login_with_a_token_command(oauth_dovecot, introspection, monkeypatch,
                                            invoke, conn, people):
    client = IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False)
    client.oauth2_login("oauser", "good-token")
    raw, _ = sample.reply(people["ada"], ME, ago(hours=2), "Hi", None)
    client.append("INBOX", raw)
    client.logout()
    _oauth_env(monkeypatch, oauth_dovecot, "echo good-token")
    ok(invoke("scan"))
    assert state(conn, "ada@example.com")["last_reply_at"] is not None
    assert introspection[1][-1] == "good-token"


def test_xoauth2_rejected_token_and_failing_command(oauth_dovecot, monkeypatch, invoke, conn):
    _oauth_env(monkeypatch, oauth_dovecot, "echo stolen-token")
    result = invoke("scan")
    assert result.exit_code == 1
    assert "Error: account 'default': login as 'oauser' (xoauth2) failed" in result.stderr
    assert "stolen-token" not in result.stderr
    assert "stolen-token" not in (last_run(conn)["error"] or "")
    _oauth_env(monkeypatch, oauth_dovecot, "exit 3")
    result = invoke("scan")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: account 'default': token command exited 3")
    # A command that fails is not trusted for what it printed before failing.
    _oauth_env(monkeypatch, oauth_dovecot, "echo good-token; exit 2")
    result = invoke("scan")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: account 'default': token command exited 2")
    _oauth_env(monkeypatch, oauth_dovecot, "true")
    result = invoke("scan")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: account 'default': token command printed no token")


@pytest.fixture(scope="module")
def tls_dovecot():
    _need_dovecot()
    server = Dovecot(tls=True).start()
    server.add_user("tlsuser", "tls-pw")
    yield server
    server.close()


def _tls_env(monkeypatch, server, *, host="localhost", mode="ssl", ca=True):
    port = server.tls_port if mode == "ssl" else server.port
    for key, value in {"SALESCLI_IMAP_HOST": host, "SALESCLI_IMAP_PORT": str(port),
                       "SALESCLI_IMAP_USER": "tlsuser", "SALESCLI_IMAP_PASSWORD": "tls-pw",
                       "SALESCLI_IMAP_SSL": mode, "SALESCLI_IMAP_RETRIES": "0"}.items():
        monkeypatch.setenv(key, value)
    if ca:
        monkeypatch.setenv("SALESCLI_IMAP_CA", str(server.ca_file))
    else:
        monkeypatch.delenv("SALESCLI_IMAP_CA", raising=False)


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_verified_tls_connection(tls_dovecot, monkeypatch, invoke, conn, mode):
    _tls_env(monkeypatch, tls_dovecot, mode=mode)
    ok(invoke("scan"))
    assert last_run(conn)["status"] == "ok"


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_wrong_host_name_is_refused(tls_dovecot, monkeypatch, invoke, mode):
    _tls_env(monkeypatch, tls_dovecot, host="127.0.0.1", mode=mode)
    result = invoke("scan")
    assert result.exit_code == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: account 'default': TLS certificate of 127.0.0.1:")
    assert "not valid for '127.0.0.1'" in error


def test_unknown_ca_is_refused(tls_dovecot, monkeypatch, invoke):
    _tls_env(monkeypatch, tls_dovecot, ca=False)
    result = invoke("scan")
    assert result.exit_code == 1
    error = result.stderr.strip().splitlines()[-1]
    assert "TLS certificate of localhost:" in error and "rejected" in error
    assert "SALESCLI_IMAP_CA" in error


def test_missing_ca_file_is_a_user_error(monkeypatch, invoke, tmp_path):
    monkeypatch.setenv("SALESCLI_IMAP_HOST", "localhost")
    monkeypatch.setenv("SALESCLI_IMAP_USER", "u")
    monkeypatch.setenv("SALESCLI_IMAP_PASSWORD", "p")
    monkeypatch.setenv("SALESCLI_IMAP_CA", str(tmp_path / "nope.pem"))
    result = invoke("scan")
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: SALESCLI_IMAP_CA '{tmp_path / 'nope.pem'}' "
                                     "is not a readable file")


def test_plaintext_to_a_remote_host_warns(monkeypatch, invoke):
    for key, value in {"SALESCLI_IMAP_HOST": "imap.nowhere.invalid", "SALESCLI_IMAP_USER": "u",
                       "SALESCLI_IMAP_PASSWORD": "secret-pw", "SALESCLI_IMAP_SSL": "none",
                       "SALESCLI_IMAP_RETRIES": "0"}.items():
        monkeypatch.setenv(key, value)
    result = invoke("scan")
    assert result.exit_code == 1
    assert ("WARNING [scan] account default: plaintext IMAP to imap.nowhere.invalid "
            "(ssl = none): the password and mail cross the network unencrypted") \
        in result.stderr, result.stderr
    assert "secret-pw" not in result.stderr


def test_implicit_tls_without_a_port_connects_to_993(monkeypatch, invoke):
    """SALESCLI_IMAP_SSL=ssl (the default) and no port: IMAPS's port, 993. A listener there
    sees the scan come, and drops it: the scan fails with one Error line."""
    import socket

    listener = socket.socket()
    try:
        listener.bind(("127.0.0.2", 993))
    except OSError as exc:  # not root, or the port is taken
        listener.close()
        pytest.skip(f"cannot listen on 127.0.0.2:993 ({exc})")
    listener.listen(1)
    listener.settimeout(10)
    accepted: list[tuple] = []

    def serve() -> None:
        try:
            conn, addr = listener.accept()
        except OSError:  # nobody came
            return
        accepted.append(addr)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        for key, value in {"SALESCLI_IMAP_HOST": "127.0.0.2", "SALESCLI_IMAP_USER": "u",
                           "SALESCLI_IMAP_PASSWORD": "pw", "SALESCLI_IMAP_RETRIES": "0",
                           "SALESCLI_IMAP_TIMEOUT": "10"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("SALESCLI_IMAP_PORT", raising=False)
        monkeypatch.delenv("SALESCLI_IMAP_SSL", raising=False)
        result = invoke("scan")
        thread.join(15)
    finally:
        listener.close()
    assert len(accepted) == 1  # the scan came to port 993
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: account 'default': ")
