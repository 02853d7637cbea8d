"""Fixtures for the operations tests: real database files, real subprocesses, real damage."""

from __future__ import annotations

import signal
import subprocess

import pytest


@pytest.fixture
def ops_conn(db_file):
    """A migrated sales database under tmp (autocommit connection)."""
    from salescli.core import db

    conn = db.open_write(db_file)
    yield conn
    conn.close()


@pytest.fixture
def procs():
    """Start background processes; every one is killed and reaped at the end."""
    started: list[subprocess.Popen] = []

    def start(*args: str, **kw) -> subprocess.Popen:
        p = subprocess.Popen([str(a) for a in args], **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        for stream in (p.stdout, p.stderr, p.stdin):
            if stream:
                stream.close()
