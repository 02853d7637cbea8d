"""The backtest against hand-computed scores on the fixed history (conftest.py), the
interval arithmetic, the learned model's no-leak rule, and the stored nightly forecast."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from datetime import date

import pytest

from salescli.forecast import backtest, outlook, store, sums
from tests.forecast.conftest import AS_OF, build
from tests.support.cli import fails, ok

TODAY = date(2026, 1, 1)


def test_scores_against_hand_computed_values(small):
    conn, _ = small
    r = backtest.backtest(conn, as_of=AS_OF, horizon="30d", today=TODAY)
    assert r["deals"] == 5  # C, D, E, F, H; F and H won in the horizon
    s = {x["predictor"]: x for x in r["scores"]}
    # model = stage rates here: C 0, D .5, E 0, F .5, H .5; outcomes 0 0 0 1 1
    assert s["model"]["brier"] == pytest.approx((0 + .25 + 0 + .25 + .25) / 5, abs=1e-4)
    assert s["stage_rates"]["brier"] == s["model"]["brier"]
    third = 1 / 3
    assert s["overall_rate"]["brier"] == pytest.approx(
        (3 * third ** 2 + 2 * (1 - third) ** 2) / 5, abs=1e-4)
    assert s["model"]["log_loss"] == pytest.approx(
        (3 * math.log(2) - 2 * math.log(1 - 1e-6)) / 5, abs=1e-4)
    assert s["model"]["forecast_value"] == 3350 and s["model"]["actual_value"] == 4700
    assert s["model"]["forecast_count"] == 1.5 and s["model"]["actual_count"] == 2
    assert s["overall_rate"]["forecast_value"] == pytest.approx(7500 / 3, abs=0.01)
    assert r["calibration"] == [
        {"band": "0-10%", "deals": 2, "predicted": 0.0, "actual": 0.0},
        {"band": "50-60%", "deals": 3, "predicted": 0.5, "actual": 0.6667}]


def test_backtest_needs_a_finished_horizon(small, invoke):
    conn, _ = small
    with pytest.raises(Exception, match="not over yet"):
        backtest.backtest(conn, as_of="2025-12-15", horizon="30d", today=TODAY)
    fails(invoke("forecast", "backtest", "--horizon", "30d"), "--as-of", "required")


def test_rolling_series(small, invoke):
    conn, _ = small
    r = backtest.rolling(conn, horizon="30d", today=date(2025, 6, 1))
    # month ends with closed history and a finished horizon: 03-31 and 04-30
    assert [x["as_of"] for x in r["series"]] == ["2025-03-31", "2025-04-30"]
    assert r["series"][0]["actual_value"] == 4700
    out = json.loads(ok(invoke("forecast", "backtest", "--rolling", "--horizon", "30d",
                               "--format", "json")))
    assert out["series"][0]["as_of"] == "2025-03-31"


def test_cli_backtest_table(small, invoke):
    out = ok(invoke("forecast", "backtest", "--as-of", AS_OF, "--horizon", "30d"))
    assert "overall_rate" in out and "Calibration" in out and "50-60%" in out


def test_intervals_exact():
    assert sums.count_interval([0.9, 0.8]) == (1, 2)
    assert sums.value_interval([0.9, 0.8], [100, 200]) == (100, 300)
    assert sums.count_distribution([0.5, 0.5]) == [0.25, 0.5, 0.25]
    assert sums.value_interval([], []) == (0, 0)
    # the 80 % interval runs from the 10th to the 90th percentile: a deal at 8 % (won in 8
    # of 100 worlds) is outside it, one at 12 % inside
    assert sums.value_interval([0.08], [100]) == (0, 0)
    assert sums.value_interval([0.12], [100]) == (0, 100)
    assert sums.count_interval([0.08]) == (0, 0) and sums.count_interval([0.12]) == (0, 1)


def test_simulation_agrees_with_exact(monkeypatch):
    rng = random.Random(3)
    probs = [rng.random() for _ in range(60)]
    values = [rng.choice([100, 250, 1000]) for _ in probs]
    exact = sums.value_interval(probs, values)
    monkeypatch.setattr(sums, "EXACT_SUPPORT", 5)
    simulated = sums.value_interval(probs, values)
    assert abs(simulated[0] - exact[0]) <= 250 and abs(simulated[1] - exact[1]) <= 250
    # the numpy path of the count for many deals agrees with the pure-Python one
    many = probs * 8
    pts = list(enumerate(sums.count_distribution(many)))
    assert sums.count_interval(many) == (int(sums._quantile(pts, .1)),
                                         int(sums._quantile(pts, .9)))


def generated(conn, n=240, seed=5):
    """Deals whose chance depends on replies: replied deals win 3 times in 4, others 1 in
    10, all within two weeks of the snapshot. Written through the library."""
    from salescli.pipeline import interactions

    rng = random.Random(seed)
    deals = []
    for i in range(n):
        day = 1 + (i * 300) // n
        created = f"2025-{1 + day // 28:02d}-{1 + day % 28:02d}T09:00:00Z"
        replied = i % 2 == 0
        won = rng.random() < (0.75 if replied else 0.1)
        end_day = min(day + 10, 330)
        close = f"2025-{1 + end_day // 28:02d}-{1 + end_day % 28:02d}T10:00:00Z"
        deals.append((f"g{i}@x.example", rng.choice(["ana", "bo"]), created, "meeting",
                       1000, [("won" if won else "lost", close)] if end_day < 300 else []))
    ids = build(conn, deals)
    for (email, _, created, *_), pid in zip(deals, ids.values(), strict=True):
        if int(email[1:].split("@")[0]) % 2 == 0:
            interactions.record(conn, "scan", pid, "email_in", created.replace("09:", "12:"))
    return ids


def test_learned_model_uses_replies_and_does_not_leak(conn):
    generated(conn)
    kw = dict(as_of="2025-10-20", horizon="30d", today=TODAY)
    r = outlook.forecast(conn, **kw)
    assert r["model"]["kind"] == "learned"
    p = {d["email"]: d["probability"] for d in r["prospects"]}
    replied = [v for e, v in p.items() if int(e[1:].split("@")[0]) % 2 == 0]
    silent = [v for e, v in p.items() if int(e[1:].split("@")[0]) % 2 == 1]
    assert replied and silent and min(replied) > max(silent)
    from salescli.pipeline import stages

    open_ids = [d["prospect_id"] for d in r["prospects"]]
    stages.move(conn, "ana", open_ids[0], "won", at="2025-10-21T08:00:00Z", reason="x")
    again = outlook.forecast(conn, **kw)
    assert again["prospects"] == r["prospects"] and again["rows"] == r["rows"]
    e = outlook.explain(conn, str(open_ids[1]), **kw)
    assert e["factors"][0]["factor"] == "replies"
    assert len(e["factors"]) == 11


def test_refresh_stores_what_the_dashboard_reads(small, invoke, db_file):
    ok(invoke("forecast", "refresh", "--horizon", "30d"))
    from tests.support.cli import connect

    c = connect(db_file)
    state = dict(c.execute("SELECT * FROM forecast_state").fetchone())
    assert state["horizon"] == "30d" and state["model"] == "stage rates"
    deals = c.execute("SELECT count(*) FROM forecast_deals").fetchone()[0]
    assert deals == 3  # C, D and E are still open today
    total = c.execute("SELECT * FROM forecast_periods WHERE owner IS NULL"
                      " AND month = 'total'").fetchone()
    assert total["deals"] == 3
    run = c.execute("SELECT status, counts FROM job_runs WHERE job = 'forecast'").fetchone()
    assert run["status"] == "ok" and json.loads(run["counts"])["deals"] == 3
    assert store.stored(c)["rows"][-1]["period"] == "total"


def test_nightly_rollup_job_refreshes_the_forecast(small, db_file):
    proc = subprocess.run([sys.executable, "-m", "salescli.jobs.rollup"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    from tests.support.cli import connect

    c = connect(db_file)
    jobs = [r[0] for r in c.execute("SELECT job FROM job_runs WHERE status = 'ok' ORDER BY id")]
    assert jobs == ["rollup", "forecast"]
    assert c.execute("SELECT count(*) FROM forecast_deals").fetchone()[0] == 3


def test_stage_outlook(small):
    conn, _ = small
    rows = {r["stage"]: r for r in store.stage_outlook(conn)}
    # entered proposal and closed since: A (won, 13 days after 02-25), B (lost), F, H (won)
    assert rows["proposal"]["closed_since"] == 4 and rows["proposal"]["win_rate"] == 0.75
    assert rows["lead"]["closed_since"] == 1 and rows["lead"]["win_rate"] == 1.0
    assert rows["meeting"]["win_rate"] is None


def test_monthly_bands_for_the_weekly_report(small):
    conn, _ = small
    rows = backtest.monthly_bands(conn, date(2025, 4, 30))
    # Jan and Feb start before any history; March: no deal had closed by 02-28, so no
    # forecast (not a forecast of 0 beside A's won 1000); April: the 30-day backtest
    # above (3350 expected, band 0-6700, won 4700)
    assert rows[0] == {"month": "2025-04", "currency": "USD",
                       "expected": 3350, "low": 0, "high": 6700,
                       "actual": 4700, "model": "stage rates"}
    assert all(r["actual"] is None and r["month"] >= "2025-05" for r in rows[1:])


def test_forecast_band_geometry():
    from salescli.reports import charts

    c = charts.forecast_band([{"month": "2025-03", "expected": 50, "low": 0, "high": 100,
                               "actual": None},
                              {"month": "2025-04", "expected": 20, "low": 10, "high": 40,
                               "actual": 200}])
    a, b = c["months"]
    assert c["max"] == 200 and c["baseline"] == 168
    assert (a["y_high"], a["h"], a["y_expected"], a["y_actual"]) == (92.0, 76.0, 130.0, None)
    assert b["y_actual"] == 16.0 and b["inside"] is False and a["inside"] is None
    assert (b["pct_low"], b["pct_band"]) == (5.0, 15.0)


def test_metrics_panel_reads_the_stored_forecast(small, invoke):
    out = ok(invoke("metrics"))
    assert "Forecast: none stored yet" in out
    assert "win rate from here" in out
    ok(invoke("forecast", "refresh", "--horizon", "30d"))
    out = ok(invoke("metrics"))
    # as of today: the snapshot rates, or (when no snapshot of the monthly grid from today
    # catches A's 18 days open) the rates of the 4 closed deals
    assert "Forecast as of" in out and "per-stage" in out
    data = json.loads(ok(invoke("metrics", "--format", "json")))
    assert data["forecast"]["stored"]["rows"][-1]["deals"] == 3
    assert {r["stage"]: r["win_rate"] for r in data["forecast"]["stages"]}["proposal"] == 0.75
