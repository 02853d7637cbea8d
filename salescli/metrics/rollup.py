"""Metrics: the daily rollup (a nightly job) and the pipeline analytics the CLI and reports read.

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
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from salescli.core import currency
from salescli.core.currency import default_currency
from salescli.core.db import transaction
from salescli.core.enums import InteractionKind
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.core.timeutil import now as db_now
from salescli.metrics.days import day_sql, local_day, midnight, parse_since, period, zone

ROLLUP_STEPS = 6
_CENTS = "CAST(round(coalesce({0}, 0) * 100) AS INTEGER)"


# --------------------------------------------------------------------------- rollup


def rollup_status(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The rollup's state: time zone, first and last day rolled up, when it last ran."""
    row = conn.execute(
        "SELECT * FROM metrics_state WHERE id = 1"  # pragma: no mutate: SQL ignores case
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
        "SELECT (SELECT coalesce(max(id), 0) FROM stage_changes),"  # pragma: no mutate
        " (SELECT coalesce(max(id), 0) FROM interactions),"  # pragma: no mutate: SQL case
        " (SELECT coalesce(max(id), 0) FROM activities)"  # pragma: no mutate: SQL case
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
    stored = (mode == "incremental"
              and d0 > date.fromisoformat(state["first_day"])  # pragma: no mutate: above
              )
    span = (today - min(first_event, d0)).days + 1
    # Whole-table scans for long ranges: a matter of speed only, the rows are the same.
    scan = (today - d0).days + 1 > max(31, span // 4)  # pragma: no mutate: speed only
    _recompute(conn, d0, today, tzinfo, base_from_store=stored,
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
    for t in ("mx_pipeline", "mx_activity"):
        x(f"DROP TABLE temp.{t}")
    return {"pipeline_rows": pipeline, "activity_rows": activity}


def _first_event_day(conn: sqlite3.Connection, tz: ZoneInfo) -> date | None:
    row = conn.execute(
        "SELECT min(t) FROM (SELECT min(at) AS t FROM stage_changes"  # pragma: no mutate
        " UNION ALL SELECT min(occurred_at) FROM interactions)"  # pragma: no mutate: SQL case
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
_PREV = ("(SELECT x.id FROM stage_changes x WHERE x.prospect_id = {0}.prospect_id"
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
              LEFT JOIN stage_changes v ON v.id = {_PREV.format('c')}
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


def check_owner(conn: sqlite3.Connection, owner: str | None) -> str | None:
    """``owner`` as given if anyone by that name owns or owned something ('' = no owner)."""
    if owner is None or owner == "":
        return owner
    for sql in ("SELECT 1 FROM prospects WHERE owner = ?",
                "SELECT 1 FROM metrics_activity WHERE owner = ?",
                "SELECT 1 FROM metrics_pipeline WHERE owner = ?",
                "SELECT 1 FROM stage_changes WHERE owner = ?",
                "SELECT 1 FROM interactions WHERE owner = ?"):
        if conn.execute(sql + " LIMIT 1", (owner,)).fetchone():
            return owner
    known = [r[0] for r in conn.execute(
        "SELECT DISTINCT owner FROM prospects WHERE coalesce(owner, '') != ''"
        " ORDER BY owner COLLATE NOCASE LIMIT 20")]
    hint = f" (owners: {', '.join(known)})" if known else " (no prospect has an owner)"
    raise InvalidValue("--owner", owner, f"owns no prospects and has no history{hint}")


# Every stay begun in [r0, r1) with the stay it ended: the prospect's change before it (v)
# and when that stay began (the first of v's run of changes into the same stage).
_MOVES = f"""CREATE TEMP TABLE mx_moves AS
    SELECT m.*, t.kind,
           m.prev_stage IS NOT NULL AND (t.kind = 'lost' OR t.position <= f.position) AS backward
    FROM (SELECT c.prospect_id, c.at, c.to_stage_id, coalesce(c.owner, '') AS owner, c.value,
                 v.to_stage_id AS prev_stage, coalesce(v.owner, '') AS prev_owner,
                 julianday(c.at) - julianday(CASE WHEN v.to_stage_id IS NOT (
                         SELECT w.to_stage_id FROM stage_changes w WHERE w.id = {_PREV.format('v')})
                     THEN v.at ELSE (
                         SELECT min(y.at) FROM stage_changes y
                         WHERE y.prospect_id = v.prospect_id AND y.to_stage_id = v.to_stage_id
                           AND (y.at, y.id) <= (v.at, v.id) AND y.at >= coalesce((
                               SELECT max(z.at) FROM stage_changes z
                               WHERE z.prospect_id = v.prospect_id
                                 AND z.to_stage_id != v.to_stage_id
                                 AND (z.at, z.id) < (v.at, v.id)), '')) END) AS prev_days
          FROM stage_changes c LEFT JOIN prospects p ON p.id = c.prospect_id
          LEFT JOIN stage_changes v ON v.id = {_PREV.format('c')}
          WHERE c.at >= :r0 AND c.at < :r1
            AND (p.archived_at IS NULL OR c.at < p.archived_at)) m
    JOIN stages t ON t.id = m.to_stage_id LEFT JOIN stages f ON f.id = m.prev_stage
    WHERE m.prev_stage IS NULL OR m.prev_stage != m.to_stage_id"""


def owner_cond(column: str, owner: str | None) -> tuple[str, list[Any]]:
    """A SQL condition on an owner column; '' means unassigned (NULL or empty)."""
    if owner is None:
        return "", []
    if owner == "":
        return f" AND coalesce({column}, '') = ''", []
    return f" AND {column} = ?", [owner]


def _median_sql(rows: str) -> str:
    """Median (mean of the middle two) and p90 (nearest rank) of ``v`` per ``k`` in ``rows``,
    with window functions."""
    return f"""SELECT k, avg(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN v END) AS median,
            max(CASE WHEN rn = (9 * n + 9) / 10 THEN v END) AS p90
        FROM (SELECT k, v, ROW_NUMBER() OVER w AS rn, COUNT(*) OVER (w ROWS BETWEEN
                     UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n FROM ({rows})
              WINDOW w AS (PARTITION BY k ORDER BY v))
        GROUP BY k"""


def summary(conn: sqlite3.Connection, *, days: int = 30, owner: str | None = None,
            stale_days: int = 14, today: date | None = None) -> dict[str, Any]:
    """What ``salescli metrics`` prints for the last ``days`` days: ``funnel``, one row per
    live stage (prospects and value in it now; stays entered and exited in the period, exits
    that advanced or were lost, the share that advanced, median days of the stays that
    ended) and ``kpis``, the headline numbers. Moves count for the owner of the stay."""
    p = period(days, today=today)
    owner = check_owner(conn, owner)
    if isinstance(stale_days, bool) or not isinstance(stale_days, int) or stale_days < 1:
        raise InvalidValue("--stale-days", stale_days, "must be a whole number ≥ 1")
    r = {"r0": p.start_utc, "r1": p.end_utc}
    co, po = owner_cond("owner", owner)
    cout, pout = owner_cond("prev_owner", owner)  # pragma: no mutate: SQL ignores case
    q = conn.execute
    q("DROP TABLE IF EXISTS temp.mx_moves")  # pragma: no mutate: SQL ignores case
    q(_MOVES, r)
    exits = "SELECT prev_stage AS k, prev_days AS v FROM mx_moves WHERE prev_stage IS NOT NULL"
    funnel = [dict(row) for row in q(f"""
        WITH ins AS (SELECT to_stage_id AS k, count(*) AS n FROM mx_moves WHERE 1{co}
                     GROUP BY 1),
        outs AS (SELECT prev_stage AS k, count(*) AS n, sum(NOT backward) AS advanced,
                        sum(kind = 'lost') AS lost FROM mx_moves
                 WHERE prev_stage IS NOT NULL{cout} GROUP BY 1),
        med AS ({_median_sql(exits + cout)}),
        now AS (SELECT +stage_id AS k, count(*) AS n, round(total(value), 2) AS v,
                       sum(max(coalesce(last_interaction_at, ''), stage_entered_at) < ?)
                           AS stale
                FROM prospects WHERE +archived_at IS NULL{co} GROUP BY 1)
        SELECT s.name AS stage, s.kind, coalesce(now.n, 0) AS prospects,
               coalesce(now.v, 0) AS value, coalesce(ins.n, 0) AS entered,
               coalesce(outs.n, 0) AS exited, coalesce(outs.advanced, 0) AS advanced,
               coalesce(outs.lost, 0) AS lost,
               round(1.0 * outs.advanced / NULLIF(outs.n, 0), 4) AS conversion_rate,
               round(med.median, 2) AS median_days, coalesce(now.stale, 0) AS stale
        FROM stages s LEFT JOIN ins ON ins.k = s.id LEFT JOIN outs ON outs.k = s.id
        LEFT JOIN med ON med.k = s.id LEFT JOIN now ON now.k = s.id
        WHERE s.removed_at IS NULL ORDER BY s.position, s.id""",
        [*po, *pout, *pout, iso(datetime.now(UTC) - timedelta(days=stale_days)), *po])]
    # Values per currency: two currencies never add up to one figure (core.currency).
    base = default_currency()
    stage_values: dict[str, list[tuple[str, float]]] = {}
    for name, code, v in q(f"""SELECT s.name, coalesce(p.currency, ?), total(p.value)
                               FROM prospects p JOIN stages s ON s.id = p.stage_id
                               WHERE p.archived_at IS NULL AND p.value IS NOT NULL{co}
                               GROUP BY 1, 2""", [base, *po]):
        stage_values.setdefault(name, []).append((code, v))
    for row in funnel:
        row["values"] = currency.totals(stage_values.get(row["stage"], ()))
        if len(row["values"]) > 1:
            row["value"] = None
    cm, pm = owner_cond("m.owner", owner)
    won_values = currency.totals(q(
        f"""SELECT coalesce(p.currency, ?), m.value FROM mx_moves m
            JOIN prospects p ON p.id = m.prospect_id WHERE m.kind = 'won'{cm}""",
        [base, *pm]).fetchall())
    deals = q(f"""SELECT sum(m.prev_stage IS NULL) AS new, sum(m.kind = 'won') AS won,
                         sum(m.kind = 'lost') AS lost,
                         round(total(CASE WHEN m.kind = 'won' THEN m.value END), 2)
                             AS won_value
                  FROM mx_moves m WHERE 1{cm}""", pm).fetchone()
    cycle = q(_median_sql(
        "SELECT 1 AS k, julianday(m.at) - julianday((SELECT min(c.at) FROM stage_changes c"
        f" WHERE c.prospect_id = m.prospect_id)) AS v FROM mx_moves m"
        f" WHERE m.kind = 'won'{cm}"), pm).fetchone()
    q("DROP TABLE temp.mx_moves")  # pragma: no mutate: SQL ignores case
    kinds = ", ".join(f"'{k.value}'" for k in InteractionKind)
    act = dict(q(f"SELECT kind, count(*) FROM interactions WHERE kind IN ({kinds})"
                 f" AND occurred_at >= ? AND occurred_at < ?{co} GROUP BY kind",
                 [p.start_utc, p.end_utc, *po]).fetchall())
    people = q(f"""WITH f AS (SELECT prospect_id, min(occurred_at) AS first_out FROM interactions
                              WHERE kind = 'email_out' AND occurred_at >= ? AND occurred_at < ?{co}
                              GROUP BY 1),
                   r AS (SELECT prospect_id, max(occurred_at) AS last_in FROM interactions
                         WHERE kind = 'email_in' AND occurred_at >= ? GROUP BY 1)
                   SELECT count(*), coalesce(sum(r.last_in > f.first_out), 0)
                   FROM f LEFT JOIN r ON r.prospect_id = f.prospect_id""",
               [p.start_utc, p.end_utc, *po, p.start_utc]).fetchone()
    opened = [row for row in funnel if row["kind"] == "open"]
    open_values = currency.totals((c, v) for row in opened for c, v in row["values"].items())
    won, lost = deals["won"] or 0, deals["lost"] or 0
    sent = act.get("email_out", 0)
    received = sum(act.get(k, 0) for k in ("email_in", "auto_reply", "bounce"))
    kpis = {
        "period_start": p.start.isoformat(), "period_end": p.end.isoformat(), "days": p.days,
        "tz": p.tz, "owner": owner, "new_prospects": deals["new"] or 0, "won": won,
        "lost": lost, "won_value": None if len(won_values) > 1 else deals["won_value"],
        "won_values": won_values, "currency": base, "win_rate": _ratio(won, won + lost),
        "median_cycle_days": _round(cycle["median"] if cycle else None),
        "p90_cycle_days": _round(cycle["p90"] if cycle else None),
        "open_prospects": sum(row["prospects"] for row in opened),
        "open_value": None if len(open_values) > 1 else sum(open_values.values()) or 0.0,
        "open_values": open_values,

        "stale_prospects": sum(row["stale"] for row in opened), "stale_days": stale_days,
        "emails_sent": sent, "emails_received": received,
        "replies": act.get("email_in", 0), "auto_replies": act.get("auto_reply", 0),
        "bounces": act.get("bounce", 0), "calls": act.get("call", 0),
        "meetings": act.get("meeting", 0),
        "reply_rate": _ratio(act.get("email_in"), sent),
        "bounce_rate": _ratio(act.get("bounce"), sent),
        "prospects_emailed": people[0], "prospects_replied": people[1],
        "prospect_reply_rate": _ratio(people[1], people[0]),
    }
    for row in funnel:
        row.pop("stale")
    return {"funnel": funnel, "kpis": kpis}


def funnel(conn: sqlite3.Connection, *, days: int, owner: str | None = None,
           today: date | None = None) -> list[dict[str, Any]]:
    """The funnel rows of ``summary``."""
    return summary(conn, days=days, owner=owner, today=today)["funnel"]


def kpis(conn: sqlite3.Connection, *, days: int, owner: str | None = None,
         stale_days: int = 14, today: date | None = None) -> dict[str, Any]:
    """The KPIs of ``summary``: new prospects, won, lost, win rate, sales cycle, open pipeline
    now, stale prospects now, email counts and rates, calls and meetings."""
    return summary(conn, days=days, owner=owner, stale_days=stale_days, today=today)["kpis"]


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round((part or 0) / whole, 4) if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def weekly_trend(conn: sqlite3.Connection, *, weeks: int = 8, owner: str | None = None,
                 today: date | None = None) -> list[dict[str, Any]]:
    """The last ``weeks`` weeks (Monday to Sunday, local, the current one included) from the
    rollup's ``weekly_trends`` view, oldest first; weeks without rows are zeros."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 520:
        raise InvalidValue("--weeks", weeks, "must be a whole number from 1 to 520")
    owner = check_owner(conn, owner)
    end = today or datetime.now(zone()).date()
    monday = end - timedelta(days=end.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    cond = "owner IS NULL" if owner is None else "owner = ?"
    found = {r["week"]: dict(r) for r in conn.execute(
        f"SELECT * FROM weekly_trends WHERE week >= ? AND week <= ? AND {cond}",
        [first.isoformat(), monday.isoformat(), *([] if owner is None else [owner])])}
    columns = [d[1] for d in conn.execute("PRAGMA table_info(weekly_trends)")]
    out = []
    for n in range(weeks):
        week = (first + timedelta(weeks=n)).isoformat()
        row = found.get(week) or {c: 0 for c in columns} | {
            "week": week, "week_end": (first + timedelta(weeks=n, days=6)).isoformat(),
            "owner": owner, "win_rate": None, "reply_rate": None, "bounce_rate": None}
        out.append(row)
    return out
