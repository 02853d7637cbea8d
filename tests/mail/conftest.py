"""Fixtures for the email monitor: a real Dovecot, one fresh IMAP user per test, helpers to
append mail, run scans (in-process or as a real ``salescli`` process) and read results."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from salescli.pipeline import prospects
from tests.mail.helpers import CREATED, Mailbox, new_mailbox
from tests.support.dovecot import Dovecot


def _need_dovecot() -> None:
    if shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "dovecot-imapd"], check=False,
                       capture_output=True)
    if not (shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists()):
        pytest.skip("dovecot-imapd is not installed")


@pytest.fixture(scope="session")
def dovecot():
    """One Dovecot for the session; ``Sent`` and ``Sent Items`` are flagged \\Sent."""
    _need_dovecot()
    server = Dovecot(sent_folders=("Sent", "Sent Items")).start()
    yield server
    server.close()


@pytest.fixture
def own_dovecot():
    """A Dovecot of the test's own (for tests that stop or restart it)."""
    _need_dovecot()
    server = Dovecot().start()
    yield server
    server.close()


@pytest.fixture
def mailbox(dovecot, monkeypatch) -> Mailbox:
    """A fresh IMAP user on the session Dovecot; SALESCLI_IMAP_* point at it."""
    return new_mailbox(dovecot, monkeypatch)


@pytest.fixture
def people(conn):
    """Five prospects in lead since 2020: ada, bob, cy, dee, eve (at example.com / .org)."""
    out = {}
    for name, email in (("Ada Lovelace", "ada@example.com"), ("Bob Babbage", "bob@example.org"),
                        ("Cy Young", "cy@example.net"), ("Dee Dee", "dee@example.com"),
                        ("Eve Ng", "eve@example.org")):
        p = prospects.add(conn, "tester", email, name=name, company=name.split()[1] + " Ltd",
                          at=CREATED)
        out[name.split()[0].lower()] = {"id": p["id"], "email": email, "name": name,
                                        "company": p["company"]}
    return out


