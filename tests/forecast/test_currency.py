"""The forecast with two currencies (issue 16): periods, totals, the backtest's values, the
weekly report's bands and the stored forecast come per currency, never summed across."""

from __future__ import annotations

import json
from datetime import date

import pytest

from salescli.forecast import backtest, outlook, store
from salescli.pipeline import prospects
from tests.forecast.conftest import AS_OF
from tests.support.cli import ok

TODAY = date(2026, 1, 1)


@pytest.fixture
def mixed(small):
    """The small history with H (proposal 700, won in the horizon) in EUR: USD D 2000 and
    F 4000 at 1/2 each, EUR H 700 at 1/2."""
    conn, ids = small
    prospects.update(conn, "t", "h@x.example", {"currency": "EUR"})
    return conn, ids


def test_forecast_rows_and_totals_per_currency(mixed):
    conn, _ = mixed
    r = outlook.forecast(conn, as_of=AS_OF, horizon="30d", today=TODAY)
    got = [(x["period"], x["currency"], x["deals"], x["expected_value"]) for x in r["rows"]]
    assert got == [("2025-04", "EUR", 1, 350), ("2025-04", "USD", 4, 3000),
                   ("total", "EUR", 1, 350), ("total", "USD", 4, 3000)]
    eur = r["rows"][2]
    assert (eur["value_low"], eur["value_high"], eur["open_value"]) == (0, 700, 700)
    assert {p["email"]: p["currency"] for p in r["prospects"]}["h@x.example"] == "EUR"
    by_owner = outlook.forecast(conn, as_of=AS_OF, horizon="30d", today=TODAY, by="owner")
    assert [(x["period"], x["currency"], x["expected_value"]) for x in by_owner["rows"]] == [
        ("ana", "USD", 3000), ("bo", "EUR", 350), ("bo", "USD", 0), ("total", "EUR", 350),
        ("total", "USD", 3000)]


def test_forecast_cli_never_shows_a_mixed_total(mixed, invoke):
    table = ok(invoke("forecast", "--as-of", AS_OF, "--horizon", "30d"))
    assert "3,350.00" not in table
    lines = [line.split() for line in table.splitlines() if line.startswith("total")]
    assert [line[-1] for line in lines] == ["EUR", "USD"]
    out = json.loads(ok(invoke("forecast", "--as-of", AS_OF, "--horizon", "30d", "--format",
                               "json")))
    assert {r["currency"]: r["expected_value"] for r in out["rows"]
            if r["period"] == "total"} == {"EUR": 350, "USD": 3000}
    explain = ok(invoke("forecast", "--as-of", AS_OF, "--horizon", "30d", "--explain",
                        "h@x.example"))
    assert "value 700.00 EUR" in explain


def test_backtest_values_per_currency(mixed, invoke):
    conn, _ = mixed
    r = backtest.backtest(conn, as_of=AS_OF, horizon="30d", today=TODAY)
    s = {x["predictor"]: x for x in r["scores"]}["model"]
    assert s["forecast_value"] is None and s["actual_value"] is None  # never 3350 / 4700
    assert s["forecast_values"] == {"EUR": 350, "USD": 3000}
    assert s["actual_values"] == {"EUR": 700, "USD": 4000}
    assert s["forecast_count"] == 1.5  # counts are not money: they still add up
    table = ok(invoke("forecast", "backtest", "--as-of", AS_OF,
                      "--horizon", "30d"))
    assert "350.00 EUR; 3,000.00 USD" in table and "3,350" not in table


def test_weekly_bands_per_currency(mixed):
    conn, _ = mixed
    rows = [r for r in backtest.monthly_bands(conn, date(2025, 4, 30))
            if r["month"] == "2025-04"]
    assert [(r["currency"], r["expected"], r["high"], r["actual"]) for r in rows] == [
        ("EUR", 350, 700, 700), ("USD", 3000, 6000, 4000)]


def test_stored_forecast_per_currency(mixed, invoke):
    conn, _ = mixed
    # the stored forecast is as of today: open the deals again there
    store.refresh(conn, horizon="30d", today=date(2025, 3, 31))
    rows = store.stored(conn)["rows"]
    totals = {r["currency"]: r["expected_value"] for r in rows if r["period"] == "total"}
    assert totals == {"EUR": 350, "USD": 3000}
    out = ok(invoke("metrics"))
    assert "350.00 EUR" in out and "3,000.00 USD" in out and "3,350.00" not in out
