"""``salescli forecast``: per open deal with a value, the chance it is won within the horizon
and when; summed per period with an 80 % interval, beside the stage-weighted figure.

The as-of date is a local day in ``SALESCLI_TZ``: the forecast knows everything up to the
end of that day, and nothing after it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from salescli.core.currency import default_currency
from salescli.core.errors import InvalidValue, NotFound
from salescli.forecast import sums
from salescli.forecast.history import History, day_end, zone
from salescli.forecast.model import Model, fit, raw

BY = ("month", "week", "owner", "stage")
_HORIZON = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.I)
LEVEL = 0.8


@dataclass(frozen=True)
class Window:
    """The as-of day and the horizon: local days, their ends as Unix times, the zone."""

    as_of: date
    end: date  # the last local day of the horizon
    tz: Any
    horizon: str

    @property
    def days(self) -> int:
        return (self.end - self.as_of).days

    @property
    def cutoff(self) -> float:
        return day_end(self.as_of, self.tz)

    @property
    def stop(self) -> float:
        return day_end(self.end, self.tz)


def today_local(tz: Any = None) -> date:
    """Today in ``SALESCLI_TZ``."""
    return datetime.now(tz or zone()).date()


def parse_as_of(value: str | date | None, today: date) -> date:
    """``--as-of``: a day ``YYYY-MM-DD`` not after today (default today)."""
    if value is None:
        return today
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidValue("--as-of", value, "is not a date (use YYYY-MM-DD)") from None
    if day > today:
        raise InvalidValue("--as-of", str(value), f"is after today ({today.isoformat()})")
    return day


def window(as_of: date, horizon: str, tz: Any = None) -> Window:
    """The horizon after ``as_of``: ``30d``, ``90d``, ``12w`` or ``QUARTER`` (to the end of
    the calendar quarter holding the day after ``as_of``)."""
    tz = tz or zone()
    text = str(horizon).strip()
    if text.upper() == "QUARTER":
        nxt = as_of + timedelta(days=1)
        q_end_month = (nxt.month - 1) // 3 * 3 + 3
        first_after = date(nxt.year + (q_end_month == 12), q_end_month % 12 + 1, 1)
        return Window(as_of, first_after - timedelta(days=1), tz, "QUARTER")
    match = _HORIZON.match(text)
    if not match or not 1 <= int(match.group(1)) * (7 if match.group(2).lower() == "w"
                                                     else 1) <= 730:
        raise InvalidValue("--horizon", horizon,
                           "is not a horizon (use 30d, 90d, 12w or QUARTER; at most 730 days)")
    n = int(match.group(1)) * (7 if match.group(2).lower() == "w" else 1)
    return Window(as_of, as_of + timedelta(days=n), tz, f"{n}d")


def period_key(day: date, by: str) -> str:
    """The month (``YYYY-MM``) or week (its Monday) a day falls in."""
    if by == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.strftime("%Y-%m")


def score(history: History, model: Model, w: Window, owner: str | None = None,
          ) -> list[dict[str, Any]]:
    """Each deal open at the as-of cutoff with a value: probability, stage rate, close day."""
    out = []
    base = default_currency()
    states = [s for s in history.snapshot(w.cutoff)
              if s.value is not None and s.value > 0 and (owner is None or s.owner == owner)]
    rows = [raw(s, w.cutoff) for s in states]
    for s, r, p in zip(states, rows, model.predict(rows), strict=True):
        close = w.as_of + timedelta(days=max(1, round(model.close_in_days(s.stage))))
        out.append({"prospect_id": s.deal.id, "email": s.deal.email, "owner": s.owner,
                    "stage": s.stage, "value": s.value, "currency": s.deal.currency or base,
                    "probability": round(p, 4),
                    "stage_rate": round(model.stage_rate(s.stage), 4),
                    "expected_close": min(close, w.end).isoformat(), "_raw": r,
                    "_p": p})
    return out


def summarise(deals: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """Expected count and value won, their 80 % intervals and the stage-weighted figures."""
    probs = [d["_p"] for d in deals]
    values = [d["value"] for d in deals]
    clo, chi = sums.count_interval(probs, LEVEL)
    vlo, vhi = sums.value_interval(probs, values, LEVEL)
    return {"period": key, "deals": len(deals), "open_value": round(sum(values), 2),
            "expected_count": round(sum(probs), 2), "count_low": clo, "count_high": chi,
            "expected_value": round(sum(p * v for p, v in zip(probs, values, strict=True)), 2),
            "value_low": vlo, "value_high": vhi,
            "stage_weighted_count": round(sum(d["stage_rate"] for d in deals), 2),
            "stage_weighted_value": round(sum(d["stage_rate"] * d["value"] for d in deals), 2)}


def group(deals: Sequence[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Per period (month, week) or per owner or stage, then a ``total`` row; each of them
    once per currency (values in two currencies are never summed into one figure)."""
    if by not in BY:
        raise InvalidValue("--by", by, "must be one of " + ", ".join(BY))
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    totals: dict[str, list[dict[str, Any]]] = {}
    for d in deals:
        if by in ("month", "week"):
            k = period_key(date.fromisoformat(d["expected_close"]), by)
        else:
            k = d[by]
        groups.setdefault((k, d["currency"]), []).append(d)
        totals.setdefault(d["currency"], []).append(d)
    rows = [{**summarise(groups[k], k[0]), "currency": k[1]} for k in sorted(groups)]
    rows += [{**summarise(totals[c], "total"), "currency": c} for c in sorted(totals)] \
        or [{**summarise([], "total"), "currency": default_currency()}]
    return rows



def check_owner(conn: sqlite3.Connection, owner: str | None) -> str | None:
    """The owner as given if someone ever owned a prospect under that name."""
    if owner is None:
        return None
    found = conn.execute("SELECT 1 FROM prospects WHERE coalesce(owner, '') = ? UNION ALL"
                         " SELECT 1 FROM stage_changes WHERE coalesce(owner, '') = ? LIMIT 1",
                         (owner, owner)).fetchone()
    if not found:
        raise InvalidValue("--owner", owner, "owns no prospect")
    return owner


def forecast(conn: sqlite3.Connection, *, as_of: str | date | None = None,
             horizon: str = "90d", by: str = "month", owner: str | None = None,
             today: date | None = None, history: History | None = None,
             min_closed: int | None = None) -> dict[str, Any]:
    """The forecast as of a local day: model used, rows per period with a total, deals."""
    tz = zone()
    if by not in BY:
        raise InvalidValue("--by", by, "must be one of " + ", ".join(BY))
    w = window(parse_as_of(as_of, today or today_local()), horizon,  # today in tz
               tz,  # pragma: no mutate: tz is zone(), window's own default
               )
    owner = check_owner(conn, owner)
    history = history or History(conn)
    model = fit(history, w.cutoff, w.days, day=w.as_of.isoformat(),
                **({} if min_closed is None else {"min_closed": min_closed}))
    deals = score(history, model, w, owner)
    return {"as_of": w.as_of.isoformat(), "horizon": w.horizon,
            "horizon_end": w.end.isoformat(), "tz": tz.key, "owner": owner,
            "model": {"kind": model.kind, "note": model.note, "closed_deals": model.closed,
                      "training_rows": model.rows},
            "rows": group(deals, by), "by": by,
            "prospects": [public(d) for d in deals], "_model": model, "_deals": deals}


def public(deal: dict[str, Any]) -> dict[str, Any]:
    """A scored deal without its private fields."""
    return {k: v for k, v in deal.items() if not k.startswith("_")}


def explain(conn: sqlite3.Connection, key: str, *, as_of: str | date | None = None,
            horizon: str = "90d", today: date | None = None) -> dict[str, Any]:
    """One prospect's probability and what moved it, factor by factor."""
    text = str(key).strip()
    row = conn.execute("SELECT id FROM prospects WHERE " + (
        "id = ?" if text.isdigit() else "email = ?"),
        (int(text) if text.isdigit() else text.lower(),)).fetchone()
    if row is None:
        raise NotFound("prospect", key)
    result = forecast(conn, as_of=as_of, horizon=horizon, today=today)
    deal = next((d for d in result["_deals"] if d["prospect_id"] == row[0]), None)
    if deal is None:
        raise InvalidValue("--explain", key, f"was not an open deal with a value on "
                           f"{result['as_of']}")
    model: Model = result["_model"]
    return {"prospect": public(deal), "as_of": result["as_of"], "horizon": result["horizon"],
            "model": result["model"], "overall_rate": round(model.overall, 4),
            "factors": model.explain(deal["_raw"])}
