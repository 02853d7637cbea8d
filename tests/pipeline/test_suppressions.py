"""The do-not-contact list: suppress, unsuppress, suppressions; addresses and domains."""

from __future__ import annotations

import json

from salescli.pipeline import suppressions
from tests.support.cli import activities, fails, ok, scalar


def test_suppress_list_unsuppress(invoke, three, db_file):
    ok(invoke("suppress", "Ada@Example.com", "--reason", "asked to stop"))
    ok(invoke("suppress", "@Example.ORG"))
    rows = json.loads(ok(invoke("suppressions", "--format", "json")))
    assert {r["address"]: r["reason"] for r in rows} == {"ada@example.com": "asked to stop",
                                                         "@example.org": None}
    assert {r["source"] for r in rows} == {"manual"}
    fails(invoke("suppress", "ada@example.com"), "ada@example.com", "already suppressed")
    fails(invoke("suppress", "not-an-address"), "not-an-address")
    fails(invoke("suppress", "@"), "'@'")
    ok(invoke("unsuppress", "ADA@example.com"))
    fails(invoke("unsuppress", "ada@example.com"), "ada@example.com", "not found")
    assert [r["address"] for r in json.loads(ok(invoke("suppressions", "--format", "json")))] \
        == ["@example.org"]
    acts = activities(db_file, entity="suppression")
    assert [a["action"] for a in acts] == ["suppress", "suppress", "unsuppress"]
    # each is tied to the prospect it covers, so it shows in that prospect's history
    assert acts[0]["prospect_id"] == 1 and acts[1]["prospect_id"] == 2


def test_match_by_address_or_domain(conn):
    suppressions.add(conn, "t", "a@x.test")
    suppressions.add(conn, "t", "@y.test")
    assert suppressions.is_suppressed(conn, "A@X.test")
    assert suppressions.is_suppressed(conn, "anyone@y.test")
    assert not suppressions.is_suppressed(conn, "b@x.test")
    assert not suppressions.is_suppressed(conn, "a@sub.y.test")
    assert suppressions.suppressed_among(conn, ["a@x.test", "b@x.test", "c@y.test"]) == \
        {"a@x.test", "c@y.test"}
    assert suppressions.add(conn, "t", "a@x.test", exist_ok=True)["address"] == "a@x.test"
    assert scalar_count(conn) == 2


def scalar_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM suppressions").fetchone()[0]


def test_forget_keeps_the_suppression(invoke, three, db_file):
    ok(invoke("suppress", "cy@example.net"))
    ok(invoke("prospects", "forget", "cy@example.net", input="y\n"))
    assert scalar(db_file, "SELECT count(*) FROM suppressions WHERE address = ?",
                  ("cy@example.net",)) == 1
