"""Fixtures for notification tests: a real SMTP server, a real webhook receiver, a small team."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from salescli.core import db
from salescli.pipeline import prospects
from salescli.web import users
from tests.support.smtpd import SmtpServer, make_certs


@pytest.fixture
def smtp_server(monkeypatch):
    """A plain aiosmtpd server on loopback with SALESCLI_SMTP_* pointing at it."""
    server = SmtpServer().start()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A private CA and a certificate for localhost (made once per test session)."""
    return make_certs(tmp_path_factory.mktemp("tls"))


@dataclass
class Hook:
    """What the webhook receiver got, and what it answers next."""

    requests: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    url: str = ""
    reason: str | None = None  # the reason phrase of the answers (None: the standard one)


@pytest.fixture
def webhook(monkeypatch):
    """A real HTTP server on a free loopback port; SALESCLI_WEBHOOK_URL points at it."""
    hook = Hook()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                status = hook.statuses.pop(0) if hook.statuses else 200
                hook.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "json": json.loads(body), "status": status})
            self.send_response(status, hook.reason)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0KEN-s3cret"
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", hook.url)
    yield hook
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def team(conn, db_file):
    """Two owners with addresses (alice, bob) and prospects: carol+dave (alice), erin (bob)."""
    users.add(conn, db_file, "tester", "alice", "operator", email="alice@example.com")
    users.add(conn, db_file, "tester", "bob", "operator", email="bob@example.com")
    made = {}
    for email, name, owner in [("carol@client.test", "Carol", "alice"),
                               ("dave@client.test", "Dave", "alice"),
                               ("erin@client.test", "Erin", "bob")]:
        made[name.lower()] = prospects.add(conn, "tester", email, name=name, owner=owner)["id"]
    return made


def queue(conn, rule: str, prospect_id: int, key: str, **payload):
    """Enqueue as the monitor does: inside the caller's transaction."""
    from salescli.notify import outbox

    with db.transaction(conn):
        return outbox.enqueue(conn, rule=rule, prospect_id=prospect_id, event_key=key,
                              payload=payload)

