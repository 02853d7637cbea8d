"""A real SMTP server for tests: aiosmtpd on a free loopback port, collecting what it receives.

Usage::

    from tests.support.smtpd import SmtpServer, make_certs

    with SmtpServer() as server:                      # plain SMTP on 127.0.0.1:<free port>
        monkeypatch.setenv(...)  # or: for k, v in server.env().items(): monkeypatch.setenv(k, v)
        ... send ...
        msgs = server.wait_for(1)                     # list[Received], parsed messages

    certs = make_certs(tmp_path)                      # a private CA + a localhost certificate
    with SmtpServer(starttls=certs, users={"u": "p"}) as server: ...
    with SmtpServer(implicit_tls=certs) as server: ...

Faults: ``server.stop()`` / ``server.start()`` (same port) for a real outage;
``server.fail_next(n, code=451)`` answers DATA with an error n times;
``server.refuse_rcpt(addr, code=550)`` refuses one recipient;
``server.hold.set()`` makes the server store a message and then stall before answering
250 (so a client can be killed after the message was received but before it learnt so);
``server.hold.clear()`` releases it. For what aiosmtpd cannot be made to say (a hang-up
mid-mail, a refusal of MAIL FROM, a reply in Latin-1), ``scripted_smtp(answer)`` is a bare
socket that answers each line as told.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
# aiosmtpd logs a deprecation warning on every successful login; errors still show.
logging.getLogger("mail.log").setLevel(logging.ERROR)


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Certs:
    """Paths of a throwaway CA and a server certificate it signed."""

    ca: Path
    cert: Path
    key: Path
    hostname: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def make_certs(directory: Path, hostname: str = "localhost", name: str = "test",
               *, ip: bool = True) -> Certs:
    """Make a CA and a certificate for ``hostname`` (and 127.0.0.1 unless ``ip`` is false)
    with openssl (EC keys, ~0.1 s)."""
    d = Path(directory) / f"certs-{name}"
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (d / n for n in ("ca.key", "ca.pem", "server.key",
                                                  "server.csr", "server.pem"))
    ext = d / "ext.cnf"
    san = f"DNS:{hostname}" + (",IP:127.0.0.1" if ip else "")
    ext.write_text(f"subjectAltName={san}\n"
                   "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", f"/CN={name} test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={hostname}")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return Certs(ca=ca, cert=cert, key=key, hostname=hostname)


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    user: str | None
    message: EmailMessage = field(repr=False)

    @property
    def message_id(self) -> str | None:
        return self.message["Message-ID"]


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.server._refused.get(address.lower())
        if code:
            return f"{code} 5.1.1 <{address}>: recipient refused by test server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        owner = self.server
        with owner._lock:
            if owner._failures > 0:
                owner._failures -= 1
                return f"{owner._failure_code} 4.3.0 test server says try again later"
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        msg = email.message_from_bytes(data, policy=email.policy.default)
        auth = session.auth_data
        with owner._lock:
            owner.messages.append(Received(
                mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), data=data,
                tls=session.ssl is not None or owner.implicit_tls is not None,
                user=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                message=msg))
        while owner.hold.is_set():  # store first, then stall before the 250
            await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A running aiosmtpd server on loopback; a context manager that always stops it."""

    def __init__(self, *, starttls: Certs | None = None, implicit_tls: Certs | None = None,
                 users: dict[str, str] | None = None, require_starttls: bool | None = None,
                 host: str = HOST, port: int | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.users = users
        self.require_starttls = bool(starttls) if require_starttls is None else require_starttls
        self.messages: list[Received] = []
        self.logins: list[tuple[str, bool]] = []  # (user, accepted)
        self.hold = threading.Event()
        self._lock = threading.Lock()
        self._failures = 0
        self._failure_code = 451
        self._refused: dict[str, int] = {}
        self._controller: Controller | None = None

    # -- lifecycle
    def start(self) -> SmtpServer:
        if self._controller is not None:
            return self
        kwargs: dict = {}
        if self.starttls:
            kwargs["tls_context"] = self.starttls.server_context()
            kwargs["require_starttls"] = self.require_starttls
        if self.users is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = bool(self.starttls or self.implicit_tls)
        controller = Controller(
            _Handler(self), hostname=self.host, port=self.port,
            ssl_context=self.implicit_tls.server_context() if self.implicit_tls else None,
            server_hostname="mx.test", ready_timeout=10, **kwargs)
        for _ in range(50):  # the port may still be in TIME_WAIT after a stop()
            try:
                controller.start()
                break
            except (OSError, RuntimeError):
                controller = Controller(
                    _Handler(self), hostname=self.host, port=self.port,
                    ssl_context=self.implicit_tls.server_context() if self.implicit_tls
                    else None, server_hostname="mx.test", ready_timeout=10, **kwargs)
                time.sleep(0.1)
        else:
            raise RuntimeError(f"test SMTP server could not listen on {self.host}:{self.port}")
        self._controller = controller
        return self

    def stop(self) -> None:
        """Really stop listening (connections are refused until ``start``)."""
        self.hold.clear()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- faults
    def fail_next(self, n: int = 1, code: int = 451) -> None:
        """Answer the next ``n`` DATA commands with ``code`` (4xx temporary, 5xx permanent)."""
        with self._lock:
            self._failures, self._failure_code = n, code

    def refuse_rcpt(self, address: str, code: int = 550) -> None:
        self._refused[address.lower()] = code

    # -- inspection
    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users is not None and self.users.get(user) == password
        self.logins.append((user, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """The received messages once there are at least ``n`` (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"expected {n} message(s), got {len(self.messages)}")

    def env(self, *, hostname: str | None = None) -> dict[str, str]:
        """``SALESCLI_SMTP_*`` settings that point salescli at this server."""
        env = {
            "SALESCLI_SMTP_HOST": hostname or self.host,
            "SALESCLI_SMTP_PORT": str(self.port),
            "SALESCLI_SMTP_SSL": "ssl" if self.implicit_tls else
            ("starttls" if self.starttls else "none"),
            "SALESCLI_SMTP_FROM": "salescli@notify.test",
            "SALESCLI_SMTP_TIMEOUT": "10",
        }
        certs = self.implicit_tls or self.starttls
        if certs:
            env["SALESCLI_SMTP_CA"] = str(certs.ca)
            env["SALESCLI_SMTP_HOST"] = hostname or certs.hostname
        return env


@contextmanager
def scripted_smtp(answer: Callable[[bytes], bytes | None],
                  greeting: bytes = b"220 scripted.test ESMTP") -> Iterator[int]:
    """A real loopback socket speaking just enough SMTP for one client: it greets, then
    writes ``answer(line)`` (CRLF added) for each line it reads, hangs up when the answer
    is None, and after answering QUIT. Yields its port; the serving thread is joined."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(30)

    def serve() -> None:
        peer, _ = listener.accept()
        with peer, peer.makefile("rwb") as f:
            f.write(greeting + b"\r\n")
            f.flush()
            while line := f.readline():
                reply = answer(line)
                if reply is None:
                    return
                f.write(reply + b"\r\n")
                f.flush()
                if line[:4].upper() == b"QUIT":
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(30)
        listener.close()
