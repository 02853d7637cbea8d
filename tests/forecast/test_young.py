"""A young database: history shorter than the horizon, or no closed deal at all.

Three weeks of history as of 2025-03-31, forecast over 90 days: no past snapshot lies a
horizon back, so the learned model and the snapshot rates have nothing to learn from.
The forecast falls back to the win rates of the deals closed so far and says so; with
no closed deal it refuses with one ``Error:`` line, and the nightly refresh stores an
empty forecast whose note says why.

Closed by the cutoff: A lead 03-10 → proposal 03-12 → won 03-20; B lead → lost 03-15;
C proposal 03-11 → won 03-25; D lead 03-12 → proposal 03-14 → lost 03-28. So lead 1/3
(A, B, D), proposal 2/3 (A, C, D), all deals 2/4; days from entering to the win: lead
10 (A), proposal 8 (A) and 14 (C), median 11; all stages median of 10, 8, 14 = 10.
Open with a value: E lead 600, F proposal 3000, G meeting 1000 (no closed deal was ever
in meeting: the overall rate).
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from salescli.forecast import backtest, outlook, store
from salescli.forecast.history import History
from salescli.forecast.model import NotEnoughHistory, fit
from tests.forecast.conftest import build
from tests.support.cli import connect, fails, ok

AS_OF = "2025-03-31"
TODAY = date(2026, 1, 1)

YOUNG = [
    ("a@y.example", "ana", "2025-03-10T09:00:00Z", "lead", 1000,
     [("proposal", "2025-03-12T09:00:00Z"), ("won", "2025-03-20T09:00:00Z")]),
    ("b@y.example", "bo", "2025-03-10T09:00:00Z", "lead", 800,
     [("lost", "2025-03-15T09:00:00Z")]),
    ("c@y.example", "ana", "2025-03-11T09:00:00Z", "proposal", 2500,
     [("won", "2025-03-25T09:00:00Z")]),
    ("d@y.example", "bo", "2025-03-12T09:00:00Z", "lead", 900,
     [("proposal", "2025-03-14T09:00:00Z"), ("lost", "2025-03-28T09:00:00Z")]),
    ("e@y.example", "ana", "2025-03-20T09:00:00Z", "lead", 600, []),
    ("f@y.example", "bo", "2025-03-22T09:00:00Z", "proposal", 3000, []),
    ("g@y.example", "ana", "2025-03-24T09:00:00Z", "meeting", 1000, []),
]
OPEN_ONLY = [d for d in YOUNG if not d[5]]


@pytest.fixture
def young(conn):
    build(conn, YOUNG)
    return conn


def test_young_history_falls_back_to_the_rates_of_closed_deals(young):
    r = outlook.forecast(young, as_of=AS_OF, horizon="90d", today=TODAY)
    assert r["model"]["kind"] == "stage rates" and r["model"]["training_rows"] == 0
    assert r["model"]["note"] == ("history of 21 days, shorter than the 90-day horizon: "
                                  "per-stage win rates of the 4 deals closed so far (2 won),"
                                  " however long they took")
    deals = {p["email"]: p for p in r["prospects"]}
    assert {e: d["probability"] for e, d in deals.items()} == {
        "e@y.example": 0.3333, "f@y.example": 0.6667, "g@y.example": 0.5}
    assert {e: d["expected_close"] for e, d in deals.items()} == {
        "e@y.example": "2025-04-10", "f@y.example": "2025-04-11", "g@y.example": "2025-04-10"}
    total = r["rows"][-1]
    assert total["expected_value"] == pytest.approx(600 / 3 + 2000 + 500, abs=0.01)
    # the same rates (stage_rate is rounded to 4 places before it is summed)
    assert total["stage_weighted_value"] == pytest.approx(total["expected_value"], abs=0.1)


def test_a_deal_closed_after_the_as_of_day_does_not_count(young):
    """D was lost on 03-28: as of 03-27 the proposal rate is 2/2 and the lead rate 1/2."""
    r = outlook.forecast(young, as_of="2025-03-27", horizon="90d", today=TODAY)
    assert "the 3 deals closed so far (2 won)" in r["model"]["note"]
    deals = {p["email"]: p for p in r["prospects"]}
    assert deals["d@y.example"]["probability"] == 1.0
    assert deals["e@y.example"]["probability"] == 0.5


def test_cli_forecast_of_a_young_database(young, invoke):
    out = ok(invoke("forecast", "--as-of", AS_OF))
    assert "shorter than the 90-day horizon" in out
    assert "2,700.00" in out  # 200 + 2000 + 500
    data = json.loads(ok(invoke("forecast", "--as-of", AS_OF, "--format", "json")))
    assert data["rows"][-1]["expected_value"] == 2700


def test_only_losses_say_so(conn):
    build(conn, [d for d in YOUNG if d[0] in ("b@y.example", "d@y.example")] + OPEN_ONLY)
    r = outlook.forecast(conn, as_of=AS_OF, horizon="90d", today=TODAY)
    assert r["model"]["note"].endswith("none of the 2 deals closed so far was won: every "
                                       "probability is 0")
    assert r["rows"][-1]["expected_value"] == 0


def test_no_closed_deal_is_an_error(conn, invoke):
    build(conn, OPEN_ONLY)
    with pytest.raises(NotEnoughHistory):
        outlook.forecast(conn, as_of=AS_OF, horizon="90d", today=TODAY)
    fails(invoke("forecast", "--as-of", AS_OF), "not enough history to forecast",
          "0 deals won or lost by 2025-03-31", "need at least 1 (the forecast learns from "
          "closed deals)")
    fails(invoke("forecast", "backtest", "--as-of", AS_OF), "not enough history",
          "2025-03-31")
    fails(invoke("forecast", "--explain", "e@y.example", "--as-of", AS_OF),
          "not enough history")


def test_refresh_without_history_stores_an_empty_forecast_and_says_why(conn, invoke,
                                                                       db_file):
    build(conn, OPEN_ONLY)
    ok(invoke("forecast", "refresh"))
    c = connect(db_file)
    state = dict(c.execute("SELECT * FROM forecast_state").fetchone())
    assert state["model"] == "none" and state["closed_deals"] == 0
    assert state["note"].startswith("not enough history to forecast: 0 deals won or lost")
    assert c.execute("SELECT count(*) FROM forecast_deals").fetchone()[0] == 0
    run = c.execute("SELECT status FROM job_runs WHERE job = 'forecast'").fetchone()
    assert run["status"] == "ok"
    out = ok(invoke("metrics"))
    assert "not enough history to forecast" in out
    assert store.stored(c)["rows"] == []


def test_weekly_bands_without_history_are_empty(conn):
    build(conn, OPEN_ONLY)
    assert backtest.monthly_bands(conn, date(2025, 3, 31)) == []


def test_one_closed_deal_is_enough_and_the_cutoff_instant_counts(conn):
    """An open deal first (so the count does not stop at the first open deal), then one
    deal won at 2025-04-01T00:00:00Z, the very end of 03-31 in UTC: it counts."""
    build(conn, [OPEN_ONLY[1], ("w@y.example", "ana", "2025-03-20T09:00:00Z", "proposal",
                                100, [("won", "2025-04-01T00:00:00Z")])])
    r = outlook.forecast(conn, as_of=AS_OF, horizon="90d", today=TODAY)
    assert "the 1 deals closed so far (1 won)" in r["model"]["note"]
    assert {p["email"]: p["probability"] for p in r["prospects"]} == {"f@y.example": 1.0}


def test_fit_names_the_day_of_the_cutoff(conn):
    build(conn, OPEN_ONLY)
    cutoff = outlook.window(date(2025, 3, 31), "90d").cutoff
    with pytest.raises(NotEnoughHistory, match="by 2025-03-31, need"):
        fit(History(conn), cutoff, 90)


def test_refresh_as_of_a_given_day(young, db_file):
    assert store.refresh(young, today=date(2025, 3, 31))["model"] == "stage rates"
    state = dict(young.execute("SELECT * FROM forecast_state").fetchone())
    assert state["as_of"] == "2025-03-31" and state["closed_deals"] == 4
    assert young.execute("SELECT sum(probability) FROM forecast_deals").fetchone()[0] == \
        pytest.approx(0.3333 + 0.6667 + 0.5)


def test_refresh_without_history_as_of_a_given_day(conn):
    build(conn, OPEN_ONLY)
    assert store.refresh(conn, today=date(2025, 3, 31))["as_of"] == "2025-03-31"
    state = dict(conn.execute("SELECT * FROM forecast_state").fetchone())
    assert (state["as_of"], state["horizon_end"], state["model"]) == (
        "2025-03-31", "2025-06-29", "none")


def test_snapshots_without_a_win_fall_back_too(young):
    """A 2-day horizon: the one snapshot, 03-29, holds E, F and G, none won by 03-31."""
    r = outlook.forecast(young, as_of=AS_OF, horizon="2d", today=TODAY)
    assert r["model"]["note"] == (
        "3 open deals in 1 past snapshots, none won within the 2-day horizon: per-stage win "
        "rates of the 4 deals closed so far (2 won), however long they took")
    assert {p["email"]: p["probability"] for p in r["prospects"]}["f@y.example"] == 0.6667
