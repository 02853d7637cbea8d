"""Fixtures for sequences: a real aiosmtpd, Dovecot (from the mail tests), a team, a plan."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salescli.core import db
from salescli.pipeline import prospects
from salescli.web import users
from tests.mail.conftest import dovecot, mailbox  # noqa: F401 (fixtures)
from tests.support.smtpd import SmtpServer

ME = "me@ours.example"  # maria's address, and SALESCLI_MY_ADDRESSES for the scanner

THREE_STEPS = """
name = "intro"
window = "00:00-24:00"
days = "daily"
[[steps]]
wait = "0d"
subject = "Quick question, {{ prospect.first_name }}"
body = '''Hi {{ prospect.first_name }},
would {{ company.name }} like a demo?
{{ owner.name }}'''
[[steps]]
wait = "3d"
body = "Just bumping this up, {{ prospect.first_name }}."
[[steps]]
wait = "2d"
body = "Last note from me. {{ owner.email }}"
"""


@pytest.fixture
def smtp_server(monkeypatch):
    """aiosmtpd on loopback; SALESCLI_SMTP_* point at it; the gap between mails is lifted."""
    server = SmtpServer().start()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SALESCLI_SEND_MIN_GAP", "0")
    yield server
    server.stop()


@pytest.fixture
def t0() -> datetime:
    """Enrolment time: yesterday, to the second (mail dated after it is not in the future)."""
    return (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)


@pytest.fixture
def team(conn):
    """maria (me@ours.example) owns ada, bob and cy."""
    users.add(conn, db.db_path(), "tester", "maria", "operator", email=ME)
    out = {}
    for name, email in (("Ada Lovelace", "ada@example.com"), ("Bob Babbage", "bob@example.org"),
                        ("Cy Young", "cy@example.net")):
        p = prospects.add(conn, "tester", email, name=name, company=name.split()[1] + " Ltd",
                          owner="maria")
        out[name.split()[0].lower()] = {"id": p["id"], "email": email, "name": name}
    return out


def cy_replied(conn, team, t0: datetime) -> str:
    """Cy, enrolled in ``intro`` at t0, is sent step 1 and replies an hour later; the send
    three days on ends the enrollment as replied (what the morning digest reports).
    Returns the reply's time, as stored."""
    from salescli.core.timeutil import iso
    from salescli.pipeline import interactions
    from salescli.sequences import enroll
    from salescli.sequences.send import send_due

    enroll.enroll(conn, "tester", "intro", ["cy@example.net"], now_=t0)
    send_due(conn, now=t0)
    replied = iso(t0 + timedelta(hours=1))
    interactions.record(conn, "monitor", team["cy"]["id"], "email_in", replied,
                        message_id="<r@x>")
    conn.execute("UPDATE prospects SET last_reply_at = ? WHERE id = ?",
                 (replied, team["cy"]["id"]))
    send_due(conn, now=t0 + timedelta(days=3))
    return replied


def write_plan(tmp_path: Path, text: str = THREE_STEPS, name: str = "seq.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def intro(conn, tmp_path, team):
    """The three-step ``intro`` sequence, loaded."""
    from salescli.sequences import store

    store.load(conn, "tester", write_plan(tmp_path))
    return "intro"

