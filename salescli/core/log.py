"""One logging configuration for every command and job, with secrets redacted.

On a terminal: plain messages. Otherwise (cron, pipes): one line per event with
UTC timestamp, level and job. ``--quiet`` (what the cron jobs pass) keeps stderr
to warnings and errors, so cron's MAILTO only mails failures, while the log file
(``SALESCLI_LOG_FILE``, rotated) or syslog (``SALESCLI_LOG_SYSLOG``) still gets
the summary line of every run. A filter on every handler replaces the values of
secret environment variables, and any secret registered with ``add_secret``
(such as the token printed by ``SALESCLI_IMAP_TOKEN_CMD``), by ``[redacted]``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import time
from pathlib import Path

from salescli.core.env import number

REDACTED = "[redacted]"
# Environment variables whose values are secrets, by a word in their name.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|CREDENTIAL|WEBHOOK_URL",
                         re.IGNORECASE)
# Shorter values would blank out ordinary words in every line; they are not real secrets.
MIN_SECRET_LEN = 4
DEFAULT_MAX_BYTES = 5_000_000
DEFAULT_BACKUPS = 5
_registered: set[str] = set()
# The error messages logged in this process (already redacted): lets the cron
# entries report a failure once, not once per layer.
logged_errors: list[str] = []


def add_secret(value: str | None) -> None:
    """Redact ``value`` from every later log record (e.g. an OAuth2 token fetched at runtime)."""
    if value and len(value.strip()) >= MIN_SECRET_LEN:
        _registered.add(value.strip())


def secrets() -> list[str]:
    """Every value to redact now, longest first (so a secret containing another goes whole)."""
    found = set(_registered)
    for name, value in os.environ.items():
        if SECRET_NAME.search(name) and value and len(value.strip()) >= MIN_SECRET_LEN:
            found.add(value.strip())
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every known secret replaced by ``[redacted]``."""
    for secret in secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message, exception and stack text without secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "_salescli_redacted"):  # set below, once redacted
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can, never crash logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None  # pragma: no mutate (logging treats every empty args alike)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._salescli_redacted = True
        if record.levelno >= logging.ERROR:
            logged_errors.append(record.msg)
        return True


class JobFilter(logging.Filter):
    """Adds ``record.job`` (the job or command name) for the line formats."""

    def __init__(self, job: str | None):
        super().__init__()
        self.job = job

    def filter(self, record: logging.LogRecord) -> bool:
        record.job = self.job or "-"
        return True


class UTCFormatter(logging.Formatter):
    """``2025-01-31T08:00:00Z LEVEL [job] message`` — the line format for files and cron."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(job)s] %(message)s", "%Y-%m-%dT%H:%M:%SZ")


def _file_handler(path: str) -> logging.Handler:
    """A size-rotated log file, created 0600 (it names prospects); max bytes 0 = logrotate."""
    import logging.handlers  # only when a log file is configured: ~10 ms at every start

    from salescli.core.db import create_private

    class Private:
        """Every file the handler opens (the first, and each one after a rotation) is 0600
        whatever the umask: the handlers themselves open with the umask's mode."""

        baseFilename: str

        def _open(self):  # noqa: ANN202 - logging's own hook
            create_private(Path(self.baseFilename))
            return super()._open()  # type: ignore[misc]

    class PrivateWatched(Private, logging.handlers.WatchedFileHandler):
        pass

    class PrivateRotating(Private, logging.handlers.RotatingFileHandler):
        pass

    create_private(Path(path))
    max_bytes = number("SALESCLI_LOG_MAX_BYTES", DEFAULT_MAX_BYTES)
    if max_bytes == 0:
        return PrivateWatched(path, encoding="utf-8")  # pragma: no mutate (codec case)
    return PrivateRotating(
        path, maxBytes=max_bytes, backupCount=number("SALESCLI_LOG_BACKUPS", DEFAULT_BACKUPS),
        encoding="utf-8")


def syslog_address(value: str) -> str | tuple[str, int]:
    """``1`` → the local socket (/dev/log); ``/path`` → that socket; ``host:port`` or ``host``
    (port 514) → UDP."""
    import logging.handlers

    if value.lower() in ("1", "true", "yes", "on"):
        for path in ("/dev/log", "/var/run/syslog"):  # pragma: no mutate: per-OS sockets
            if os.path.exists(path):
                return path
        return ("localhost", logging.handlers.SYSLOG_UDP_PORT)
    if value.startswith("/"):
        return value
    if ":" not in value:  # a host alone: syslog's own UDP port there
        return (value, logging.handlers.SYSLOG_UDP_PORT)
    host, _, port = value.rpartition(":")
    if port and not port.isdigit():  # a typo must not mean port 514
        raise ValueError(f"port {port!r} is not a number")  # a warning: logging goes on
    if port and not 0 < int(port) < 65536:
        raise ValueError(f"port {port} is not 1-65535")
    return (host or "localhost", int(port) if port else 514)


def _syslog_handler(value: str) -> logging.Handler:
    import logging.handlers

    address = syslog_address(value)
    handler = logging.handlers.SysLogHandler(
        address=address, facility=logging.handlers.SysLogHandler.LOG_USER,
        socktype=socket.SOCK_DGRAM)
    handler.setFormatter(logging.Formatter(
        f"salescli[{os.getpid()}]: %(levelname)s [%(job)s] %(message)s"))
    return handler


def setup_logging(verbose: int = 0, quiet: bool = False, job: str | None = None) -> None:
    """Configure the ``salescli`` logger once per process (called again, it starts afresh).

    ``verbose`` 1 shows debug lines of salescli, 2 those of the libraries too;
    ``quiet`` limits stderr to warnings and errors. ``SALESCLI_JOB`` (set by the
    cron entries) names the job in each line instead of ``job``.
    """
    job = os.environ.get("SALESCLI_JOB") or job
    level = logging.DEBUG if verbose else logging.INFO
    logger = logging.getLogger("salescli")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    filters: list[logging.Filter] = [JobFilter(job), RedactingFilter()]

    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.WARNING if quiet else level)
    # logging's default format is the bare message: plain lines on a terminal
    stream.setFormatter(logging.Formatter() if _isatty(sys.stderr)
                        else UTCFormatter())
    handlers: list[logging.Handler] = [stream]
    problems = []
    log_file = os.environ.get("SALESCLI_LOG_FILE", "").strip()
    if log_file:
        try:
            fh = _file_handler(log_file)
        except OSError as exc:
            problems.append(f"SALESCLI_LOG_FILE {log_file!r} cannot be opened: {exc.strerror}")
        else:
            fh.setFormatter(UTCFormatter())
            handlers.append(fh)
    syslog = os.environ.get("SALESCLI_LOG_SYSLOG", "").strip()
    if syslog and syslog.lower() not in ("0", "false", "no", "off"):
        try:
            handlers.append(_syslog_handler(syslog))
        except (OSError, ValueError) as exc:
            problems.append(f"SALESCLI_LOG_SYSLOG {syslog!r} cannot be used: {exc}")
    for handler in handlers:
        if handler is not stream:
            handler.setLevel(level)
        for f in filters:
            handler.addFilter(f)
        logger.addHandler(handler)

    for problem in problems:  # logging still works on stderr: say so, do not stop the job
        logger.warning("%s", problem)

    # Library loggers (imapclient, urllib3, …) only with -vv, through the same handlers.
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _Proxy):
            root.removeHandler(handler)
    if verbose >= 2:
        for handler in handlers:
            proxy = _Proxy(handler)
            root.addHandler(proxy)
        root.setLevel(logging.DEBUG)


class _Proxy(logging.Handler):
    """Forwards library records to one of our handlers (so they are redacted too)."""

    def __init__(self, target: logging.Handler):
        super().__init__(logging.DEBUG)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("salescli"):
            self.target.handle(record)


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False
