"""A prospect's last interaction and last contact, kept by the interactions_touch_ai
trigger (m012_scan_speed gives it a WHEN: it rewrites the prospect only when the new
interaction moves one of them; a first scan records old mail in any order)."""

from __future__ import annotations

import itertools
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salescli.core import db
from salescli.mail import rules
from salescli.pipeline import interactions
from salescli.pipeline import prospects as lib
from tests.support.cli import database_before

CONTACTS = ("email_out", "call", "meeting")
KINDS = ("email_out", "email_in", "auto_reply", "bounce", "call", "meeting", "note")


def touched(conn: sqlite3.Connection, pid: int, kind: str, at: str) -> int:
    """Record one interaction; 1 if the trigger rewrote the prospect, else 0 (SQLite's
    total changes count the trigger's: the interaction and its activity row are 2)."""
    before = conn.total_changes
    interactions.record(conn, "t", pid, kind, at)
    return conn.total_changes - before - 2


def last(conn: sqlite3.Connection, pid: int) -> tuple:
    return tuple(conn.execute("SELECT last_interaction_at, last_contacted_at FROM prospects"
                              " WHERE id = ?", (pid,)).fetchone())


def test_the_prospect_is_rewritten_only_when_an_interaction_moves_its_times(conn):
    pid = lib.add(conn, "t", "ada@example.com")["id"]
    assert touched(conn, pid, "email_in", "2024-05-01T10:00:00Z") == 1  # first: NULL → set
    assert touched(conn, pid, "email_in", "2024-04-01T10:00:00Z") == 0  # older: nothing
    assert touched(conn, pid, "email_in", "2024-05-01T10:00:00Z") == 0  # the same time
    assert last(conn, pid) == ("2024-05-01T10:00:00Z", None)
    # Older than the last interaction but the first contact: last_contacted_at moves.
    assert touched(conn, pid, "email_out", "2024-03-01T10:00:00Z") == 1
    assert last(conn, pid) == ("2024-05-01T10:00:00Z", "2024-03-01T10:00:00Z")
    assert touched(conn, pid, "call", "2024-02-01T10:00:00Z") == 0  # an older contact
    assert touched(conn, pid, "note", "2024-06-01T10:00:00Z") == 1  # newer, not a contact
    assert last(conn, pid) == ("2024-06-01T10:00:00Z", "2024-03-01T10:00:00Z")
    assert touched(conn, pid, "meeting", "2024-03-02T10:00:00Z") == 1
    assert last(conn, pid) == ("2024-06-01T10:00:00Z", "2024-03-02T10:00:00Z")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    c = db.open_write(tmp_path_factory.mktemp("trigger") / "sales.db")
    yield c
    c.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 30)), max_size=12))
def test_the_times_are_the_latest_of_any_order_of_interactions(shared, mail):
    pid = lib.add(shared, "t", f"p{next(_numbers)}@example.com")["id"]
    for kind, day in mail:
        interactions.record(shared, "t", pid, kind, f"2024-01-{day + 1:02d}T00:00:00Z")
    times = [f"2024-01-{day + 1:02d}T00:00:00Z" for _kind, day in mail]
    contacts = [t for (kind, _day), t in zip(mail, times, strict=True) if kind in CONTACTS]
    assert last(shared, pid) == (max(times, default=None), max(contacts, default=None))


_numbers = itertools.count()


def test_m012_upgrades_a_version_11_database(tmp_path):
    path = tmp_path / "old.db"
    conn = database_before(path, "m012_scan_speed")
    ts = "2024-01-02T03:04:05Z"
    conn.execute("INSERT INTO stages(name, position, kind, created_at)"
                 " VALUES ('lead', 0, 'open', ?)", (ts,))
    conn.execute("INSERT INTO prospects(email, stage_id, stage_entered_at, created_at,"
                 " updated_at) VALUES ('old@example.com', 1, ?, ?, ?)", (ts, ts, ts))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 11
    assert touched(conn, 1, "email_out", "2024-05-01T00:00:00Z") == 1
    assert touched(conn, 1, "email_out", "2024-04-01T00:00:00Z") == 1  # v11: always
    conn.close()
    conn = db.open_write(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
        assert touched(conn, 1, "email_out", "2024-03-01T00:00:00Z") == 0
        assert touched(conn, 1, "email_in", "2024-06-01T00:00:00Z") == 1
        assert last(conn, 1) == ("2024-06-01T00:00:00Z", "2024-05-01T00:00:00Z")
        # People's changes are found through m012's partial index: a person's reset of
        # the email status holds against a hard bounce recorded before it.
        interactions.record(conn, "monitor", 1, "bounce", "2024-02-01T00:00:00Z",
                            message_id="<old-bounce>",
                            detail={"bounce": "hard", "diagnostic": "550 gone"})
        lib.update(conn, "tester", 1, {"email_status": "bounced_soft"})
        lib.update(conn, "tester", 1, {"email_status": "ok"})
        assert rules.apply_many(conn, [1]) == {"moves": 0, "status_changes": 0}
        assert conn.execute("SELECT email_status FROM prospects").fetchone()[0] == "ok"
    finally:
        conn.close()
