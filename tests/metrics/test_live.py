"""``live.summary`` (what ``salescli metrics`` prints) on the hand-built history."""

from __future__ import annotations

import pytest

from salescli.core.errors import InvalidValue
from salescli.metrics import live, rollup
from tests.metrics.test_views import days

STAGES = ("lead", "contacted", "replied", "meeting", "proposal", "won", "lost")


def by_stage(rows: list[dict], column: str) -> tuple:
    assert tuple(r["stage"] for r in rows) == STAGES
    return tuple(r[column] for r in rows)


def test_funnel_of_the_whole_history(history):
    h = history
    f = live.funnel(h.conn, days=11, today=h.today)
    assert by_stage(f, "prospects") == (0, 2, 0, 0, 0, 1, 1)
    assert by_stage(f, "value") == (0, 0, 0, 0, 0, 1000, 500)
    assert by_stage(f, "entered") == (5, 5, 2, 1, 0, 1, 1)   # e2 continued e's stay
    assert by_stage(f, "exited") == (5, 2, 2, 1, 0, 0, 0)    # d was archived, not moved
    assert by_stage(f, "advanced") == (4, 2, 1, 1, 0, 0, 0)
    assert by_stage(f, "lost") == (1, 0, 0, 0, 0, 0, 0)
    assert by_stage(f, "conversion_rate") == (0.8, 1.0, 0.5, 1.0, None, None, None)
    meeting = round(days(h, (5, "10:00"), (3, "23:30")), 2)
    assert by_stage(f, "median_days") == (2.0, 1.0, 1.0, meeting, None, None, None)


def test_funnel_for_one_owner_counts_stays_of_that_owner(history):
    h = history
    f = live.funnel(h.conn, days=11, owner="ben", today=h.today)
    assert by_stage(f, "entered") == (2, 2, 0, 0, 0, 0, 1)
    assert by_stage(f, "exited") == (2, 0, 0, 0, 0, 0, 0)   # c's lead stay was ana's
    assert by_stage(f, "prospects") == (0, 2, 0, 0, 0, 0, 1)
    # e's lead stay began when e was created, not when the merged duplicate was.
    lead = (days(h, (10, "23:45"), (4, "00:15")) + days(h, (6, "11:00"), (4, "10:00"))) / 2
    assert f[0]["median_days"] == round(lead, 2)


def test_kpis_of_the_whole_history(history):
    h = history
    k = live.kpis(h.conn, days=11, today=h.today)
    cycle = round(days(h, (10, "09:00"), (3, "23:30")), 2)
    assert k == {
        "period_start": h.day(10), "period_end": h.day(0), "days": 11,
        "tz": "America/New_York", "owner": None,
        "new_prospects": 5, "won": 1, "lost": 1, "won_value": 1000, "win_rate": 0.5,
        "median_cycle_days": cycle, "p90_cycle_days": cycle,
        "open_prospects": 2, "open_value": 0, "stale_prospects": 0, "stale_days": 14,
        "emails_sent": 3, "emails_received": 4, "replies": 2, "auto_replies": 1,
        "bounces": 1, "calls": 1, "meetings": 1, "reply_rate": 0.6667,
        "bounce_rate": 0.3333, "prospects_emailed": 3, "prospects_replied": 2,
        "prospect_reply_rate": 0.6667,
        # issue 16: money per currency (one currency here: the default)
        "currency": "USD", "won_values": {"USD": 1000}, "open_values": {},
    }


def test_kpis_for_one_owner_and_a_short_stale_limit(history):
    k = live.kpis(history.conn, days=11, owner="ben", stale_days=5, today=history.today)
    assert (k["new_prospects"], k["won"], k["lost"], k["win_rate"]) == (2, 0, 1, 0.0)
    assert (k["emails_sent"], k["emails_received"], k["replies"], k["bounces"],
            k["calls"]) == (2, 2, 1, 1, 1)
    assert (k["prospects_emailed"], k["prospects_replied"]) == (2, 1)
    assert k["stale_prospects"] == 1          # c: idle since its move on D-7; e since D-4


def test_a_quiet_period_has_no_moves(history):
    s = live.summary(history.conn, days=3, today=history.today)
    assert {r["entered"] for r in s["funnel"]} == {0}
    assert s["kpis"]["new_prospects"] == 0 and s["kpis"]["win_rate"] is None
    assert s["kpis"]["open_prospects"] == 2


@pytest.mark.parametrize("owner", [None, "ana", "ben"])
def test_the_funnel_agrees_with_the_rollup(history, owner):
    h = history
    rollup.rollup(h.conn, today=h.today)
    cond, params = ("", []) if owner is None else (" AND owner = ?", [owner])
    sums = {r["stage"]: (r["entered"], r["exited"]) for r in h.conn.execute(
        "SELECT stage, sum(entered) AS entered, sum(exited) AS exited FROM metrics"
        f" WHERE stage IS NOT NULL AND day >= ?{cond} GROUP BY stage", [h.day(10), *params])}
    for row in live.funnel(h.conn, days=11, owner=owner, today=h.today):
        assert sums.get(row["stage"], (0, 0)) == (row["entered"], row["exited"]), row
    k = live.kpis(h.conn, days=11, owner=owner, today=h.today)
    acts = h.conn.execute(f"SELECT sum(emails_sent), sum(replies), sum(bounces) FROM metrics"
                          f" WHERE day >= ?{cond}", [h.day(10), *params]).fetchone()
    assert tuple(acts) == (k["emails_sent"], k["replies"], k["bounces"])


def test_no_owner_means_unassigned(history):
    k = live.kpis(history.conn, days=11, owner="", today=history.today)
    assert k["owner"] == "" and k["new_prospects"] == 0 and k["emails_sent"] == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"owner": "zed"}, "--owner 'zed' owns no prospects and has no history (owners: ana, ben)"),
    ({"days": 0}, "--days 0 must be a whole number from 1 to 3660"),
    ({"days": "7"}, "--days '7' must be"),
    ({"stale_days": 0}, "--stale-days 0 must be a whole number"),
])
def test_bad_arguments_name_the_field(history, kwargs, message):
    args = {"days": 30, **kwargs}
    with pytest.raises(InvalidValue) as err:
        live.summary(history.conn, **args)
    assert message in str(err.value)
