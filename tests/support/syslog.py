"""A UDP socket on the syslog port for the tests that check where the log goes.

Port 514 is one per host, and the suite runs on several pytest-xdist workers: a file lock
lets one test at a time hold it, so that no test skips (or reads another's datagram)
because a test in the other worker had it.
"""

from __future__ import annotations

import fcntl
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

LOCK = Path(tempfile.gettempdir()) / "salescli-tests-syslog-port.lock"


@contextmanager
def syslog_listener(host: str = "127.0.0.1", port: int = 514) -> Iterator[socket.socket]:
    """A UDP socket bound to host:port while no other test holds the port; skips the test
    when the port cannot be had (not root, or a syslog daemon listens there)."""
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            server.bind((host, port))
        except OSError as exc:
            server.close()
            pytest.skip(f"cannot listen on UDP {host}:{port} here: {exc}")
        try:
            yield server
        finally:
            server.close()
