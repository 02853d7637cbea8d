"""Rollup and trend edges found by ``./dev mutants salescli/metrics`` (issue 17, seed 31)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.metrics import rollup
from tests.metrics.conftest import pipeline_rows


def test_the_last_day_runs_to_local_midnight(history):
    # a → won at 23:30 New York time on D-3 (04:30 UTC on D-2): a rollup that ends on D-3
    # counts the win on D-3, not nowhere.
    rollup.rollup(history.conn, today=history.today - timedelta(days=3))
    rows = pipeline_rows(history.conn)
    assert rows[(history.day(3), "won", "ana")]["won"] == 1
    assert rows[(history.day(3), "won", "ana")]["in_stage"] == 1


@pytest.mark.parametrize("weeks", [0, 521, True, "8"])
def test_weeks_outside_1_to_520_are_refused_naming_the_option(conn, weeks):
    with pytest.raises(InvalidValue) as err:
        rollup.weekly_trend(conn, weeks=weeks)
    assert str(err.value) == f"--weeks {weeks!r} must be a whole number from 1 to 520"


@pytest.mark.parametrize("weeks", [1, 520])
def test_weeks_from_1_to_520_are_accepted(conn, weeks):
    assert len(rollup.weekly_trend(conn, weeks=weeks)) == weeks
