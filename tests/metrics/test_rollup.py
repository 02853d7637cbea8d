"""The rollup on the hand-built history: every number known, idempotent, incremental ==
backfill, days in the configured time zone."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from salescli.core.errors import InvalidValue
from salescli.metrics import days, rollup
from salescli.pipeline import erasure, prospects, stages
from tests.metrics.conftest import ACTOR, NY, History, build, pipeline_rows, table

COLS = ("in_stage", "value", "entered", "entered_value", "exited", "created", "won", "lost",
        "archived")
# (days ago, stage, owner, in_stage, value, entered, entered_value, exited, created, won,
#  lost, archived) for America/New_York days; see conftest for the history.
EXPECTED_NY = [
    (10, "lead", "ana", 1, 1000, 1, 1000, 0, 1, 0, 0, 0),
    (10, "lead", "ben", 1, 500, 1, 500, 0, 1, 0, 0, 0),
    (9, "lead", "ana", 1, 0, 1, 0, 1, 1, 0, 0, 0),
    (9, "contacted", "ana", 1, 1000, 1, 1000, 0, 0, 0, 0, 0),
    (9, "lead", "ben", 1, 500, 0, 0, 0, 0, 0, 0, 0),
    (8, "lead", "ana", 2, 200, 1, 200, 0, 1, 0, 0, 0),
    (8, "contacted", "ana", 0, 0, 0, 0, 1, 0, 0, 0, 0),
    (8, "replied", "ana", 1, 1000, 1, 1000, 0, 0, 0, 0, 0),
    (8, "lead", "ben", 1, 500, 0, 0, 0, 0, 0, 0, 0),
    (7, "lead", "ana", 1, 200, 0, 0, 1, 0, 0, 0, 0),        # c's stay was ana's
    (7, "contacted", "ana", 1, 1000, 1, 1000, 0, 0, 0, 0, 0),
    (7, "contacted", "ben", 1, 0, 1, 0, 0, 0, 0, 0, 0),     # c, moved after reassignment
    (7, "replied", "ana", 0, 0, 0, 0, 1, 0, 0, 0, 0),
    (7, "lead", "ben", 1, 500, 0, 0, 0, 0, 0, 0, 0),
    (6, "lead", "ana", 0, 0, 0, 0, 1, 0, 0, 0, 0),
    (6, "contacted", "ana", 1, 200, 1, 200, 1, 0, 0, 0, 0),
    (6, "contacted", "ben", 1, 0, 0, 0, 0, 0, 0, 0, 0),
    (6, "replied", "ana", 1, 1000, 1, 1000, 0, 0, 0, 0, 0),
    (6, "lead", "ben", 2, 500, 1, 0, 0, 1, 0, 0, 0),
    (5, "contacted", "ana", 1, 200, 0, 0, 0, 0, 0, 0, 0),
    (5, "contacted", "ben", 1, 0, 0, 0, 0, 0, 0, 0, 0),
    (5, "replied", "ana", 0, 0, 0, 0, 1, 0, 0, 0, 0),
    (5, "meeting", "ana", 1, 1000, 1, 1000, 0, 0, 0, 0, 0),
    (5, "lead", "ben", 2, 500, 0, 0, 0, 0, 0, 0, 0),        # e2 merged into e: one prospect
    (4, "contacted", "ana", 1, 200, 0, 0, 0, 0, 0, 0, 0),
    (4, "contacted", "ben", 2, 0, 1, 0, 0, 0, 0, 0, 0),
    (4, "meeting", "ana", 1, 1000, 0, 0, 0, 0, 0, 0, 0),
    (4, "lead", "ben", 0, 0, 0, 0, 2, 0, 0, 0, 0),
    (4, "lost", "ben", 1, 500, 1, 500, 0, 0, 0, 1, 0),
    (3, "contacted", "ana", 1, 200, 0, 0, 0, 0, 0, 0, 0),
    (3, "contacted", "ben", 2, 0, 0, 0, 0, 0, 0, 0, 0),
    (3, "meeting", "ana", 0, 0, 0, 0, 1, 0, 0, 0, 0),
    (3, "won", "ana", 1, 1000, 1, 1000, 0, 0, 1, 0, 0),     # 23:30 local, 04:30 UTC on D-2
    (3, "lost", "ben", 1, 500, 0, 0, 0, 0, 0, 0, 0),
    *[(n, stage, owner, count, value, 0, 0, 0, 0, 0, 0, 0) for n in (2, 1)
      for stage, owner, count, value in (("contacted", "ana", 1, 200), ("contacted", "ben", 2, 0),
                                         ("won", "ana", 1, 1000), ("lost", "ben", 1, 500))],
    (0, "contacted", "ana", 0, 0, 0, 0, 0, 0, 0, 0, 1),     # d archived today
    (0, "contacted", "ben", 2, 0, 0, 0, 0, 0, 0, 0, 0),
    (0, "won", "ana", 1, 1000, 0, 0, 0, 0, 0, 0, 0),
    (0, "lost", "ben", 1, 500, 0, 0, 0, 0, 0, 0, 0),
]
# (days ago, owner, emails_sent, emails_received, replies, auto_replies, bounces, calls,
#  meetings, notes)
ACTIVITY_NY = [
    (9, "ana", 1, 1, 0, 1, 0, 0, 0, 0),
    (8, "ana", 0, 1, 1, 0, 0, 0, 0, 0),
    (8, "ben", 0, 0, 0, 0, 0, 1, 0, 0),     # c's call, after the reassignment
    (7, "ana", 0, 0, 0, 0, 0, 0, 0, 1),
    (5, "ana", 0, 0, 0, 0, 0, 0, 1, 0),
    (5, "ben", 2, 0, 0, 0, 0, 0, 0, 0),     # b at 23:59; <m1> once after the merge
    (4, "ben", 0, 2, 1, 0, 1, 0, 0, 0),     # b's bounce at 00:01, e2's reply
]


def expected(h: History, rows=EXPECTED_NY) -> dict:
    return {(h.day(n), stage, owner): {k: v for k, v in zip(COLS, vals, strict=True) if v}
            for n, stage, owner, *vals in rows}


def activity(h: History, rows=ACTIVITY_NY) -> list[tuple]:
    return [(h.day(n), owner, *vals) for n, owner, *vals in rows]


def test_every_number_of_the_hand_built_history(history):
    result = rollup.rollup(history.conn, today=history.today)
    assert result["mode"] == "full" and result["tz"] == "America/New_York"
    assert result["from"] == history.day(10) and result["to"] == history.day(0)
    assert pipeline_rows(history.conn) == expected(history)
    assert table(history.conn, "metrics_activity") == activity(history)


def test_utc_days_put_late_evening_events_on_the_next_day(history, monkeypatch):
    monkeypatch.setenv("SALESCLI_TZ", "UTC")
    rollup.rollup(history.conn, today=history.today)
    rows = pipeline_rows(history.conn)
    d = history.day
    assert (d(10), "lead", "ben") not in rows           # 23:45 New York is 04:45 UTC
    assert rows[(d(9), "lead", "ben")]["created"] == 1
    assert (d(3), "won", "ana") not in rows
    assert rows[(d(2), "won", "ana")] == {"in_stage": 1, "value": 1000, "entered": 1,
                                          "entered_value": 1000, "won": 1}
    acts = {(r[0], r[1]): r[2:] for r in table(history.conn, "metrics_activity")}
    assert (d(5), "ben") not in acts or acts[(d(5), "ben")][0] == 1   # only <m1> left
    assert acts[(d(4), "ben")][:5] == (1, 2, 1, 0, 1)   # b's 23:59 email moved to D-4


def test_rerunning_gives_identical_rows(history):
    rollup.rollup(history.conn, today=history.today)
    first = table(history.conn, "metrics_pipeline"), table(history.conn, "metrics_activity")
    again = rollup.rollup(history.conn, today=history.today)
    assert again["mode"] == "incremental" and again["from"] == history.day(0)
    assert (table(history.conn, "metrics_pipeline"),
            table(history.conn, "metrics_activity")) == first
    rollup.rollup(history.conn, since=history.day(6), today=history.today)
    rollup.rollup(history.conn, since=history.day(30), today=history.today)
    assert (table(history.conn, "metrics_pipeline"),
            table(history.conn, "metrics_activity")) == first


def test_rerunning_a_day_replaces_its_rows_exactly(history):
    rollup.rollup(history.conn, today=history.today)
    good = table(history.conn, "metrics_pipeline")
    history.conn.execute("UPDATE metrics_pipeline SET in_stage = 99 WHERE day = ?",
                         (history.day(5),))
    history.conn.execute("INSERT INTO metrics_pipeline(day, stage_id, owner, in_stage)"
                         " VALUES (?, 1, 'nobody', 7)", (history.day(5),))
    history.conn.execute("INSERT INTO metrics_activity(day, owner, calls) VALUES (?, 'x', 3)",
                         (history.day(5),))
    result = rollup.rollup(history.conn, since=history.day(5), today=history.today)
    assert result["mode"] == "backfill" and result["days"] == 6
    assert table(history.conn, "metrics_pipeline") == good
    assert table(history.conn, "metrics_activity") == activity(history)


def _both(conn) -> tuple[list, list]:
    return table(conn, "metrics_pipeline"), table(conn, "metrics_activity")


def _fresh_backfill(h: History, tmp_path) -> tuple[list, list]:
    """The same database copied, its rollup state dropped, rolled up from scratch."""
    copy = tmp_path / "copy.db"
    copy.unlink(missing_ok=True)
    h.conn.execute("VACUUM INTO ?", (str(copy),))
    other = sqlite3.connect(copy, isolation_level=None)
    other.row_factory = sqlite3.Row
    other.execute("DELETE FROM metrics_state")
    other.execute("DELETE FROM metrics_pipeline")
    other.execute("DELETE FROM metrics_activity")
    result = rollup.rollup(other, today=h.today)
    assert result["mode"] == "full"
    try:
        return _both(other)
    finally:
        other.close()


def test_incremental_runs_end_where_a_backfill_does(conn, ny, tmp_path):
    """Roll up after every step of the history (backdated moves, late mail, merge,
    archive, restore, delete, forget): each time equal to a rollup from scratch."""
    h = History(conn, datetime.now(NY).date())
    h.add("x", 20, "10:00", "ana", 300)
    rollup.rollup(conn, today=h.today)
    steps = [
        lambda: build(h, merge=False, archive=False),
        lambda: h.move("x", "contacted", 15, "10:00"),                  # backdated move
        lambda: h.log("x", "email_in", 18, "23:50", "<late@x>"),         # old mail found late
        lambda: prospects.merge(conn, ACTOR, h.ids["e"], h.ids["e2"]),
        lambda: prospects.archive(conn, ACTOR, h.ids["d"]),
        lambda: prospects.archive(conn, ACTOR, h.ids["d"], restore=True),
        lambda: prospects.delete(conn, ACTOR, h.ids["c"]),
        lambda: erasure.forget(conn, ACTOR, "b@example.com"),
        lambda: stages.rename_stage(conn, ACTOR, "replied", "answered"),
    ]
    for n, change in enumerate(steps):
        change()
        result = rollup.rollup(conn, today=h.today)
        assert result["mode"] == "incremental", n
        assert _both(conn) == _fresh_backfill(h, tmp_path), f"after step {n}"
    assert pipeline_rows(conn)[(h.day(15), "contacted", "ana")]["entered"] == 1


def test_incremental_recomputes_only_from_the_earliest_touched_day(history):
    rollup.rollup(history.conn, today=history.today)
    assert rollup.rollup(history.conn, today=history.today)["from"] == history.day(0)
    history.log("a", "call", 6, "09:00")
    assert rollup.rollup(history.conn, today=history.today)["from"] == history.day(6)
    history.move("c", "replied", 2, "09:00")
    assert rollup.rollup(history.conn, today=history.today)["from"] == history.day(2)
    prospects.update(history.conn, ACTOR, history.ids["a"], {"owner": "ben", "value": 5})
    assert rollup.rollup(history.conn, today=history.today)["from"] == history.day(0)
    rows = pipeline_rows(history.conn)
    assert rows[(history.day(0), "won", "ana")]["value"] == 1000   # history not rewritten


def test_a_new_day_carries_the_pipeline_forward(history):
    rollup.rollup(history.conn, today=history.today - timedelta(days=2))
    tomorrow = rollup.rollup(history.conn, today=history.today)
    assert tomorrow["from"] == history.day(2) and tomorrow["days"] == 3
    assert pipeline_rows(history.conn) == expected(history)


def test_changing_the_time_zone_recomputes_everything(history, monkeypatch):
    rollup.rollup(history.conn, today=history.today)
    monkeypatch.setenv("SALESCLI_TZ", "UTC")
    result = rollup.rollup(history.conn, today=history.today)
    assert result["mode"] == "full" and result["tz"] == "UTC"
    assert rollup.rollup_status(history.conn)["tz"] == "UTC"
    assert (history.day(10), "lead", "ben") not in pipeline_rows(history.conn)


def test_an_empty_database_rolls_up_to_nothing(conn):
    result = rollup.rollup(conn)
    assert result["pipeline_rows"] == 0 and result["activity_rows"] == 0
    assert rollup.rollup(conn)["mode"] == "incremental"


def test_the_metrics_view_unions_both_tables_with_stage_names(history):
    rollup.rollup(history.conn, today=history.today)
    rows = [dict(r) for r in history.conn.execute(
        "SELECT * FROM metrics WHERE day = ? ORDER BY stage IS NULL, stage, owner",
        (history.day(4),))]
    assert [(r["stage"], r["owner"], r["in_stage"], r["emails_received"]) for r in rows] == [
        ("contacted", "ana", 1, 0), ("contacted", "ben", 2, 0), ("lead", "ben", 0, 0),
        ("lost", "ben", 1, 0), ("meeting", "ana", 1, 0), (None, "ben", 0, 2)]
    assert rows[0]["open_value"] == 200 and rows[3]["open_value"] == 0


@pytest.mark.parametrize("name", ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                                  "Asia/Kolkata", "UTC"])
def test_day_sql_agrees_with_zoneinfo_across_dst_changes(name):
    tz = ZoneInfo(name)
    lo = datetime(2024, 3, 1, tzinfo=UTC)
    hi = datetime(2024, 11, 15, tzinfo=UTC)
    expr = days.day_sql("t", tz, lo, hi)
    instants = [lo + timedelta(minutes=29 * n) for n in range(int((hi - lo).total_seconds())
                                                             // (29 * 60))]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE x(t TEXT)")
    db.executemany("INSERT INTO x VALUES (?)",
                   [(t.strftime("%Y-%m-%dT%H:%M:%SZ"),) for t in instants])
    got = [r[0] for r in db.execute(f"SELECT {expr} FROM x ORDER BY t")]
    assert got == [t.astimezone(tz).date().isoformat() for t in instants]


@pytest.mark.parametrize("since, message", [
    ("yesterday-ish", "--since 'yesterday-ish' is not a date (use YYYY-MM-DD)"),
    ("2024-02-30", "--since '2024-02-30' is not a date"),
    ((date.today() + timedelta(days=2)).isoformat(), "is after today"),
])
def test_bad_since_is_refused_before_anything_is_written(conn, since, message):
    with pytest.raises(InvalidValue, match=message.replace("(", r"\(").replace(")", r"\)")):
        rollup.rollup(conn, since=since)
    assert rollup.rollup_status(conn) is None


def test_unknown_time_zone_is_refused(conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_TZ", "Mars/Olympus")
    with pytest.raises(InvalidValue, match="SALESCLI_TZ 'Mars/Olympus' is not a known"):
        rollup.rollup(conn)


def test_changes_in_the_same_second_follow_their_order(conn, ny):
    """A prospect created and moved twice within one second: ties go by insertion order."""
    h = History(conn, datetime.now(NY).date())
    h.add("t", 2, "10:00", "ana", 10)
    h.move("t", "contacted", 2, "10:00")
    h.move("t", "replied", 2, "10:00")
    rollup.rollup(conn, today=h.today)
    rows = pipeline_rows(conn)
    assert rows[(h.day(2), "lead", "ana")] == {"entered": 1, "exited": 1, "created": 1,
                                               "entered_value": 10}
    assert rows[(h.day(2), "contacted", "ana")] == {"entered": 1, "exited": 1,
                                                    "entered_value": 10}
    assert rows[(h.day(0), "replied", "ana")] == {"in_stage": 1, "value": 10}
    assert [r[0] for r in conn.execute("SELECT stage FROM stage_stays ORDER BY change_id")] == [
        "lead", "contacted", "replied"]
