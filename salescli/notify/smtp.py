"""Sending mail by SMTP for notifications and reports, configured from the environment.

TLS (implicit or STARTTLS) with certificate and host-name verification is the default;
plaintext only when ``SALESCLI_SMTP_SSL=none``. Passwords are read here and never logged.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum

from salescli.core.errors import InvalidValue, SalescliError

log = logging.getLogger("salescli.smtp")


class TlsMode(StrEnum):
    SSL = "ssl"
    STARTTLS = "starttls"
    NONE = "none"


DEFAULT_PORTS = {TlsMode.SSL: 465, TlsMode.STARTTLS: 587, TlsMode.NONE: 25}


class SmtpError(SalescliError):
    """Mail could not be handed to the SMTP server; ``permanent`` when retrying is useless."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send; ``password`` is excluded from repr so it never reaches a log."""

    host: str
    port: int
    tls: TlsMode
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    sender: str | None = None
    timeout: float = 30.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context (system CAs, or only ``ca_file`` when given)."""
        if self.ca_file and not os.path.exists(self.ca_file):
            raise InvalidValue("SALESCLI_SMTP_CA", self.ca_file, "does not exist")
        return ssl.create_default_context(cafile=self.ca_file or None)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses, where plaintext crosses no wire."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def configured(env: dict[str, str] | None = None) -> bool:
    """Whether an SMTP host is configured at all."""
    env = os.environ if env is None else env
    return bool(env.get("SALESCLI_SMTP_HOST", "").strip())


def settings_from_env(env: dict[str, str] | None = None) -> SmtpSettings:
    """Read ``SALESCLI_SMTP_*``; InvalidValue names the variable that is wrong."""
    env = os.environ if env is None else env
    host = env.get("SALESCLI_SMTP_HOST", "").strip()
    if not host:
        raise InvalidValue("SALESCLI_SMTP_HOST", "", "is not set (the SMTP server to send via)")
    raw_tls = env.get("SALESCLI_SMTP_SSL", "").strip().lower() or "starttls"
    try:
        tls = TlsMode(raw_tls)
    except ValueError:
        raise InvalidValue("SALESCLI_SMTP_SSL", raw_tls,
                           "must be one of ssl, starttls, none") from None
    raw_port = env.get("SALESCLI_SMTP_PORT", "").strip()
    try:
        port = int(raw_port) if raw_port else DEFAULT_PORTS[tls]
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise InvalidValue("SALESCLI_SMTP_PORT", raw_port, "is not a port number") from None
    raw_timeout = env.get("SALESCLI_SMTP_TIMEOUT", "").strip()
    try:
        timeout = float(raw_timeout) if raw_timeout else 30.0
    except ValueError:
        raise InvalidValue("SALESCLI_SMTP_TIMEOUT", raw_timeout, "is not a number") from None
    user = env.get("SALESCLI_SMTP_USER", "").strip() or None
    sender = env.get("SALESCLI_SMTP_FROM", "").strip() or None
    if sender is None:
        sender = user if user and "@" in user else f"salescli@{socket.getfqdn() or 'localhost'}"
    return SmtpSettings(
        host=host, port=port, tls=tls, user=user,
        password=env.get("SALESCLI_SMTP_PASSWORD") or None,
        ca_file=env.get("SALESCLI_SMTP_CA", "").strip() or None,
        sender=sender, timeout=timeout,
    )


def _tls_failure(settings: SmtpSettings, exc: ssl.SSLError) -> SmtpError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        # Equivalent mutants: OpenSSL always sets verify_message on a failed verification.
        detail = exc.verify_message or exc.reason or str(exc)  # pragma: no mutate
        return SmtpError(f"TLS verification of SMTP server {settings.host!r} failed: {detail}"
                         + ("" if settings.ca_file else " (set SALESCLI_SMTP_CA for a private CA)"))
    return SmtpError(f"TLS handshake with SMTP server {settings.where} failed: "
                     f"{exc.reason or exc}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


class SmtpSession:
    """One open, authenticated connection; ``send`` may be called many times."""

    def __init__(self, settings: SmtpSettings, client: smtplib.SMTP):
        self.settings = settings
        self.client = client

    def send(self, msg: EmailMessage) -> None:
        """Hand one message to the server; returns once the server accepted it."""
        if msg["From"] is None:
            msg["From"] = self.settings.sender
        self._call(lambda: self.client.send_message(msg))

    def send_bytes(self, sender: str, recipients: list[str], data: bytes) -> None:
        """Hand an already flattened message to the server (for callers that flatten
        elsewhere, such as the sequence sender); same errors as ``send``."""
        self._call(lambda: self.client.sendmail(sender, recipients, data))

    def _call(self, call: Callable[[], dict]) -> None:
        s = self.settings
        try:
            refused = call()
        except smtplib.SMTPRecipientsRefused as exc:
            parts = [f"{rcpt} ({code} {' '.join(resp.decode(errors='replace').split())})"
                     for rcpt, (code, resp) in exc.recipients.items()]
            permanent = all(code >= 500 for code, _ in exc.recipients.values())
            raise SmtpError(f"SMTP server {s.where} refused recipient " + ", ".join(parts),
                            permanent=permanent) from None
        except smtplib.SMTPSenderRefused as exc:
            raise SmtpError(f"SMTP server {s.where} refused sender {s.sender}: {_reply(exc)}",
                            permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPDataError as exc:
            raise SmtpError(f"SMTP server {s.where} rejected the message: {_reply(exc)}",
                            permanent=exc.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpError(f"SMTP server {s.where} failed while sending: "
                            f"{type(exc).__name__}: {exc}") from None
        if refused:
            log.warning("SMTP server %s refused some recipients: %s", s.where,
                        ", ".join(refused))


@contextmanager
def session(settings: SmtpSettings | None = None) -> Iterator[SmtpSession]:
    """Connect, secure, log in; yields a session and closes it politely afterwards."""
    s = settings or settings_from_env()
    if s.tls is TlsMode.NONE and not is_loopback(s.host):
        log.warning("SMTP to %s without TLS (SALESCLI_SMTP_SSL=none): mail and password "
                    "cross the network in plain text", s.where)
    client: smtplib.SMTP | None = None
    try:
        if s.tls is TlsMode.SSL:
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                      context=s.ssl_context())
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.tls is TlsMode.STARTTLS:
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise SmtpError(f"SMTP server {s.where} does not offer STARTTLS "
                                    "(set SALESCLI_SMTP_SSL=ssl for implicit TLS, or none)")
                client.starttls(context=s.ssl_context())
                client.ehlo()
        if s.user:
            if s.password is None:
                raise InvalidValue("SALESCLI_SMTP_PASSWORD", "",
                                   f"is not set (needed to log in as {s.user})")
            client.login(s.user, s.password)
    except SalescliError:
        _close(client)
        raise
    except ssl.SSLError as exc:
        _close(client)
        raise _tls_failure(s, exc) from None
    except smtplib.SMTPAuthenticationError as exc:
        _close(client)
        raise SmtpError(f"SMTP server {s.where} refused the login as {s.user}: "
                        f"{_reply(exc)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        _close(client)
        raise SmtpError(f"SMTP server {s.where}: {exc}") from None
    except ConnectionRefusedError:
        _close(client)
        raise SmtpError(f"SMTP server {s.where} refused the connection") from None
    except socket.gaierror as exc:
        _close(client)
        raise SmtpError(f"SMTP host {s.host!r} cannot be resolved: {exc.strerror}") from None
    except smtplib.SMTPServerDisconnected as exc:
        _close(client)
        if isinstance(exc.__context__, TimeoutError):  # smtplib's word for a silent server
            raise SmtpError(f"SMTP server {s.where} timed out after {s.timeout:g}s") from None
        raise SmtpError(f"SMTP server {s.where} closed the connection: {exc}") from None
    except TimeoutError:
        _close(client)
        raise SmtpError(f"SMTP server {s.where} timed out after {s.timeout:g}s") from None
    except smtplib.SMTPResponseException as exc:
        _close(client)
        raise SmtpError(f"SMTP server {s.where} answered {_reply(exc)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        _close(client)
        raise SmtpError(f"SMTP server {s.where}: {type(exc).__name__}: {exc}") from None
    try:
        yield SmtpSession(s, client)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            _close(client)


def _close(client: smtplib.SMTP | None) -> None:
    if client is not None:
        try:
            client.close()
        except OSError:
            pass


def send(msg: EmailMessage, settings: SmtpSettings | None = None) -> None:
    """Send one message over a fresh connection; raises SmtpError with a one-line reason."""
    with session(settings) as smtp:
        smtp.send(msg)
