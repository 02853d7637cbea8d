"""The weekly report's forecast-vs-actual by month (``backtest.monthly_bands``), a deal that
moves on before it is won, a won value with cents, and ``--by`` refused in full."""

from __future__ import annotations

from datetime import date

import pytest

from salescli.core.errors import InvalidValue
from salescli.forecast import backtest, outlook
from tests.forecast.conftest import AS_OF, DEALS, build

TODAY = date(2026, 1, 1)


def test_a_month_counts_the_wins_of_its_own_days_only(conn):
    # F and H are won on 04-01; G on 05-01, the first day after April.
    build(conn, [*DEALS, ("g@x.example", "ana", "2025-03-20T09:00:00Z", "proposal", 900,
                          [("won", "2025-05-01T12:00:00Z")])])
    [april] = backtest.monthly_bands(conn, date(2025, 4, 30), months_back=1, months_ahead=0)
    assert (april["month"], april["actual"]) == ("2025-04", 4700)


def test_the_months_ahead_are_months_not_the_total(small):
    conn, _ = small
    rows = backtest.monthly_bands(conn, date(2025, 3, 31), months_back=0, months_ahead=6)
    assert [r["month"] for r in rows] == ["2025-04"]   # every expected close is in April
    assert all(r["actual"] is None for r in rows)


def test_one_closed_deal_is_enough_to_forecast_the_months_ahead(conn):
    build(conn, [DEALS[0], DEALS[3]])  # A won on 03-10; D open in proposal
    rows = backtest.monthly_bands(conn, date(2025, 3, 31), months_back=0, months_ahead=1)
    assert [r["month"] for r in rows] == ["2025-04"]


def test_a_deal_that_moves_on_before_it_is_won_counts_as_won(conn):
    build(conn, [*DEALS, ("m@x.example", "ana", "2025-03-20T09:00:00Z", "lead", 100,
                          [("proposal", "2025-04-05T09:00:00Z"),
                           ("won", "2025-04-10T09:00:00Z")])])
    s = {x["predictor"]: x for x in backtest.backtest(
        conn, as_of=AS_OF, horizon="30d", today=TODAY)["scores"]}
    assert (s["model"]["actual_count"], s["model"]["actual_value"]) == (3, 4800)


def test_a_won_value_keeps_its_cents(conn):
    build(conn, [d if d[0] != "f@x.example" else (*d[:4], 4000.5, d[5]) for d in DEALS])
    s = backtest.backtest(conn, as_of=AS_OF, horizon="30d", today=TODAY)["scores"][0]
    assert s["actual_value"] == 4700.5


def test_an_unknown_grouping_is_refused_naming_the_choices(small):
    conn, _ = small
    with pytest.raises(InvalidValue) as err:
        outlook.forecast(conn, as_of=AS_OF, horizon="30d", by="quarter", today=TODAY)
    assert str(err.value) == "--by 'quarter' must be one of month, week, owner, stage"
