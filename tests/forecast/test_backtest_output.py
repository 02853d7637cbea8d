"""What the backtest hands back, field by field: the model it fitted, the rows of the
rolling series, an empty database, and the refusals in full."""

from __future__ import annotations

from datetime import date

import pytest

from salescli.core.errors import InvalidValue
from salescli.forecast import backtest
from tests.forecast.conftest import AS_OF
from tests.support.cli import fails

TODAY = date(2026, 1, 1)


def test_the_backtest_names_the_model_it_fitted(small):
    conn, _ = small
    r = backtest.backtest(conn, as_of=AS_OF, horizon="30d", today=TODAY)
    # closed by 03-31: A (won) and B (lost); one past snapshot (03-02) with A, B and C open
    assert r["model"] == {"kind": "stage rates", "note": r["model"]["note"],
                          "closed_deals": 2, "training_rows": 3}


def test_each_month_of_the_rolling_backtest_counts_its_deals(small):
    conn, _ = small
    r = backtest.rolling(conn, horizon="30d", today=date(2025, 6, 1))
    assert [(x["as_of"], x["deals"], x["model"]) for x in r["series"]] == [
        ("2025-03-31", 5, "stage rates"), ("2025-04-30", 3, "stage rates")]


def test_the_rolling_backtest_of_an_empty_database_is_empty(conn):
    assert backtest.rolling(conn, horizon="30d", today=TODAY) == {
        "horizon": "30d", "tz": "UTC", "series": []}


def test_a_backtest_without_a_day_or_with_a_bad_horizon_is_refused_in_full(small, invoke):
    conn, _ = small
    with pytest.raises(InvalidValue) as err:
        backtest.backtest(conn, as_of=None, horizon="30d", today=TODAY)
    assert str(err.value) == "--as-of '' is required (a day whose horizon is over)"
    line = fails(invoke("forecast", "backtest", "--as-of", AS_OF, "--horizon", "3m"))
    assert line == ("Error: --horizon '3m' is not a horizon (use 30d, 90d, 12w or QUARTER;"
                    " at most 730 days)")
