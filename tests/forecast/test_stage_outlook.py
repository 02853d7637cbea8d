"""The stage outlook "from here" beside the funnel: worked out by hand on the small fixed
history (conftest), per owner, and read by ``salescli metrics`` from what the nightly
refresh stored rather than replayed from the whole history on every call."""

from __future__ import annotations

import json

from salescli.core import db
from salescli.forecast import store
from salescli.pipeline import prospects, stages
from tests.support.cli import database_before, ok

# proposal: A (ana) won 12.625 days after entering, B (bo) lost, F (ana) won after 12.04
# days, H (bo) after 11.71, D (ana) still open; lead: A won 17.625 days after creation.
BY_HAND = {
    None: {"lead": (1, 1.0, 17.6), "proposal": (4, 0.75, 12.0)},
    "ana": {"lead": (1, 1.0, 17.6), "proposal": (2, 1.0, 12.3)},
    "bo": {"lead": (0, None, None), "proposal": (2, 0.5, 11.7)},
    "": {"lead": (0, None, None), "proposal": (0, None, None)},  # changes with no owner
}


def table(rows) -> dict:
    return {r["stage"]: (r["closed_since"], r["win_rate"], r["median_days_to_win"])
            for r in rows if r["stage"] in ("lead", "proposal")}


def test_the_outlook_of_everyone_and_of_each_owner_by_hand(small):
    conn, _ = small
    for owner, want in BY_HAND.items():
        assert table(store.stage_outlook(conn, owner)) == want, owner
    assert [r["stage"] for r in store.stage_outlook(conn)] == [
        "lead", "contacted", "replied", "meeting", "proposal"]  # open stages, in order


def test_metrics_shows_the_outlook_the_refresh_stored(small, invoke):
    conn, ids = small
    assert store.stored_outlook(conn) is None  # never refreshed: metrics replays history
    live = json.loads(ok(invoke("metrics", "--format", "json")))["forecast"]["stages"]
    assert table(live) == BY_HAND[None]
    ok(invoke("forecast", "refresh", "--horizon", "30d"))
    for owner, want in BY_HAND.items():
        assert table(store.stored_outlook(conn, owner)) == want, owner
    # D (ana, proposal since 03-20) is lost after the refresh: the panel keeps the stored
    # outlook until the next refresh, then counts D
    stages.move(conn, "ana", ids["d@x.example"], "lost", at="2025-04-20T09:00:00Z",
                reason="price")
    args = ("metrics", "--owner", "ana", "--format", "json")
    shown = json.loads(ok(invoke(*args)))["forecast"]["stages"]
    assert table(shown) == BY_HAND["ana"]
    ok(invoke("forecast", "refresh", "--horizon", "30d"))
    shown = json.loads(ok(invoke(*args)))["forecast"]["stages"]
    assert table(shown)["proposal"] == (3, 0.6667, 12.3)
    out = ok(invoke("metrics", "--owner", "ana"))
    assert "proposal" in out and "66.7%" in out


def test_an_owner_with_no_history_gets_every_open_stage_empty(small, invoke):
    ok(invoke("forecast", "refresh", "--horizon", "30d"))
    prospects.add(small[0], "import", "z@x.example", owner="zed", stage="lead")
    shown = json.loads(ok(invoke("metrics", "--owner", "zed", "--format", "json")))
    assert [(r["stage"], r["closed_since"], r["win_rate"]) for r in
            shown["forecast"]["stages"]] == [(s, 0, None) for s in (
                "lead", "contacted", "replied", "meeting", "proposal")]


def test_m014_upgrades_a_version_13_database(tmp_path):
    path = tmp_path / "old.db"
    conn = database_before(path, "m014_forecast_stages")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 13
    conn.close()
    conn = db.open_write(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM forecast_stages").fetchone()[0] == 0
        assert store.stored_outlook(conn) is None
    finally:
        conn.close()


def test_each_owner_counts_a_stage_once_from_their_own_first_entry(conn):
    """A stage entered again counts once, from its first entry; after a reassignment the new
    owner's first entry counts for them; changes with no owner count under ''."""
    day = "2025-01-{:02d}T00:00:00Z".format
    # no owner: lead on the 1st, proposal on the 2nd, won on the 12th
    p = prospects.add(conn, "t", "none@x.example", stage="lead", value=1, at=day(1))["id"]
    stages.move(conn, "t", p, "proposal", at=day(2))
    stages.move(conn, "t", p, "won", at=day(12), reason="yes")
    # ana: proposal on the 1st, back to lead, proposal again on the 3rd, lost on the 5th
    p = prospects.add(conn, "t", "ana@x.example", owner="ana", stage="proposal", value=1,
                      at=day(1))["id"]
    stages.move(conn, "t", p, "lead", at=day(2))
    stages.move(conn, "t", p, "proposal", at=day(3))
    stages.move(conn, "t", p, "lost", at=day(5), reason="price")
    # bo's lead on the 1st; given to cy, who moves it on and back to lead on the 3rd; won
    # on the 7th: lead counts for bo from the 1st and for cy from the 3rd
    p = prospects.add(conn, "t", "bo@x.example", owner="bo", stage="lead", value=1,
                      at=day(1))["id"]
    prospects.update(conn, "t", p, {"owner": "cy"})
    stages.move(conn, "t", p, "contacted", at=day(2))
    stages.move(conn, "t", p, "lead", at=day(3))
    stages.move(conn, "t", p, "won", at=day(7), reason="yes")
    want = {None: {"lead": (3, 0.6667, 8.5), "proposal": (2, 0.5, 10.0)},
            "": {"lead": (1, 1.0, 11.0), "proposal": (1, 1.0, 10.0)},
            "ana": {"lead": (1, 0.0, None), "proposal": (1, 0.0, None)},
            "bo": {"lead": (1, 1.0, 6.0), "proposal": (0, None, None)},
            "cy": {"lead": (1, 1.0, 4.0), "proposal": (0, None, None)}}
    for owner, rows in want.items():
        assert table(store.stage_outlook(conn, owner)) == rows, owner
