"""Edges of the backtest and of the model choice: a win at the very last instant of the
horizon, forecast values to the cent, and the fallback when past snapshots hold too few
wins for the learned model (times in UTC, the tests' zone)."""

from __future__ import annotations

import json
from datetime import date

from salescli.forecast import backtest
from tests.forecast.conftest import AS_OF, DEALS, build
from tests.support.cli import ok

TODAY = date(2026, 1, 1)


def _scores(conn) -> dict[str, dict]:
    r = backtest.backtest(conn, as_of=AS_OF, horizon="30d", today=TODAY)
    return {x["predictor"]: x for x in r["scores"]}


def test_a_win_at_the_last_instant_of_the_horizon_counts_as_won_in_it(conn):
    # The 30-day horizon after 2025-03-31 ends with 2025-04-30: its end is 05-01T00:00Z,
    # the instant that still belongs to 04-30 (as the cutoff instant belongs to 03-31).
    last = ("g@x.example", "ana", "2025-03-20T09:00:00Z", "proposal", 900,
            [("won", "2025-05-01T00:00:00Z")])
    late = ("i@x.example", "ana", "2025-03-20T09:00:00Z", "proposal", 50,
            [("won", "2025-05-01T00:00:01Z")])
    build(conn, [*DEALS, last, late])
    s = _scores(conn)["model"]
    assert s["actual_count"] == 3                     # F, H and G; not I, a second later
    assert s["actual_value"] == 4000 + 700 + 900


def test_forecast_values_keep_their_cents(conn):
    # C 501 instead of 500 and D 2001 instead of 2000: every deal's chance is 1/3 overall,
    # 0 or 1/2 by stage (conftest.py), so the expected values are not whole.
    deals = [d if d[0] not in ("c@x.example", "d@x.example") else
             (*d[:4], d[4] + 1, d[5]) for d in DEALS]
    build(conn, deals)
    s = _scores(conn)
    assert s["overall_rate"]["forecast_value"] == 2500.67      # (7500 + 2) / 3
    assert s["model"]["forecast_value"] == 3350.5               # (2001 + 4000 + 700) / 2
    assert s["stage_rates"]["forecast_value"] == 3350.5


def test_too_few_past_wins_fall_back_to_stage_rates(conn, invoke):
    # 50 deals closed in June, only 2 of them won: enough closed deals for the learned
    # model, too few wins in the past snapshot to learn from.
    deals = [(f"t{i}@x.example", "ana", "2025-05-10T09:00:00Z", "lead", 1000,
              [("won" if i < 2 else "lost", "2025-06-10T09:00:00Z")]) for i in range(50)]
    deals.append(("open@x.example", "ana", "2025-06-20T09:00:00Z", "lead", 1000, []))
    build(conn, deals)
    out = json.loads(ok(invoke("forecast", "--as-of", "2025-06-30", "--horizon", "30d",
                               "--format", "json")))
    assert out["model"]["kind"] == "stage rates"
    assert "2 wins in 50 past snapshots are too few to learn from" in out["model"]["note"]
