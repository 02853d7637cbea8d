"""The instant the as-of day ends (the next midnight, here in UTC) still belongs to it: a
deal created then is open on that day, a deal won then is among the deals closed so far.
And the days a forecast or backtest refuses, said in full."""

from __future__ import annotations

from datetime import date

import pytest

from salescli.core.errors import InvalidValue
from salescli.forecast import backtest, outlook
from tests.forecast.conftest import AS_OF, build
from tests.forecast.test_young import YOUNG

TODAY = date(2026, 1, 1)
END = "2025-04-01T00:00:00Z"  # the end of 2025-03-31 (AS_OF) in UTC


def test_a_deal_created_as_the_day_ends_is_forecast(small):
    conn, _ = small
    build(conn, [("late@x.example", "ana", END, "proposal", 900, [])])
    r = outlook.forecast(conn, as_of=AS_OF, horizon="30d", today=TODAY)
    assert "late@x.example" in {p["email"] for p in r["prospects"]}


def test_a_deal_won_as_the_day_ends_counts_as_closed_so_far(conn):
    build(conn, [*YOUNG, ("h@y.example", "ana", "2025-03-25T09:00:00Z", "proposal", 700,
                          [("won", END)])])
    r = outlook.forecast(conn, as_of=AS_OF, horizon="90d", today=TODAY)
    assert "of the 5 deals closed so far (3 won)" in r["model"]["note"]
    assert "h@y.example" not in {p["email"] for p in r["prospects"]}


def test_a_backtest_whose_horizon_is_not_over_says_when_it_ends(small):
    conn, _ = small
    with pytest.raises(InvalidValue) as err:
        backtest.backtest(conn, as_of="2025-12-15", horizon="30d", today=TODAY)
    assert str(err.value) == ("--as-of '2025-12-15' is too recent: its 30d horizon ends"
                              " 2026-01-14, which is not over yet")


def test_explain_refuses_an_as_of_day_after_the_today_it_is_given(small):
    conn, _ = small
    with pytest.raises(InvalidValue) as err:
        outlook.explain(conn, "d@x.example", as_of="2026-02-01", horizon="30d", today=TODAY)
    assert str(err.value) == "--as-of '2026-02-01' is after today (2026-01-01)"
