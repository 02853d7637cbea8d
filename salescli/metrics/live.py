"""Pipeline analytics read live from the base tables: the summary, funnel and KPIs of a
period and the weekly trend that the CLI and the reports show (the nightly rollup, which
writes the metrics tables, is ``salescli.metrics.rollup``)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from typing import Any

from salescli.core import currency
from salescli.core.currency import default_currency
from salescli.core.enums import InteractionKind
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.metrics.days import period, zone
from salescli.metrics.rollup import PREV


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
                         SELECT w.to_stage_id FROM stage_changes w WHERE w.id = {PREV.format('v')})
                     THEN v.at ELSE (
                         SELECT min(y.at) FROM stage_changes y
                         WHERE y.prospect_id = v.prospect_id AND y.to_stage_id = v.to_stage_id
                           AND (y.at, y.id) <= (v.at, v.id) AND y.at >= coalesce((
                               SELECT max(z.at) FROM stage_changes z
                               WHERE z.prospect_id = v.prospect_id
                                 AND z.to_stage_id != v.to_stage_id
                                 AND (z.at, z.id) < (v.at, v.id)), '')) END) AS prev_days
          FROM stage_changes c LEFT JOIN prospects p ON p.id = c.prospect_id
          LEFT JOIN stage_changes v ON v.id = {PREV.format('c')}
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
    cout, pout = owner_cond("prev_owner", owner)  # pragma: no mutate: a column name's case
    q = conn.execute
    q("DROP TABLE IF EXISTS temp.mx_moves")  # pragma: no mutate: SQL case (DROP: not for the rule)
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
    q("DROP TABLE temp.mx_moves")  # pragma: no mutate: SQL case (DROP: not for the rule)
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
    # owner IS ?: the all-owners rows (NULL) when owner is None, else that owner's
    rows = conn.execute(
        "SELECT * FROM weekly_trends WHERE week >= ? AND week <= ? AND owner IS ?",
        [first.isoformat(), monday.isoformat(), owner])
    columns = [d[0] for d in rows.description]
    found = {r["week"]: r for r in map(dict, rows)}  # dicts: a key's case matters
    out = []
    for n in range(weeks):
        week = (first + timedelta(weeks=n)).isoformat()
        row = found.get(week) or {c: 0 for c in columns} | {
            "week": week, "week_end": (first + timedelta(weeks=n, days=6)).isoformat(),
            "owner": owner, "win_rate": None, "reply_rate": None, "bounce_rate": None}
        out.append(row)
    return out
