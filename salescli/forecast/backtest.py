"""``salescli forecast backtest``: rebuild the pipeline as it stood on a past day, forecast it
with what was known then, and score the forecast against what happened in the horizon —
beside two baselines fitted in the same run (one overall win rate; per-stage rates).
"""

from __future__ import annotations

import math
import sqlite3
from datetime import date, timedelta
from typing import Any

from salescli.core import currency
from salescli.core.currency import default_currency
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import zone
from salescli.forecast.history import History
from salescli.forecast.model import MIN_HISTORY, fit, raw
from salescli.forecast.outlook import parse_as_of, today_local, window

PREDICTORS = ("model", "stage_rates", "overall_rate")
BANDS = 10
EPS = 1e-6


def brier(probs: list[float], outcomes: list[int]) -> float | None:
    """Mean squared difference between probability and outcome (0 is perfect)."""
    if not probs:
        return None
    return sum((p - y) ** 2 for p, y in zip(probs, outcomes, strict=True)) / len(probs)


def log_loss(probs: list[float], outcomes: list[int]) -> float | None:
    """Mean negative log-likelihood of the outcomes (probabilities clipped to 1e-6)."""
    if not probs:
        return None
    total = 0.0
    for p, y in zip(probs, outcomes, strict=True):
        p = min(max(p, EPS), 1 - EPS)
        total -= math.log(p) if y else math.log(1 - p)
    return total / len(probs)


def calibration(probs: list[float], outcomes: list[int], bands: int = BANDS,
                ) -> list[dict[str, Any]]:
    """Per band of predicted probability (0-10 %, …): deals, mean predicted, actual share."""
    rows = []
    for b in range(bands):
        lo, hi = b / bands, (b + 1) / bands
        idx = [i for i, p in enumerate(probs) if lo <= p < hi or (b == bands - 1 and p == 1)]
        if not idx:
            continue
        rows.append({"band": f"{round(100 * lo)}-{round(100 * hi)}%", "deals": len(idx),
                     "predicted": round(sum(probs[i] for i in idx) / len(idx), 4),
                     "actual": round(sum(outcomes[i] for i in idx) / len(idx), 4)})
    return rows


def _round(x: float | None, n: int = 4) -> float | None:
    return None if x is None else round(x, n)


def run(history: History, as_of: date, horizon: str, tz: Any, today: date) -> dict[str, Any]:
    """One backtest as of a local day, on a history already read."""
    w = window(as_of, horizon,
               tz,  # pragma: no mutate: tz is zone(), window's own default
               )
    if w.end >= today:
        raise InvalidValue("--as-of", as_of.isoformat(),
                           f"is too recent: its {w.horizon} horizon ends {w.end.isoformat()},"
                           " which is not over yet")
    model = fit(history, w.cutoff, w.days, day=w.as_of.isoformat())
    states = history.snapshot(w.cutoff)
    base = default_currency()
    rows = [raw(s, w.cutoff) for s in states]
    outcomes = [int(history.won_within(s.deal, w.cutoff, w.stop) is not None) for s in states]
    preds = {"model": model.predict(rows),
             "stage_rates": [model.stage_rate(r["stage"]) for r in rows],
             "overall_rate": [model.overall] * len(rows)}
    values = [s.value or 0.0 for s in states]
    actual_value = sum(v for v, y in zip(values, outcomes, strict=True) if y)
    codes = [s.deal.currency or base for s in states]  # values per currency, never mixed
    actual_values = currency.totals(
        (c, v) for c, v, y in zip(codes, values, outcomes, strict=True) if y)
    mixed = len(set(codes)) > 1
    scores = []
    for name in PREDICTORS:
        p = preds[name]
        scores.append({"predictor": name, "brier": _round(brier(p, outcomes)),
                       "log_loss": _round(log_loss(p, outcomes)),
                       "forecast_count": round(sum(p), 2), "actual_count": sum(outcomes),
                       "forecast_value": None if mixed else round(
                           sum(a * v for a, v in zip(p, values, strict=True)), 2),
                       "actual_value": None if mixed else round(actual_value, 2),
                       "forecast_values": currency.totals(
                           (c, a * v) for c, a, v in zip(codes, p, values, strict=True)),
                       "actual_values": actual_values})
    return {"as_of": w.as_of.isoformat(), "horizon": w.horizon,
            "horizon_end": w.end.isoformat(), "tz": tz.key, "deals": len(states),
            "model": {"kind": model.kind, "note": model.note, "closed_deals": model.closed,
                      "training_rows": model.rows},
            "scores": scores, "calibration": calibration(preds["model"], outcomes)}


def backtest(conn: sqlite3.Connection, *, as_of: str | date, horizon: str = "90d",
             today: date | None = None, history: History | None = None) -> dict[str, Any]:
    """Backtest as of ``as_of`` (a local day in ``SALESCLI_TZ``) over ``horizon``."""
    tz = zone()
    today = today or today_local()  # in zone(), as tz
    if as_of is None:
        raise InvalidValue("--as-of", "", "is required (a day whose horizon is over)")
    day = parse_as_of(as_of, today)
    return run(history or History(conn), day, horizon, tz, today)


def month_ends(first: date, last: date) -> list[date]:
    """The last day of each month from ``first``'s month to ``last`` (inclusive)."""
    out = []
    y, m = first.year, first.month
    while True:
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        end = nxt - timedelta(days=1)
        if end > last:
            return out
        if end >= first:
            out.append(end)
        y, m = nxt.year, nxt.month


def rolling(conn: sqlite3.Connection, *, as_of: str | date | None = None,
            horizon: str = "90d", today: date | None = None,
            history: History | None = None) -> dict[str, Any]:
    """The backtest at every month end from the first with closed history whose horizon is
    over, up to ``as_of`` (default: the latest possible): one row per month."""
    tz = zone()
    today = today or today_local()  # in zone(), as tz
    history = history or History(conn)
    if history.first is None:
        return {"horizon": horizon, "tz": tz.key, "series": []}
    from salescli.forecast.history import local_day

    last = parse_as_of(as_of, today) if as_of is not None else today
    series = []
    for day in month_ends(local_day(history.first, tz), last):
        w = window(day, horizon, tz)
        if w.end >= today:
            break
        if history.closed_by(w.cutoff) == 0:
            continue
        r = run(history, day, horizon, tz, today)
        row = {"as_of": r["as_of"], "deals": r["deals"], "model": r["model"]["kind"]}
        for s in r["scores"]:
            row[f"brier_{s['predictor']}"] = s["brier"]
        model = r["scores"][0]
        row.update(forecast_value=model["forecast_value"], actual_value=model["actual_value"],
                   forecast_count=model["forecast_count"], actual_count=model["actual_count"],
                   forecast_values=model["forecast_values"],
                   actual_values=model["actual_values"])

        series.append(row)
    return {"horizon": window(last, horizon, tz).horizon, "tz": tz.key, "series": series}


def monthly_bands(conn: sqlite3.Connection, end: date, *, months_back: int = 4,
                  months_ahead: int = 3, history: History | None = None,
                  ) -> list[dict[str, Any]]:
    """Forecast band vs actual by month, for the weekly report: each of the last
    ``months_back`` months ended by ``end`` forecast as of the day before it began (deals
    open then, their value won in the month, 80 % interval) beside what they actually won;
    then the next ``months_ahead`` months forecast as of ``end`` (no actual yet)."""
    from salescli.forecast import sums
    from salescli.forecast.outlook import Window, forecast

    tz = zone()
    history = history or History(conn)
    base = default_currency()
    out = []
    starts = []

    m = (end + timedelta(days=1)).replace(day=1)  # months before this one have ended
    for _ in range(months_back):
        m = (m - timedelta(days=1)).replace(day=1)
        starts.insert(0, m)
    if history.first is not None:
        for start in starts:
            last = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            w = Window(start - timedelta(days=1), last, tz,
                       "month",  # pragma: no mutate: a label nothing here reads
                       )
            if w.cutoff <= history.first or history.closed_by(w.cutoff) < MIN_HISTORY:
                continue
            model = fit(history, w.cutoff, w.days)
            states = [s for s in history.snapshot(w.cutoff) if s.value]
            probs = model.predict([raw(s, w.cutoff) for s in states])
            for code in sorted({s.deal.currency or base for s in states} or {base}):
                mine = [i for i, s in enumerate(states) if (s.deal.currency or base) == code]
                values = [states[i].value for i in mine]
                lo, hi = sums.value_interval([probs[i] for i in mine], values)
                actual = sum(states[i].value for i in mine if history.won_within(
                    states[i].deal, w.cutoff, w.stop) is not None)
                out.append({"month": start.strftime("%Y-%m"), "currency": code,
                            "expected": round(sum(probs[i] * states[i].value for i in mine),
                                              2),
                            "low": lo, "high": hi, "actual": round(actual, 2),
                            "model": model.kind})
    if history.closed_by(window(end, "90d", tz).cutoff) < MIN_HISTORY:
        return out
    ahead = forecast(  # as of end
        conn,  # pragma: no mutate: with a history given and no --owner, conn is not read
        horizon="90d", by="month", today=end, history=history)
    months = sorted({r["period"] for r in ahead["rows"] if r["period"] != "total"})
    for r in ahead["rows"]:
        if r["period"] in months[:months_ahead]:
            out.append({"month": r["period"], "currency": r["currency"],
                        "expected": r["expected_value"], "low": r["value_low"],
                        "high": r["value_high"], "actual": None,
                        "model": ahead["model"]["kind"]})
    return out
