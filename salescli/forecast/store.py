"""The stored forecast the dashboard and ``salescli metrics`` read without scikit-learn,
written by ``refresh`` (the nightly job), and stage outlooks from the history alone.

Tables (migrations m007, m014): ``forecast_deals`` (one row per scored open deal),
``forecast_periods`` (per owner — NULL for everyone —, month and currency, ``total`` for the whole
horizon), ``forecast_stages`` (the stage outlook per owner, NULL for everyone),
``forecast_state`` (one row: as-of day, horizon, model, when refreshed).
Derived data like the metrics rollup: replaced whole, no audit rows.
"""

from __future__ import annotations

import sqlite3
import statistics
from bisect import bisect_right
from datetime import date
from typing import Any

from salescli.core.db import transaction
from salescli.core.enums import StageKind
from salescli.core.timeutil import now
from salescli.forecast.history import History, days

_PERIOD_COLS = ("deals", "expected_count", "count_low", "count_high", "expected_value",
                "value_low", "value_high", "stage_weighted_value")


def refresh(conn: sqlite3.Connection, *, horizon: str = "90d", today: date | None = None,
            ) -> dict[str, Any]:
    """Forecast as of today and replace the stored forecast in one transaction; counts.
    With no closed deal yet, the stored forecast is empty and its note says why (the
    nightly job does not fail on a new database)."""
    from salescli.forecast.model import NotEnoughHistory
    from salescli.forecast.outlook import forecast, group

    history = History(conn)  # read once: the forecast and the stage outlook
    try:
        result = forecast(conn, horizon=horizon, today=today, history=history)
    except NotEnoughHistory as exc:
        result = _without_forecast(horizon, today, exc)
    deals = result["_deals"]
    periods: list[tuple[str | None, dict[str, Any]]] = [(None, r) for r in result["rows"]]
    for owner in sorted({d["owner"] for d in deals}):
        periods += [(owner, r) for r in group([d for d in deals if d["owner"] == owner],
                                              "month")]
    outlooks = _outlooks(history)
    with transaction(conn):
        conn.execute("DELETE FROM forecast_deals")
        conn.execute("DELETE FROM forecast_periods")
        conn.execute("DELETE FROM forecast_stages")
        conn.executemany("INSERT INTO forecast_stages VALUES (?, ?, ?, ?, ?)", [
            (owner, sid, *counts) for owner, tally in outlooks.items()
            for sid, counts in tally.items()])
        conn.executemany(
            "INSERT INTO forecast_deals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(d["prospect_id"], d["owner"], d["stage"], d["value"], d["probability"],
              d["stage_rate"], d["expected_close"], d["expected_close"][:7]) for d in deals])
        conn.executemany(
            f"INSERT INTO forecast_periods(owner, month, currency, {', '.join(_PERIOD_COLS)})"
            f" VALUES (?, ?, ?{', ?' * len(_PERIOD_COLS)})",
            [(owner, r["period"], r["currency"], *(r[c] for c in _PERIOD_COLS))
             for owner, r in periods])
        conn.execute(
            "INSERT OR REPLACE INTO forecast_state VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result["as_of"], result["horizon"], result["horizon_end"], result["tz"],
             result["model"]["kind"], result["model"]["note"],
             result["model"]["closed_deals"], now()))
    return {"deals": len(deals), "periods": len(periods), "model": result["model"]["kind"],
            "as_of": result["as_of"]}


def _without_forecast(horizon: str, today: date | None, exc: Any) -> dict[str, Any]:
    """What ``refresh`` stores when there is no history to forecast from: no rows, and the
    reason as the model's note."""
    from salescli.core.timeutil import zone
    from salescli.forecast.outlook import today_local, window

    tz = zone()
    w = window(today or today_local(tz), horizon, tz)  # pragma: no mutate (tz = the default)
    return {"as_of": w.as_of.isoformat(), "horizon": w.horizon,
            "horizon_end": w.end.isoformat(), "tz": tz.key, "rows": [], "_deals": [],
            "model": {"kind": "none", "note": str(exc),
                      "closed_deals": exc.closed}}


def stored(conn: sqlite3.Connection, owner: str | None = None) -> dict[str, Any] | None:
    """The last refreshed forecast (state and month rows for ``owner``, None = everyone),
    or None if it has never been refreshed."""
    state = conn.execute("SELECT * FROM forecast_state WHERE id = 1").fetchone()
    if state is None:
        return None
    rows = conn.execute(
        "SELECT month AS period, * FROM forecast_periods WHERE owner IS ?"
        " ORDER BY month = 'total', month, currency", (owner,)).fetchall()
    return {"state": dict(state), "rows": [{k: r[k] for k in ("period", "currency",
                                                              *_PERIOD_COLS)} for r in rows]}



def stage_outlook(conn: sqlite3.Connection, owner: str | None = None,
                  history: History | None = None) -> list[dict[str, Any]]:
    """Per open stage, over deals that entered it (with ``owner`` on the change, None:
    anyone) and have since closed: the share won "from here" and the median days from
    entering the stage to the win. Replays the whole history: ``stored_outlook`` reads
    what the nightly refresh kept."""
    history = history or History(conn, mail=False)
    return _rows(conn, history.stages, _outlooks(history).get(owner, {}))


def stored_outlook(conn: sqlite3.Connection, owner: str | None = None
                   ) -> list[dict[str, Any]] | None:
    """``stage_outlook`` as of the last refresh, or None if there has been none."""
    if conn.execute("SELECT 1 FROM forecast_state WHERE id = 1").fetchone() is None:
        return None
    stages = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
        "SELECT id, name, kind, position FROM stages")}
    kept = {sid: (closed, won, median) for sid, closed, won, median in conn.execute(
        "SELECT stage_id, closed_since, won, median_days_to_win FROM forecast_stages"
        " WHERE owner IS ?", (owner,))}
    return _rows(conn, stages, kept)


_Tally = dict[int, tuple[int, int, float | None]]  # stage id → (closed since, won, median)


def _outlooks(history: History) -> dict[str | None, _Tally]:
    """The stage outlook of every owner of a change ("" for none) and of all (None), in
    one pass over the history."""
    won_after: dict[tuple[str | None, int], list[int]] = {}
    wins: dict[tuple[str | None, int], list[float]] = {}
    for d in history.deals.values():
        closes = [(at, c[0]) for at, c in zip(d.change_at, d.changes, strict=True)
                  if c[0] in history.won or c[0] in history.lost]
        seen: set[tuple[str | None, int]] = set()
        for at, (stage_id, chg_owner, _) in zip(d.change_at, d.changes, strict=True):
            if history.stages[stage_id][1] != StageKind.OPEN:
                continue
            j = bisect_right([c[0] for c in closes], at)
            for key in ((None, stage_id), (chg_owner or "", stage_id)):
                if key in seen:
                    continue
                seen.add(key)
                if j < len(closes):
                    close_at, close_stage = closes[j]
                    won = close_stage in history.won
                    won_after.setdefault(key, []).append(int(won))
                    if won:
                        wins.setdefault(key, []).append(days(close_at - at))
    out: dict[str | None, _Tally] = {}
    for (owner, sid), closed in won_after.items():
        median = round(statistics.median(wins[owner, sid]), 1) \
            if wins.get((owner, sid)) else None
        out.setdefault(owner, {})[sid] = (len(closed), sum(closed), median)
    return out


def _rows(conn: sqlite3.Connection, stages: dict[int, tuple[str, str, int]],
          tally: _Tally) -> list[dict[str, Any]]:
    """The outlook rows of the live open stages, in pipeline order."""
    live = {r[0] for r in conn.execute("SELECT id FROM stages WHERE removed_at IS NULL")}
    out = []
    for sid, (name, kind, _) in sorted(stages.items(), key=lambda x: x[1][2]):
        if kind != StageKind.OPEN or sid not in live:
            continue
        closed, won, median = tally.get(sid, (0, 0, None))
        out.append({"stage": name, "closed_since": closed,
                    "win_rate": round(won / closed, 4) if closed else None,
                    "median_days_to_win": median})
    return out
