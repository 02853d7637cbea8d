"""What the reports show. Funnel, KPIs and weekly trend come from ``salescli.metrics`` (the
same numbers ``salescli metrics`` prints and the dashboard reads); the named lists (deals,
replies, bounces, stale prospects) are SQL over base tables and the metrics views.

Every function returns plain dicts and lists, so templates (bundled or a user's) see the
same shapes whatever the format.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from typing import Any

from salescli.core.enums import InteractionKind, StageKind
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import parse_day
from salescli.metrics import live, rollup
from salescli.metrics.days import Period, period, zone

TREND_WEEKS = 8
LIST_LIMIT = 15
MAX_DAYS = 366

def make_period(days: Any = 7, until: str | date | None = None) -> Period:
    """The ``days`` whole local days ending ``until`` (default: yesterday, the last
    complete day), in ``SALESCLI_TZ``."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidValue("--days", days, f"must be between 1 and {MAX_DAYS}")
    if until is None:
        end = datetime.now(zone()).date() - timedelta(days=1)
    elif isinstance(until, date):
        end = until
    else:
        end = date.fromisoformat(parse_day(until, "--until"))
    return period(days, today=end)


def period_dict(p: Period) -> dict[str, Any]:
    """The period as templates see it."""
    return {"start": p.start.isoformat(), "end": p.end.isoformat(), "days": p.days,
            "tz": p.tz, "start_utc": p.start_utc, "end_utc": p.end_utc}


def check_owner(conn: sqlite3.Connection, owner: str) -> str:
    """The owner as given, or InvalidValue listing the owners there are."""
    return live.check_owner(conn, owner)


def owners(conn: sqlite3.Connection, p: Period) -> list[str]:
    """Everyone who owns a live prospect now or was the owner of something that happened
    in the period ('' = unassigned), in name order with unassigned last."""
    rows = conn.execute(
        "SELECT coalesce(owner, '') FROM prospects WHERE archived_at IS NULL"
        " UNION SELECT coalesce(owner, '') FROM interactions"
        "  WHERE occurred_at >= :a AND occurred_at < :b"
        " UNION SELECT coalesce(owner, '') FROM stage_changes WHERE at >= :a AND at < :b",
        {"a": p.start_utc, "b": p.end_utc}).fetchall()
    return sorted((r[0] for r in rows), key=lambda o: (o == "", o.lower(), o))


def funnel(conn: sqlite3.Connection, p: Period, owner: str | None = None,
           ) -> list[dict[str, Any]]:
    """Per stage: prospects and value now; stays entered, exited and advanced in the period
    (``live.funnel``)."""
    return live.funnel(conn, days=p.days, owner=owner, today=p.end)


def kpis(conn: sqlite3.Connection, p: Period, owner: str | None = None, stale_days: int = 14,
         ) -> dict[str, Any]:
    """The headline numbers of the period and the open pipeline now (``live.kpis``)."""
    return live.kpis(conn, days=p.days, owner=owner, stale_days=stale_days, today=p.end)


def trends(conn: sqlite3.Connection, p: Period, weeks: int = TREND_WEEKS,
           ) -> dict[str | None, list[dict[str, Any]]]:
    """Monday-to-Sunday weeks up to the one holding the period's last day, from the
    rollup's ``weekly_trends`` view (what ``live.weekly_trend`` reads), for every owner
    at once (key None: everyone); oldest first, each with ``start``, ``end``, ``label``.

    One query for all owners: the view computes every week and owner whatever the filter.
    """
    last = p.end - timedelta(days=p.end.weekday())
    starts = [last - timedelta(weeks=weeks - 1 - n) for n in range(weeks)]
    cur = conn.execute("SELECT * FROM weekly_trends WHERE week BETWEEN ? AND ?",
                       (starts[0].isoformat(), last.isoformat()))
    columns = [d[0] for d in cur.description]
    found: dict[str | None, dict[str, dict[str, Any]]] = {None: {}}
    for r in cur:
        found.setdefault(r["owner"], {})[r["week"]] = dict(r)
    out = {}
    for owner, rows in found.items():
        out[owner] = [_week(rows.get(w.isoformat()), w, owner, columns) for w in starts]
    return out


def _week(row: dict[str, Any] | None, start: date, owner: str | None,
          columns: list[str]) -> dict[str, Any]:
    if row is None:  # no activity that week: zeros, undefined rates
        row = {c: 0 for c in columns} | {
            "week": start.isoformat(), "week_end": (start + timedelta(days=6)).isoformat(),
            "owner": owner, "win_rate": None, "reply_rate": None, "bounce_rate": None}
    return row | {"start": row["week"], "end": row["week_end"],
                  "label": start.strftime("%d %b")}


def trend_for(trends_by_owner: dict[str | None, list[dict[str, Any]]], owner: str | None,
              ) -> list[dict[str, Any]]:
    """One owner's weeks from ``trends`` (None: everyone); zeros if they had no activity."""
    if owner in trends_by_owner:
        return trends_by_owner[owner]
    everyone = trends_by_owner[None]
    columns = [c for c in everyone[0] if c not in ("start", "end", "label")]
    return [_week(None, date.fromisoformat(w["week"]), owner, columns) for w in everyone]


_PERSON = "p.id AS prospect_id, p.email, p.name, p.company"


def won_deals(conn: sqlite3.Connection, p: Period, owner: str | None = None,
              ) -> list[dict[str, Any]]:
    """Moves into a won stage during the period, with the value and owner at that moment."""
    cond, params = live.owner_cond("sc.owner", owner)
    return [dict(r) for r in conn.execute(
        f"SELECT sc.at, {_PERSON}, coalesce(sc.owner, '') AS owner, sc.value, p.currency,"
        " sc.reason"
        " FROM stage_changes sc JOIN stages s ON s.id = sc.to_stage_id"
        " JOIN prospects p ON p.id = sc.prospect_id"
        f" WHERE s.kind = ? AND sc.at >= ? AND sc.at < ?{cond} ORDER BY sc.at LIMIT ?",
        [StageKind.WON.value, p.start_utc, p.end_utc, *params, LIST_LIMIT])]


# ``currency``: the prospect's own, NULL for the default (the ``money`` filter knows it).
_IDLE = ("SELECT prospect_id, email, name, company, owner, stage, value,"
         " (SELECT currency FROM prospects WHERE id = prospect_id) AS currency,"
         " last_touch_at AS last_touch, idle_days FROM open_prospects_idle")



def top_deals(conn: sqlite3.Connection, owner: str | None = None, limit: int = 10,
              ) -> list[dict[str, Any]]:
    """The largest open deals right now (the ``open_prospects_idle`` view)."""
    cond, params = live.owner_cond("owner", owner)
    return [dict(r) for r in conn.execute(
        f"{_IDLE} WHERE value > 0{cond} ORDER BY value DESC, prospect_id LIMIT ?",
        [*params, limit])]


def stale(conn: sqlite3.Connection, stale_days: int, owner: str | None = None,
          limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """Open prospects idle (no interaction, no stage move) for ``stale_days`` or more,
    idlest first (the ``open_prospects_idle`` view)."""
    cond, params = live.owner_cond("owner", owner)
    return [dict(r) for r in conn.execute(
        f"{_IDLE} WHERE idle_days >= ?{cond} ORDER BY idle_days DESC, prospect_id LIMIT ?",
        [stale_days, *params, limit])]


def interactions(conn: sqlite3.Connection, p: Period, owner: str | None = None,
                 kinds: tuple[InteractionKind, ...] | None = None, limit: int = LIST_LIMIT,
                 ) -> list[dict[str, Any]]:
    """Interactions in the period, newest first, with the owner at the time."""
    cond, params = live.owner_cond("i.owner", owner)
    if kinds:
        cond += f" AND i.kind IN ({', '.join('?' * len(kinds))})"
        params += [k.value for k in kinds]
    return [dict(r) for r in conn.execute(
        f"SELECT i.occurred_at, i.kind, i.subject, coalesce(i.owner, '') AS owner, {_PERSON}"
        " FROM interactions i JOIN prospects p ON p.id = i.prospect_id"
        f" WHERE i.occurred_at >= ? AND i.occurred_at < ?{cond}"
        " ORDER BY i.occurred_at DESC, i.id DESC LIMIT ?",
        [p.start_utc, p.end_utc, *params, limit])]


def bounced(conn: sqlite3.Connection, p: Period, owner: str | None = None,
            ) -> list[dict[str, Any]]:
    """Addresses that bounced during the period, with their current status."""
    cond, params = live.owner_cond("i.owner", owner)
    return [dict(r) for r in conn.execute(
        f"SELECT max(i.occurred_at) AS at, {_PERSON}, coalesce(p.owner, '') AS owner,"
        " p.email_status, p.bounce_reason"
        " FROM interactions i JOIN prospects p ON p.id = i.prospect_id"
        f" WHERE i.kind = ? AND i.occurred_at >= ? AND i.occurred_at < ?{cond}"
        " GROUP BY p.id ORDER BY at DESC LIMIT ?",
        [InteractionKind.BOUNCE.value, p.start_utc, p.end_utc, *params, LIST_LIMIT])]


def sequence_steps(conn: sqlite3.Connection, p: Period) -> list[dict[str, Any]]:
    """Per sequence and mail step with activity in the period: sent, replied, bounced,
    unsubscribed, reply rate (``salescli metrics --sequences``)."""
    from salescli.metrics import sequences

    return [r for r in sequences.by_step(conn, start=p.start_utc, end=p.end_utc)
            if r["sent"] or r["replied"] or r["bounced"] or r["unsubscribed"]]


def owner_table(conn: sqlite3.Connection, p: Period, names: list[str], stale_days: int,
                ) -> list[dict[str, Any]]:
    """One row of KPIs per owner."""
    return [{"owner": name, **kpis(conn, p, name, stale_days)} for name in names]


def rollup_status(conn: sqlite3.Connection, p: Period) -> dict[str, Any]:
    """Whether the nightly rollup (which the weekly trend reads) covers the period."""
    state = rollup.rollup_status(conn)
    last_day = state["last_day"] if state else None
    tz = state["tz"] if state else None
    return {"last_run": state["started_at"] if state else None, "last_day": last_day, "tz": tz,
            "complete": bool(last_day and last_day >= p.end.isoformat() and tz == p.tz)}


def forecast_months(conn: sqlite3.Connection, p: Period) -> list[dict[str, Any]]:
    """Forecast band vs actual won value by month up to the period's end, then the months
    ahead (``salescli.forecast``; fits the model, so scikit-learn loads here)."""
    from salescli.forecast.backtest import monthly_bands

    return monthly_bands(conn, p.end)
