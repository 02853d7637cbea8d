"""A hand-built pipeline history with known answers, written through the library.

Days are relative to today in America/New_York (``D`` = today, ``D-3`` = three days ago);
times are local. What happens (owner, value in brackets):

    D-10 09:00 a created in lead (ana, 1000)       D-10 23:45 b created in lead (ben, 500)
    D-9  10:00 a → contacted                        D-9  12:00 c created in lead (ana)
    D-8  10:00 a → replied                          D-8  11:00 d created in lead (ana, 200)
               c reassigned to ben (no stage change)
    D-7  10:00 a → contacted (back)                 D-7  12:00 c → contacted (owner now ben)
    D-6  10:00 a → replied (forth)                  D-6  11:00 e created in lead (ben)
    D-6  12:00 d → contacted                        D-5  10:00 a → meeting
    D-5  11:00 e2 created in lead (ben), later merged into e
    D-4  00:15 b → lost                             D-4  10:00 e → contacted
    D-3  23:30 a → won (04:30 UTC on D-2)
    D    d archived; e2 merged into e

Interactions: a email_out D-9 09:00, auto_reply D-9 09:05, email_in D-8 08:00, meeting
D-5 14:00 (ana); b email_out D-5 23:59 and bounce D-4 00:01 (ben: both on D-4 in UTC);
c call D-8 15:00 (ben, after the reassignment); d note D-7 09:00 (ana); e email_out
D-5 12:00 message <m1>; e2 the same message <m1> (dropped by the merge) and email_in
D-4 09:00.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from salescli.pipeline import interactions, prospects, stages
from tests.sequences.conftest import smtp_server  # noqa: F401 (fixture: aiosmtpd, no send gap)

NY = ZoneInfo("America/New_York")
ACTOR = "tester"


@dataclass
class History:
    """The test database, today's local date and the ids of the prospects by letter."""

    conn: sqlite3.Connection
    today: date
    ids: dict[str, int] = field(default_factory=dict)

    def at(self, days_ago: int, hhmm: str) -> str:
        """ISO UTC of local time ``hhmm`` on D-``days_ago``."""
        h, m = map(int, hhmm.split(":"))
        local = datetime.combine(self.today - timedelta(days=days_ago), time(h, m), tzinfo=NY)
        return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def day(self, days_ago: int) -> str:
        return (self.today - timedelta(days=days_ago)).isoformat()

    def add(self, key: str, days_ago: int, hhmm: str, owner: str, value=None) -> None:
        p = prospects.add(self.conn, ACTOR, f"{key}@example.com", name=key.upper(),
                          owner=owner, value=value, at=self.at(days_ago, hhmm))
        self.ids[key] = p["id"]

    def move(self, key: str, stage: str, days_ago: int, hhmm: str) -> None:
        reason = "test" if stage in ("won", "lost") else None
        assert stages.move(self.conn, ACTOR, self.ids[key], stage, reason=reason,
                             at=self.at(days_ago, hhmm))

    def log(self, key: str, kind: str, days_ago: int, hhmm: str, msg: str | None = None):
        return interactions.record(self.conn, ACTOR, self.ids[key], kind,
                                   self.at(days_ago, hhmm), message_id=msg)


def build(h: History, *, merge: bool = True, archive: bool = True) -> History:
    """Write the history above into ``h.conn`` (see the module docstring)."""
    h.add("a", 10, "09:00", "ana", 1000)
    h.add("b", 10, "23:45", "ben", 500)
    h.move("a", "contacted", 9, "10:00")
    h.add("c", 9, "12:00", "ana")
    h.log("a", "email_out", 9, "09:00")
    h.log("a", "auto_reply", 9, "09:05")
    h.move("a", "replied", 8, "10:00")
    h.add("d", 8, "11:00", "ana", 200)
    h.log("a", "email_in", 8, "08:00")
    prospects.update(h.conn, ACTOR, h.ids["c"], {"owner": "ben"})
    h.log("c", "call", 8, "15:00")
    h.move("a", "contacted", 7, "10:00")
    h.move("c", "contacted", 7, "12:00")
    h.log("d", "note", 7, "09:00")
    h.move("a", "replied", 6, "10:00")
    h.add("e", 6, "11:00", "ben")
    h.move("d", "contacted", 6, "12:00")
    h.move("a", "meeting", 5, "10:00")
    h.add("e2", 5, "11:00", "ben")
    h.log("a", "meeting", 5, "14:00")
    h.log("b", "email_out", 5, "23:59")
    h.log("e", "email_out", 5, "12:00", "<m1@example.com>")
    h.log("e2", "email_out", 5, "12:00", "<m1@example.com>")
    h.move("b", "lost", 4, "00:15")
    h.log("b", "bounce", 4, "00:01")
    h.move("e", "contacted", 4, "10:00")
    h.log("e2", "email_in", 4, "09:00", "<m2@example.com>")
    h.move("a", "won", 3, "23:30")
    if archive:
        prospects.archive(h.conn, ACTOR, h.ids["d"])
    if merge:
        prospects.merge(h.conn, ACTOR, h.ids["e"], h.ids["e2"])
    return h


@pytest.fixture
def ny(monkeypatch):
    monkeypatch.setenv("SALESCLI_TZ", "America/New_York")
    return NY


@pytest.fixture
def history(conn, ny) -> History:
    """The whole history above in a fresh database, not rolled up yet."""
    return build(History(conn, datetime.now(NY).date()))


def table(conn: sqlite3.Connection, name: str) -> list[tuple]:
    """Every row of a rollup table, in key order, as plain tuples."""
    order = "day, stage_id, owner" if name == "metrics_pipeline" else "day, owner"
    return [tuple(r) for r in conn.execute(f"SELECT * FROM {name} ORDER BY {order}")]


def pipeline_rows(conn: sqlite3.Connection) -> dict[tuple[str, str, str], dict]:
    """metrics_pipeline keyed by (day, stage name, owner), zero columns left out."""
    out = {}
    for r in conn.execute("SELECT m.*, s.name AS stage FROM metrics_pipeline m"
                          " JOIN stages s ON s.id = m.stage_id"):
        d = dict(r)
        key = (d.pop("day"), d.pop("stage"), d.pop("owner"))
        d.pop("stage_id")
        out[key] = {k: v for k, v in d.items() if v}
    return out
