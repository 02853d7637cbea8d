"""Metrics: the daily rollup (a nightly job); the analytics read live are in ``metrics.live``.

Tables and views, created by migration m003; other parts read these names, they are stable
(docs/metrics-and-reports.md, "Tables and views", has every column). Days are local days
in ``SALESCLI_TZ`` (default UTC), ``YYYY-MM-DD``; owner ``''`` is no owner; in views with
an owner column, owner NULL rows are all owners together (as SQL's ROLLUP writes them).

Written by ``rollup``:
  metrics_pipeline  day × stage_id × owner: in_stage, value (end of day); entered,
                    entered_value, exited, created, won, lost, archived (during the day)
  metrics_activity  day × owner: emails_sent, emails_received, replies, auto_replies,
                    bounces, calls, meetings, notes
  metrics_state     one row: time zone, first and last day rolled up, high-water marks
Views over the rollup: metrics (both tables, long, with stage names; stage NULL = activity),
  weekly_trends (per Monday-week and owner), owner_rates (emails and rates per owner).
Live views: stage_stays, stage_transitions, funnel, time_in_stage, deals_closed, win_rate,
  sales_cycle, prospect_reply_rates, open_prospects_idle, stale_by_stage.

A *stay* runs from a change into a stage to the next change into another stage and belongs
to the owner and value recorded on the change that began it (reassigning a prospect never
rewrites history). Archiving ends the stay (``archived``, not ``exited``); later changes are
ignored. ``created`` counts first stays; ``won``/``lost`` entries into won/lost stages.
Interactions count on their local day for the owner recorded on them; emails_received =
email_in + auto_reply + bounce; replies = email_in (genuine replies, as the monitor records).
Local days (time zone, day bounds, periods) are in ``salescli.metrics.days``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from salescli.core.db import transaction
from salescli.core.timeutil import iso
from salescli.core.timeutil import now as db_now
from salescli.metrics.days import day_sql, local_day, midnight, parse_since, zone

ROLLUP_STEPS = 6
_CENTS = "CAST(round(coalesce({0}, 0) * 100) AS INTEGER)"


# --------------------------------------------------------------------------- rollup


def rollup_status(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The rollup's state: time zone, first and last day rolled up, when it last ran."""
    row = conn.execute(
        "SELECT * FROM metrics_state WHERE id = 1"
    ).fetchone()
    return dict(row) if row else None


def rollup(conn: sqlite3.Connection, *, since: str | date | None = None, tz: str | None = None,
           today: date | None = None, progress: Callable[[int], None] | None = None,
           ) -> dict[str, Any]:
    """Recompute the daily metrics tables and return counts.

    Incremental by default: every day from the earliest one touched since the last run
    (new or backdated history, merges, restores, deletions) through today. ``since``
    recomputes from that day out of the history alone (a backfill); the first run and a
    change of time zone recompute everything. Rerunning a day replaces its rows exactly.

    The numbers are computed in a read transaction (one snapshot, into temp tables) while
    other writers go on; only replacing the rows takes the write lock, briefly. Writes
    committed meanwhile are past the high-water marks read in the snapshot, so the next
    run counts them. If another rollup wrote in between, it is computed again under the
    lock. Inside a caller's transaction everything happens in it.
    """
    tzinfo = zone(tz)
    today = today or datetime.now(tzinfo).date()
    since_day = parse_since(since, today) if since is not None else None
    step = progress or (lambda n: None)
    plan = None
    if not conn.in_transaction:
        conn.execute("BEGIN")  # deferred: a read snapshot; only temp tables are written
        try:
            plan = _compute(conn, tzinfo, today, since_day, step)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")  # keeps the temp tables; the main database was only read
    with transaction(conn):
        if plan is None or rollup_status(conn) != plan["state"]:
            plan = _compute(conn, tzinfo, today, since_day, lambda n: None)
        counts = _write(conn, plan)
    step(ROLLUP_STEPS)
    d0 = plan["d0"]
    return {"mode": plan["mode"], "tz": tzinfo.key, "from": d0.isoformat(),
            "to": today.isoformat(), "days": (today - d0).days + 1, **counts}


def _compute(conn: sqlite3.Connection, tzinfo: ZoneInfo, today: date, since_day: date | None,
             step: Callable[[int], None]) -> dict[str, Any]:
    """What the rollup will write (in temp tables) and the state it was computed from."""
    started = db_now()
    state = rollup_status(conn)
    marks = conn.execute(
        # no mutate: unnamed select-list items, read by place (the SQL-case rule refuses them)
        "SELECT (SELECT coalesce(max(id), 0) FROM stage_changes),"  # pragma: no mutate
        " (SELECT coalesce(max(id), 0) FROM interactions),"  # pragma: no mutate: as above
        " (SELECT coalesce(max(id), 0) FROM activities)"  # pragma: no mutate: as above
    ).fetchone()
    first_event = _first_event_day(conn, tzinfo) or today
    if state is None or state["tz"] != tzinfo.key:
        mode, d0 = "full", min(first_event, since_day or first_event)
    elif since_day is not None:
        mode, d0 = "backfill", since_day
    else:
        mode, d0 = "incremental", _first_touched(conn, state, tzinfo, first_event)
    d0 = min(d0, today)
    # (d0 == first_day: nothing is stored before it, nor is there history; > or >=)
    # Starting from the stored rows of the day before d0: speed only, the rows are the same.
    stored = (mode == "incremental"  # pragma: no mutate: speed only (see above)
              and d0 > date.fromisoformat(state["first_day"])  # pragma: no mutate: above
              )
    span = (today - min(first_event, d0)).days + 1
    # Whole-table scans for long ranges: a matter of speed only, the rows are the same.
    scan = (today - d0).days + 1 > max(31, span // 4)  # pragma: no mutate: speed only
    _recompute(conn, d0, today, tzinfo,
               base_from_store=stored,  # pragma: no mutate: speed only (see above)
               history_before=d0 > first_event, scan=scan, step=step)
    first_day = d0 if mode == "full" else min(date.fromisoformat(state["first_day"]), d0)
    return {"state": state, "mode": mode, "d0": d0, "today": today, "tz": tzinfo.key,
            "first_day": first_day, "marks": tuple(marks), "started": started}


def _write(conn: sqlite3.Connection, plan: dict[str, Any]) -> dict[str, int]:
    """Replace the rolled-up days with the computed rows and record the new state."""
    x = conn.execute
    if plan["mode"] == "full":
        x("DELETE FROM metrics_pipeline")
        x("DELETE FROM metrics_activity")
    else:
        x("DELETE FROM metrics_pipeline WHERE day >= ?", (plan["d0"].isoformat(),))
        x("DELETE FROM metrics_activity WHERE day >= ?", (plan["d0"].isoformat(),))
    pipeline = x("INSERT INTO metrics_pipeline(day, stage_id, owner, in_stage, value, entered,"
                 " entered_value, exited, created, won, lost, archived)"
                 " SELECT * FROM temp.mx_pipeline").rowcount
    activity = x("INSERT INTO metrics_activity(day, owner, emails_sent, emails_received,"
                 " replies, auto_replies, bounces, calls, meetings, notes)"
                 " SELECT * FROM temp.mx_activity").rowcount
    x("INSERT OR REPLACE INTO metrics_state(id, tz, first_day, last_day,"
      " stage_changes_mark, interactions_mark, activities_mark, started_at)"
      " VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
      (plan["tz"], plan["first_day"].isoformat(), plan["today"].isoformat(), *plan["marks"],
       plan["started"]))
    for t in ("mx_pipeline",  # pragma: no mutate: table names ignore case (a wrong one fails)
              "mx_activity",  # pragma: no mutate: table names ignore case (a wrong one fails)
              ):
        x(f"DROP TABLE temp.{t}")
    return {"pipeline_rows": pipeline, "activity_rows": activity}


def _first_event_day(conn: sqlite3.Connection, tz: ZoneInfo) -> date | None:
    row = conn.execute(
        # no mutate: min(t) read by place, an inner alias (the SQL-case rule refuses both)
        "SELECT min(t) FROM (SELECT min(at) AS t FROM stage_changes"  # pragma: no mutate
        " UNION ALL SELECT min(occurred_at) FROM interactions)"  # pragma: no mutate: as above
    ).fetchone()
    return local_day(row[0], tz) if row[0] else None


def _first_touched(conn: sqlite3.Connection, state: sqlite3.Row | dict, tz: ZoneInfo,
                   first_event: date) -> date:
    """The earliest day whose numbers may have changed since the last run."""
    acts = "FROM activities a WHERE a.id > :act AND a.entity = 'prospect'"
    row = conn.execute(
        f"""SELECT min(t) FROM (
            SELECT min(+at) AS t FROM stage_changes WHERE id > :sc
            UNION ALL SELECT min(+occurred_at) FROM interactions WHERE id > :ix
            UNION ALL SELECT min(+occurred_at) FROM interactions WHERE created_at > :started
            UNION ALL SELECT json_extract(a.before, '$.archived_at') {acts}
                AND a.action = 'restore'
            UNION ALL SELECT (SELECT min(at) FROM stage_changes WHERE prospect_id = a.entity_id)
                {acts} AND a.action = 'merge'
            UNION ALL SELECT (SELECT min(occurred_at) FROM interactions
                              WHERE prospect_id = a.entity_id) {acts} AND a.action = 'merge'
            UNION ALL SELECT '' {acts} AND a.action IN ('delete', 'forget'))""",
        {"sc": state["stage_changes_mark"], "ix": state["interactions_mark"],
         "act": state["activities_mark"], "started": state["started_at"]}).fetchone()
    last = date.fromisoformat(state["last_day"])
    if row[0] is None:
        return last
    if row[0] == "":  # history was deleted: every day may have changed
        return min(date.fromisoformat(state["first_day"]), first_event)
    return min(last, local_day(row[0], tz))


# The change before ``c`` of the same prospect (by time, then id): an index lookup per row.
PREV = ("(SELECT x.id FROM stage_changes x WHERE x.prospect_id = {0}.prospect_id"
         " AND (x.at, x.id) < ({0}.at, {0}.id) ORDER BY x.at DESC, x.id DESC LIMIT 1)")
_LAST_BEFORE = ("(SELECT x.id FROM stage_changes x WHERE x.prospect_id = {0} AND x.at < {1}"
                " ORDER BY x.at DESC, x.id DESC LIMIT 1)")


def _recompute(conn: sqlite3.Connection, d0: date, d1: date, tz: ZoneInfo, *,
               base_from_store: bool, history_before: bool, scan: bool,
               step: Callable[[int], None]) -> None:
    """The rows of days d0..d1, with plain SQL, into temp.mx_pipeline and temp.mx_activity
    (columns in the order of metrics_pipeline and metrics_activity); writes nothing else.

    ``scan`` reads whole tables instead of the time indexes (faster for long ranges).
    """
    lo, hi = midnight(d0, tz), midnight(d1 + timedelta(days=1), tz)
    p = {"r0": iso(lo), "r1": iso(hi), "d0": d0.isoformat(), "d1": d1.isoformat(),
         "prev": (d0 - timedelta(days=1)).isoformat()}
    day = {col: day_sql(col, tz, lo, hi) for col in ("c.at", "a.archived_at", "occurred_at")}
    plus = "+" if scan else ""
    cents = _CENTS.format
    entry = "(m.prev_stage IS NULL OR m.prev_stage != m.to_stage_id)"
    x = conn.execute
    for t in ("mx_days", "mx_arch", "mx_base", "mx_moves", "mx_flow", "mx_pipeline",
              "mx_activity"):
        x(f"DROP TABLE IF EXISTS temp.{t}")
    x("CREATE TEMP TABLE mx_days(day TEXT PRIMARY KEY) WITHOUT ROWID")
    x("INSERT INTO mx_days WITH RECURSIVE d(day) AS (SELECT :d0 UNION ALL"
      " SELECT date(day, '+1 day') FROM d WHERE day < :d1) SELECT day FROM d", p)
    x("CREATE TEMP TABLE mx_arch(prospect_id INTEGER PRIMARY KEY, archived_at TEXT)")
    x("INSERT INTO mx_arch SELECT id, archived_at FROM prospects WHERE archived_at IS NOT NULL")
    x("CREATE TEMP TABLE mx_base(stage_id INTEGER, owner TEXT, n INTEGER, cents INTEGER,"
      " PRIMARY KEY (stage_id, owner)) WITHOUT ROWID")
    if base_from_store:  # the end of the day before, as rolled up last time
        x("INSERT INTO mx_base SELECT stage_id, owner, in_stage,"
          f" {cents('value')} FROM metrics_pipeline WHERE day = :prev", p)
    elif history_before:  # each prospect's stay at the start of d0, from the history
        x(f"""INSERT INTO mx_base
            SELECT c.to_stage_id, coalesce(c.owner, ''), count(*), sum({cents('c.value')})
            FROM prospects p JOIN stage_changes c ON c.id = {_LAST_BEFORE.format('p.id', ':r0')}
            WHERE p.archived_at IS NULL OR p.archived_at >= :r0
            GROUP BY 1, 2""", p)
    step(1)
    # Each change of the period with the stay it ends (the prospect's change before it),
    # grouped; changes after a prospect was archived are left out.
    x(f"""CREATE TEMP TABLE mx_moves AS
        SELECT day, to_stage_id, owner, prev_stage, prev_owner, count(*) AS n,
               sum(cents) AS cents, sum(prev_cents) AS prev_cents
        FROM (SELECT {day['c.at']} AS day, c.to_stage_id, coalesce(c.owner, '') AS owner,
                     {cents('c.value')} AS cents, v.to_stage_id AS prev_stage,
                     coalesce(v.owner, '') AS prev_owner, {cents('v.value')} AS prev_cents
              FROM stage_changes c LEFT JOIN mx_arch a ON a.prospect_id = c.prospect_id
              LEFT JOIN stage_changes v ON v.id = {PREV.format('c')}
              WHERE {plus}c.at >= :r0 AND {plus}c.at < :r1
                AND (a.archived_at IS NULL OR c.at < a.archived_at))
        GROUP BY 1, 2, 3, 4, 5""", p)
    step(2)
    x("""CREATE TEMP TABLE mx_flow(day TEXT, stage_id INTEGER, owner TEXT, dn INTEGER,
            dcents INTEGER, entered INTEGER, entered_cents INTEGER, exited INTEGER,
            created INTEGER, won INTEGER, lost INTEGER, archived INTEGER,
            PRIMARY KEY (day, stage_id, owner)) WITHOUT ROWID""")
    x(f"""INSERT INTO mx_flow
        SELECT day, stage_id, owner, sum(dn), sum(dcents), sum(entered), sum(entered_cents),
               sum(exited), sum(created), sum(won), sum(lost), sum(archived)
        FROM (
            SELECT m.day, m.to_stage_id AS stage_id, m.owner, m.n AS dn, m.cents AS dcents,
                   {entry} * m.n AS entered, {entry} * m.cents AS entered_cents, 0 AS exited,
                   (m.prev_stage IS NULL) * m.n AS created,
                   {entry} * (k.kind = 'won') * m.n AS won,
                   {entry} * (k.kind = 'lost') * m.n AS lost, 0 AS archived
            FROM mx_moves m JOIN stages k ON k.id = m.to_stage_id
            UNION ALL
            SELECT m.day, m.prev_stage, m.prev_owner, -m.n, -m.prev_cents, 0, 0,
                   (m.prev_stage != m.to_stage_id) * m.n, 0, 0, 0, 0
            FROM mx_moves m WHERE m.prev_stage IS NOT NULL
            UNION ALL
            SELECT {day['a.archived_at']}, c.to_stage_id, coalesce(c.owner, ''), -1,
                   -{cents('c.value')}, 0, 0, 0, 0, 0, 0, 1
            FROM mx_arch a JOIN stage_changes c
                 ON c.id = {_LAST_BEFORE.format('a.prospect_id', 'a.archived_at')}
            WHERE a.archived_at >= :r0 AND a.archived_at < :r1)
        GROUP BY day, stage_id, owner""", p)
    step(3)
    # One row per day for every stage and owner seen: in_stage is the base plus the running
    # sum of the day's changes; rows that are all zero are not stored.
    x("""CREATE TEMP TABLE mx_pipeline AS
        SELECT day, stage_id, owner, in_stage, cents / 100.0, entered, entered_cents / 100.0,
               exited, created, won, lost, archived FROM (
            SELECT g.day, g.stage_id, g.owner,
                   coalesce(b.n, 0) + sum(coalesce(f.dn, 0)) OVER w AS in_stage,
                   coalesce(b.cents, 0) + sum(coalesce(f.dcents, 0)) OVER w AS cents,
                   coalesce(f.entered, 0) AS entered,
                   coalesce(f.entered_cents, 0) AS entered_cents,
                   coalesce(f.exited, 0) AS exited, coalesce(f.created, 0) AS created,
                   coalesce(f.won, 0) AS won, coalesce(f.lost, 0) AS lost,
                   coalesce(f.archived, 0) AS archived
            FROM (SELECT d.day, c.stage_id, c.owner FROM mx_days d CROSS JOIN
                  (SELECT stage_id, owner FROM mx_base UNION
                   SELECT stage_id, owner FROM mx_flow) c) g
            LEFT JOIN mx_flow f
                ON f.day = g.day AND f.stage_id = g.stage_id AND f.owner = g.owner
            LEFT JOIN mx_base b ON b.stage_id = g.stage_id AND b.owner = g.owner
            WINDOW w AS (PARTITION BY g.stage_id, g.owner ORDER BY g.day))
        WHERE in_stage != 0 OR cents != 0 OR entered != 0 OR exited != 0 OR archived != 0
        """)
    step(4)
    x(f"""CREATE TEMP TABLE mx_activity AS
        SELECT day, o, sum(n * (kind = 'email_out')),
               sum(n * (kind IN ('email_in', 'auto_reply', 'bounce'))),
               sum(n * (kind = 'email_in')), sum(n * (kind = 'auto_reply')),
               sum(n * (kind = 'bounce')), sum(n * (kind = 'call')),
               sum(n * (kind = 'meeting')), sum(n * (kind = 'note'))
        FROM (SELECT {day['occurred_at']} AS day, coalesce(owner, '') AS o, kind, count(*) AS n
              FROM interactions WHERE {plus}occurred_at >= :r0 AND {plus}occurred_at < :r1
              GROUP BY 1, 2, 3)
        GROUP BY day, o""", p)
    step(5)
    for t in ("mx_days", "mx_arch", "mx_base", "mx_moves", "mx_flow"):
        x(f"DROP TABLE temp.{t}")


# --------------------------------------------------------------------------- live analytics
