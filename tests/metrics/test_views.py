"""The analytics views on the hand-built history: every answer worked out by hand."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from salescli.metrics import live, rollup
from tests.metrics.test_rollup import ACTIVITY_NY, EXPECTED_NY


def rows(conn, view: str, cols: str = "*", where: str = "") -> list[tuple]:
    return [tuple(r) for r in conn.execute(f"SELECT {cols} FROM {view} {where}")]


def days(h, a: tuple[int, str], b: tuple[int, str]) -> float:
    """Days between two local times of the history (DST-proof)."""
    t = [datetime.fromisoformat(h.at(*x).replace("Z", "+00:00")) for x in (a, b)]
    return (t[1] - t[0]).total_seconds() / 86400


def test_stage_stays_merge_same_stage_rows_and_stop_at_archiving(history):
    got = rows(history.conn, "stage_stays", "prospect_id, stage, owner, exited_at IS NULL",
               "ORDER BY prospect_id, entered_at")
    i = history.ids
    assert got == [
        (i["a"], "lead", "ana", 0), (i["a"], "contacted", "ana", 0),
        (i["a"], "replied", "ana", 0), (i["a"], "contacted", "ana", 0),
        (i["a"], "replied", "ana", 0), (i["a"], "meeting", "ana", 0), (i["a"], "won", "ana", 1),
        (i["b"], "lead", "ben", 0), (i["b"], "lost", "ben", 1),
        (i["c"], "lead", "ana", 0), (i["c"], "contacted", "ben", 1),
        (i["d"], "lead", "ana", 0), (i["d"], "contacted", "ana", 1),
        (i["e"], "lead", "ben", 0), (i["e"], "contacted", "ben", 1),   # e2's row merged in
    ]
    d_stay = history.conn.execute("SELECT archived_at, days FROM stage_stays WHERE"
                                  " prospect_id = ? AND stage = 'contacted'",
                                  (i["d"],)).fetchone()
    assert d_stay["archived_at"] is not None and d_stay["days"] > 5


def test_stage_transitions(history):
    assert rows(history.conn, "stage_transitions") == [
        ("lead", "contacted", "forward", 4, 4, 0.8),
        ("lead", "lost", "lost", 1, 1, 0.2),
        ("contacted", "replied", "forward", 2, 1, 1.0),
        ("replied", "contacted", "back", 1, 1, 0.5),
        ("replied", "meeting", "forward", 1, 1, 0.5),
        ("meeting", "won", "forward", 1, 1, 1.0),
    ]


def test_funnel_counts_prospects_that_reached_each_stage_or_beyond(history):
    assert rows(history.conn, "funnel", "stage, reached, next_stage, conversion_rate,"
                " share_of_first, prospects_now, value_now") == [
        ("lead", 5, "contacted", 0.8, 1.0, 0, 0),
        ("contacted", 4, "replied", 0.25, 0.8, 2, 0),
        ("replied", 1, "meeting", 1.0, 0.2, 0, 0),
        ("meeting", 1, "proposal", 1.0, 0.2, 0, 0),
        ("proposal", 1, "won", 1.0, 0.2, 0, 0),     # a skipped proposal: reached it or beyond
        ("won", 1, None, None, 0.2, 1, 1000),
    ]


def test_time_in_stage_median_and_p90_with_window_functions(history):
    h = history
    lead_ana = sorted(round(x, 3) for x in (days(h, (10, "09:00"), (9, "10:00")),
                                            days(h, (9, "12:00"), (7, "12:00")),
                                            days(h, (8, "11:00"), (6, "12:00"))))
    lead_ben = sorted(round(x, 3) for x in (days(h, (10, "23:45"), (4, "00:15")),
                                            days(h, (6, "11:00"), (4, "10:00"))))
    lead = sorted(lead_ana + lead_ben)
    meeting = round(days(h, (5, "10:00"), (3, "23:30")), 3)
    got = {(r[0], r[2]): r[3:] for r in rows(h.conn, "time_in_stage")}
    r2 = lambda x: round(x, 2)  # noqa: E731
    assert got[("lead", None)] == (5, r2(lead[2]), r2(lead[4]), r2(sum(lead) / 5), r2(lead[4]))
    assert got[("lead", "ana")] == (3, r2(lead_ana[1]), r2(lead_ana[2]), r2(sum(lead_ana) / 3),
                                    r2(lead_ana[2]))
    assert got[("lead", "ben")] == (2, r2(sum(lead_ben) / 2), r2(lead_ben[1]),
                                    r2(sum(lead_ben) / 2), r2(lead_ben[1]))
    assert got[("meeting", "ana")] == (1, r2(meeting), r2(meeting), r2(meeting), r2(meeting))
    assert got[("contacted", None)][:2] == (2, 1.0)
    assert set(got) == {("lead", None), ("lead", "ana"), ("lead", "ben"), ("contacted", None),
                        ("contacted", "ana"), ("replied", None), ("replied", "ana"),
                        ("meeting", None), ("meeting", "ana")}


def test_median_and_p90_on_known_series(conn):
    """Ten stays of 1..10 days and one of 11: median 5.5 then 6, p90 9 then 10."""
    from salescli.pipeline import prospects, stages

    start = datetime(2024, 1, 1, tzinfo=UTC)
    for n in range(1, 12):
        p = prospects.add(conn, "t", f"p{n}@example.com", owner="ana" if n <= 10 else "ben",
                          at=start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        stages.move(conn, "t", p["id"], "contacted",
                      at=(start + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    got = {r[2]: r[3:7] for r in rows(conn, "time_in_stage", where="WHERE stage = 'lead'")}
    assert got["ana"] == (10, 5.5, 9.0, 5.5)
    assert got[None] == (11, 6.0, 10.0, 6.0)


def test_deals_win_rate_and_sales_cycle(history):
    h = history
    cycle_a = round(days(h, (10, "09:00"), (3, "23:30")), 2)
    cycle_b = round(days(h, (10, "23:45"), (4, "00:15")), 2)
    assert rows(h.conn, "deals_closed", "outcome, stage, owner, value, cycle_days, reason",
                "ORDER BY prospect_id") == [("won", "won", "ana", 1000, cycle_a, "test"),
                                            ("lost", "lost", "ben", 500, cycle_b, "test")]
    assert rows(h.conn, "win_rate") == [(None, 1, 1, 2, 0.5, 1000), ("ana", 1, 0, 1, 1.0, 1000),
                                        ("ben", 0, 1, 1, 0.0, 0)]
    assert rows(h.conn, "sales_cycle") == [(None, 1, cycle_a, cycle_a, cycle_a),
                                           ("ana", 1, cycle_a, cycle_a, cycle_a)]


def test_owner_rates_from_the_rollup(history):
    assert rows(history.conn, "owner_rates") == []      # nothing rolled up yet
    rollup.rollup(history.conn, today=history.today)
    assert rows(history.conn, "owner_rates") == [
        # owner, sent, received, replies, auto, bounces, calls, meetings, reply, bounce rate
        (None, 3, 4, 2, 1, 1, 1, 1, 0.6667, 0.3333),
        ("ana", 1, 2, 1, 1, 0, 0, 1, 1.0, 0.0),
        ("ben", 2, 2, 1, 0, 1, 1, 0, 0.5, 0.5),
    ]


def test_prospect_reply_rates(history):
    assert rows(history.conn, "prospect_reply_rates") == [
        (None, 3, 2, 0.6667),
        ("ana", 1, 1, 1.0),
        ("ben", 2, 1, 0.5),     # b bounced; e replied (with e2's mail, merged in)
    ]


def test_rates_are_empty_without_mail(conn):
    assert rows(conn, "prospect_reply_rates") == []
    assert rows(conn, "owner_rates") == []


def test_idle_prospects_and_stale_counts(history):
    h = history
    before = datetime.now(UTC)
    got = rows(h.conn, "open_prospects_idle", "prospect_id, owner, stage, last_touch_at,"
               " idle_days", "ORDER BY prospect_id")
    after = datetime.now(UTC)

    def idle(ts: str) -> set[int]:
        t = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        return {int((before - t).total_seconds() // 86400),
                int((after - t).total_seconds() // 86400)}

    # c: moved to contacted after its last call; e: the later of e2's reply and its move.
    c_touch, e_touch = h.at(7, "12:00"), h.at(4, "10:00")
    assert [g[:4] for g in got] == [(h.ids["c"], "ben", "contacted", c_touch),
                                    (h.ids["e"], "ben", "contacted", e_touch)]
    assert got[0][4] in idle(c_touch) and got[1][4] in idle(e_touch)
    stale = {(r[0], r[1]): r[2:] for r in rows(h.conn, "stale_by_stage")}
    ages = [g[4] for g in got]
    counts = (2, *(sum(a >= n for a in ages) for n in (7, 14, 30, 90)), max(ages))
    assert stale == {("contacted", None): counts, ("contacted", "ben"): counts}


def _week(h, days_ago: int) -> tuple[str, str]:
    day = date.fromisoformat(h.day(days_ago))
    return (day - timedelta(days=day.weekday())).isoformat(), day.isoformat()


def _weekly_from_daily(h) -> dict[str, dict]:
    """weekly_trends worked out from the known daily answers (weeks from Monday)."""
    out: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    last_day: dict[str, str] = {}
    for row in EXPECTED_NY:
        week, day = _week(h, row[0])
        last_day[week] = max(last_day.get(week, ""), day)
    for n, stage, _owner, count, value, _e, e_value, _x, created, won, lost, _a in EXPECTED_NY:
        week, day = _week(h, n)
        w = out[week]
        w["new_prospects"] += created
        w["won"] += won
        w["lost"] += lost
        w["won_value"] += e_value if stage == "won" else 0
        if day == last_day[week] and stage not in ("won", "lost"):
            w["open_prospects"] += count
            w["open_value"] += value
    for n, _owner, sent, _received, replies, _auto, bounces, calls, *_rest in ACTIVITY_NY:
        w = out[_week(h, n)[0]]
        w["emails_sent"] += sent
        w["replies"] += replies
        w["bounces"] += bounces
        w["calls"] += calls
    return out


def test_weekly_trends_sum_the_daily_rollup_by_local_week(history):
    rollup.rollup(history.conn, today=history.today)
    want = _weekly_from_daily(history)
    cols = ("new_prospects", "won", "lost", "won_value", "open_prospects", "open_value",
            "emails_sent", "replies", "bounces", "calls")
    got = {r["week"]: r for r in history.conn.execute(
        "SELECT * FROM weekly_trends WHERE owner IS NULL")}
    assert sorted(got) == sorted(want)
    for week, w in want.items():
        assert {c: got[week][c] for c in cols} == {c: w.get(c, 0) for c in cols}, week
        assert got[week]["week_end"] == (date.fromisoformat(week) + timedelta(6)).isoformat()
    per_owner = history.conn.execute(
        "SELECT sum(new_prospects), sum(emails_sent) FROM weekly_trends WHERE owner IS NOT NULL"
    ).fetchone()
    assert tuple(per_owner) == (5, 3)


def test_weekly_trend_fills_empty_weeks(history):
    rollup.rollup(history.conn, today=history.today)
    weeks = live.weekly_trend(history.conn, weeks=6, today=history.today)
    assert len(weeks) == 6
    assert all(date.fromisoformat(w["week"]).weekday() == 0 for w in weeks)
    assert sum(w["new_prospects"] for w in weeks) == 5
    assert weeks[0]["new_prospects"] == 0 and weeks[0]["reply_rate"] is None
    # An empty week still says where it ends (its Sunday), as the view's rows do.
    assert weeks[0]["week_end"] == (date.fromisoformat(weeks[0]["week"])
                                    + timedelta(6)).isoformat()
    ben = live.weekly_trend(history.conn, weeks=6, owner="ben", today=history.today)
    assert sum(w["emails_sent"] for w in ben) == 2 and {w["owner"] for w in ben} == {"ben"}


@pytest.mark.parametrize("weeks", [0, 521, "3"])
def test_weekly_trend_refuses_bad_week_counts(conn, weeks):
    from salescli.core.errors import InvalidValue

    with pytest.raises(InvalidValue, match="--weeks"):
        live.weekly_trend(conn, weeks=weeks)
