"""Rollup and trend edges found by ``./dev mutants salescli/metrics`` (issue 17, seed 31)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.metrics import live, rollup
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
        live.weekly_trend(conn, weeks=weeks)
    assert str(err.value) == f"--weeks {weeks!r} must be a whole number from 1 to 520"


@pytest.mark.parametrize("weeks", [1, 520])
def test_weeks_from_1_to_520_are_accepted(conn, weeks):
    assert len(live.weekly_trend(conn, weeks=weeks)) == weeks


def test_a_period_ends_at_the_end_of_its_last_day(history):
    # a → won at 23:30 New York time on D-3: in the one-day period of D-3, not in D-4's.
    day = history.today - timedelta(days=4)
    assert live.kpis(history.conn, days=1, today=day)["won"] == 0
    assert live.kpis(history.conn, days=1, today=day + timedelta(days=1))["won"] == 1


def test_the_default_period_is_the_last_30_days(history):
    kpis = live.summary(history.conn, today=history.today)["kpis"]
    assert (kpis["days"], kpis["period_start"]) == (30, history.day(29))


def test_every_count_is_zero_not_empty_when_nothing_happened(invoke, sales):
    import json

    from tests.support.cli import ok

    ok(invoke("prospects", "add", "a@example.com"))
    kpis = json.loads(ok(invoke("metrics", "--format", "json")))["kpis"]
    counts = ("emails_sent", "emails_received", "replies", "auto_replies", "bounces", "calls",
              "meetings", "prospects_emailed", "prospects_replied", "won", "lost",
              "stale_prospects")
    assert {k: kpis[k] for k in counts} == dict.fromkeys(counts, 0)
    assert (kpis["new_prospects"], kpis["open_prospects"]) == (1, 1)


def test_the_rollup_runs_through_today_in_the_configured_time_zone(conn, monkeypatch):
    # UTC+14 and UTC-10 are a day apart: one of them is on another date than the machine.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = next(z for z in ("Pacific/Kiritimati", "Pacific/Honolulu")
                if datetime.now(ZoneInfo(z)).date() != datetime.now().date())
    monkeypatch.setenv("SALESCLI_TZ", zone)
    result = rollup.rollup(conn)
    assert (result["to"], result["tz"]) == (datetime.now(ZoneInfo(zone)).date().isoformat(),
                                            zone)
    assert rollup.rollup_status(conn)["last_day"] == result["to"]


def test_the_rollup_reports_each_of_its_steps_in_order(history):
    steps = []
    rollup.rollup(history.conn, today=history.today, progress=steps.append)
    assert steps == list(range(1, rollup.ROLLUP_STEPS + 1))
