"""A small fixed history, built through the library (``prospects.add``/``stages.move`` with
explicit times), whose forecast is worked out by hand in the tests.

Horizon 30 days, as of 2025-03-31 (UTC: the cutoff is 2025-04-01T00:00Z). The one past
snapshot is 2025-03-02T00:00Z, where A and B sit in proposal and C in lead; A is won on
03-10 (8 days later), B lost. So: proposal 1/2, lead 0/1, overall 1/3, median 8 days to
win. Open at the cutoff with a value: C (lead 500), D (proposal 2000), E (lead 300),
F (proposal 4000, won the day after) and H (proposal 700, won 2025-04-01T02:00Z, which is
still 03-31 in New York).
"""

from __future__ import annotations

import pytest

from salescli.pipeline import interactions, prospects, stages

AS_OF = "2025-03-31"

# email, owner, created at, first stage, value, moves [(stage, at, reason)]
DEALS = [
    ("a@x.example", "ana", "2025-02-20T09:00:00Z", "lead", 1000,
     [("proposal", "2025-02-25T09:00:00Z"), ("won", "2025-03-10T00:00:00Z")]),
    ("b@x.example", "bo", "2025-02-20T09:00:00Z", "proposal", 1500,
     [("lost", "2025-03-15T09:00:00Z")]),
    ("c@x.example", "ana", "2025-02-22T09:00:00Z", "lead", 500, []),
    ("d@x.example", "ana", "2025-03-20T09:00:00Z", "proposal", 2000, []),
    ("e@x.example", "bo", "2025-03-25T09:00:00Z", "lead", 300, []),
    ("f@x.example", "ana", "2025-03-20T09:00:00Z", "proposal", 4000,
     [("won", "2025-04-01T10:00:00Z")]),
    ("h@x.example", "bo", "2025-03-20T09:00:00Z", "proposal", 700,
     [("won", "2025-04-01T02:00:00Z")]),
]


def build(conn, deals=DEALS):
    """Write ``deals`` through the library; returns email → prospect id."""
    ids = {}
    for email, owner, at, stage, value, moves in deals:
        p = prospects.add(conn, "import", email, owner=owner, stage=stage, value=value, at=at)
        ids[email] = p["id"]
        for target, when in moves:
            stages.move(conn, owner, p["id"], target, at=when, reason="history")
    return ids


@pytest.fixture
def small(conn):
    """The fixed history above in the test database; yields (conn, ids)."""
    ids = build(conn)
    interactions.record(conn, "scan", ids["c@x.example"], "email_out", "2025-03-01T00:00:00Z")
    interactions.record(conn, "scan", ids["c@x.example"], "auto_reply", "2025-03-05T00:00:00Z")
    interactions.record(conn, "scan", ids["c@x.example"], "email_in", "2025-03-10T00:00:00Z")
    interactions.record(conn, "scan", ids["c@x.example"], "bounce", "2025-04-02T00:00:00Z")
    return conn, ids
