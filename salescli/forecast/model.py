"""The win model: features of an open deal at a cutoff, training rows from past snapshots,
and a calibrated classifier (scikit-learn) or, with too little history, per-stage rates.

A training row is a deal open at a past snapshot ``s`` (monthly steps back from
``cutoff - horizon``), labelled won if it was won in ``(s, s + horizon]``; every such
window ends at or before the cutoff, so nothing after the cutoff is read. scikit-learn is
imported inside ``fit`` and ``Model`` methods only, so other commands never load it.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from salescli.core.enums import StageKind
from salescli.core.errors import SalescliError
from salescli.forecast.history import DAY, History, State, days

MIN_CLOSED = 50  # fewer closed deals than this: per-stage rates, not the learned model
MIN_HISTORY = 1  # fewer closed deals than this: no forecast at all (NotEnoughHistory)
SNAPSHOT_STEP_DAYS = 30
MAX_SNAPSHOTS = 36
DAY_BINS = (7, 14, 30, 60, 120, 240)
VALUE_BANDS = ((1000, "<1k"), (5000, "1k-5k"), (20000, "5k-20k"), (100000, "20k-100k"))
TOUCH_BINS = (0, 1, 3, 7)
# What --explain names, and the raw fields each factor covers.
FACTORS = {"stage": ("stage",), "days in stage": ("in_stage",), "age": ("age",),
           "owner": ("owner",), "source": ("source",), "tags": ("tags",),
           "value": ("value",), "replies": ("replied", "since_reply"),
           "touches sent": ("touches",), "bounced": ("bounced",), "out of office": ("ooo",)}


class NotEnoughHistory(SalescliError):
    """No deal was won or lost by the as-of day: there is no rate to forecast from."""

    def __init__(self, closed: int, day: str):
        self.closed = closed
        super().__init__(f"not enough history to forecast: {closed} deals won or lost by "
                         f"{day}, need at least {MIN_HISTORY} (the forecast learns from "
                         "closed deals)")


def _bin(x: float, edges: tuple) -> str:
    for e in edges:
        if x < e:
            return f"<{e}"
    return f"{edges[-1]}+"


def value_band(value: float | None) -> str:
    """The value band a deal falls in (``none`` without a value)."""
    if value is None:
        return "none"
    for top, name in VALUE_BANDS:
        if value < top:
            return name
    return "100k+"


def raw(s: State, cutoff: float) -> dict[str, Any]:
    """What the model knows of an open deal at ``cutoff``, in people's units."""
    return {"stage": s.stage, "in_stage": days(cutoff - s.entered),
            "age": days(cutoff - s.deal.created), "owner": s.owner,
            "source": s.deal.source or "", "tags": s.deal.tags, "value": s.value,
            "replied": s.replied,
            "since_reply": None if s.last_reply is None else days(cutoff - s.last_reply),
            "touches": s.touches, "bounced": s.bounced, "ooo": s.ooo}


def encode(r: dict[str, Any]) -> dict[str, Any]:
    """A raw row as model features: one-hot names, log durations, bins crossed with stage."""
    f: dict[str, Any] = {
        "stage": r["stage"], "stage_days": f"{r['stage']}|{_bin(r['in_stage'], DAY_BINS)}",
        "log_in_stage": math.log1p(r["in_stage"]), "log_age": math.log1p(r["age"]),
        "age_bin": _bin(r["age"], DAY_BINS), "owner": r["owner"], "source": r["source"],
        "value_band": value_band(r["value"]), "replied": float(r["replied"]),
        "log_touches": math.log1p(r["touches"]), "touch_bin": _bin(r["touches"], TOUCH_BINS),
        "bounced": float(r["bounced"]), "ooo": float(r["ooo"]),
        "reply_bin": "none" if r["since_reply"] is None else _bin(r["since_reply"], DAY_BINS),
        "stage_replied": f"{r['stage']}|{r['replied']}",
        "stage_owner": f"{r['stage']}|{r['owner']}",
    }
    for tag in r["tags"]:
        f[f"tag={tag}"] = 1.0
    return f


class Vectorizer:
    """Feature dicts to a sparse matrix: a string value is a one-hot column ``key=value``,
    a number its own column; names unseen in training are dropped. sklearn's
    DictVectorizer does the same, several times slower on tens of thousands of rows."""

    def __init__(self) -> None:
        self.columns: dict[str, int] = {}

    def fit_transform(self, rows: list[dict[str, Any]]) -> Any:
        return self._build(rows, grow=True)

    def transform(self, rows: list[dict[str, Any]]) -> Any:
        return self._build(rows, grow=False)

    def _build(self, rows: list[dict[str, Any]], grow: bool) -> Any:
        from scipy.sparse import csr_matrix

        cols = self.columns
        data: list[float] = []
        indices: list[int] = []
        indptr = [0]
        for row in rows:
            for k, v in row.items():
                if isinstance(v, str):
                    k, v = f"{k}={v}", 1.0
                j = cols.get(k)
                if j is None:
                    if not grow:
                        continue
                    j = cols[k] = len(cols)
                indices.append(j)
                data.append(v)
            indptr.append(len(indices))
        return csr_matrix((data, indices, indptr), shape=(len(rows), len(cols)))


@dataclass
class Training:
    """Rows from past snapshots: raw features, labels, days from snapshot to the win."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    days_to_win: dict[str, list[float]] = field(default_factory=dict)
    closed: int = 0
    snapshots: int = 0


def training(history: History, cutoff: float, horizon_days: float) -> Training:
    """Labelled rows from snapshots ``cutoff - horizon - k*step`` (k = 0, 1, …)."""
    t = Training(closed=history.closed_by(cutoff))
    if history.first is None:
        return t
    h = horizon_days * DAY
    s = cutoff - h
    while s >= history.first and t.snapshots < MAX_SNAPSHOTS:
        t.snapshots += 1
        for st in history.snapshot(s):
            won = history.won_within(st.deal, s, s + h)
            t.rows.append(raw(st, s))
            t.labels.append(int(won is not None))
            if won is not None:
                t.days_to_win.setdefault(st.stage, []).append(days(won - s))
        s -= SNAPSHOT_STEP_DAYS * DAY
    return t


def stage_rates(t: Training) -> tuple[dict[str, float], float]:
    """Per stage, the share of training rows won within the horizon; and the overall share
    (``fit`` calls it once some row was won, so there are rows)."""
    n: dict[str, int] = {}
    w: dict[str, int] = {}
    for r, y in zip(t.rows, t.labels,
                    strict=True,  # pragma: no mutate: training appends each row with its label
                    ):
        n[r["stage"]] = n.get(r["stage"], 0) + 1
        w[r["stage"]] = w.get(r["stage"], 0) + y
    overall = sum(t.labels) / len(t.labels)
    return {k: w[k] / n[k] for k in n}, overall


@dataclass
class Model:
    """A fitted forecast model: learned (``clf`` set) or per-stage rates."""

    kind: str  # "learned" or "stage rates"
    note: str
    rates: dict[str, float]
    overall: float
    close_days: dict[str, float]
    horizon_days: float
    closed: int
    rows: int
    clf: Any = None
    vec: Any = None
    reference: dict[str, Any] | None = None

    def stage_rate(self, stage: str) -> float:
        """The per-stage historical rate (overall rate for a stage never seen)."""
        return self.rates.get(stage, self.overall)

    def predict(self, rows: list[dict[str, Any]]) -> list[float]:
        """Probability of a win within the horizon for each raw row."""
        if not rows:
            return []
        if self.clf is None:
            return [self.stage_rate(r["stage"]) for r in rows]
        x = self.vec.transform([encode(r) for r in rows])
        return [float(p) for p in self.clf.predict_proba(x)[:, 1]]

    def close_in_days(self, stage: str) -> float:
        """Median days from a snapshot to the win, for deals in ``stage`` won in time."""
        return self.close_days.get(stage, self.close_days.get("", self.horizon_days / 2))

    def explain(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        """What moved this deal's probability: each factor set to the typical deal's value,
        and how many points the probability changes back (largest first)."""
        if self.clf is None or self.reference is None:
            return [{"factor": "stage", "value": r["stage"],
                     "points": round(100 * (self.stage_rate(r["stage"]) - self.overall), 1)}]
        variants = []
        for fields in FACTORS.values():
            variants.append({**r, **{k: self.reference[k] for k in fields}})
        p, *others = self.predict([r, *variants])
        out = []
        for (name, fields), q in zip(FACTORS.items(), others, strict=True):
            shown = ", ".join(_show(k, r[k]) for k in fields)
            typical = ", ".join(_show(k, self.reference[k]) for k in fields)
            out.append({"factor": name, "value": shown, "typical": typical,
                        "points": round(100 * (p - q), 1)})
        return sorted(out, key=lambda e: -abs(e["points"]))


def _show(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(value) or "(none)"
    if value is None:
        return "-" if key != "since_reply" else "never"
    if isinstance(value, float):
        return f"{value:.0f}" + (" days" if key in ("in_stage", "age", "since_reply") else "")
    return str(value) if value != "" else "(none)"


def _reference(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The typical deal: the most common value of each categorical field, the median of
    each numeric one."""
    ref: dict[str, Any] = {}
    for k in rows[0]:  # pragma: no mutate: every raw row has the same keys
        vals = [r[k] for r in rows]
        if k in ("in_stage", "age", "touches"):
            ref[k] = statistics.median(vals)
        elif k == "since_reply":
            known = [v for v in vals if v is not None]
            ref[k] = statistics.median(known) if len(known) * 2 > len(vals) else None
        elif k == "value":
            ref[k] = None if not any(v is not None for v in vals) else statistics.median(
                [v for v in vals if v is not None])
        else:
            ref[k] = statistics.mode(vals)
    return ref


def closed_rates(history: History, cutoff: float) -> tuple[dict[str, float], float,
                                                            dict[str, float], int]:
    """For a history too young for a past snapshot a horizon back: per open stage, the
    share won of the deals that had been in it and were closed at ``cutoff`` (however long
    they took); the overall share; median days from entering a stage to the win ("" for
    all stages); and the number of deals won. ``fit`` calls it once a deal has closed."""
    n: dict[str, int] = {}
    w: dict[str, int] = {}
    to_win: dict[str, list[float]] = {}
    closed = won_deals = 0
    for d in history.deals.values():
        if d.closed_at > cutoff:
            continue
        known = bisect_right(d.change_at, cutoff)
        won = d.changes[known - 1][0] in history.won
        closed += 1
        won_deals += won
        entered: dict[str, float] = {}
        for at, (stage_id, _, _) in zip(d.change_at[:known], d.changes[:known], strict=True):
            name, kind, _ = history.stages[stage_id]
            if kind == StageKind.OPEN and name not in entered:
                entered[name] = at
        for name, at in entered.items():
            n[name] = n.get(name, 0) + 1
            w[name] = w.get(name, 0) + won
            if won:
                to_win.setdefault(name, []).append(days(d.closed_at - at))
    close = {k: statistics.median(v) for k, v in to_win.items()}
    every = [x for v in to_win.values() for x in v]
    if every:
        close[""] = statistics.median(every)
    return {k: w[k] / n[k] for k in n}, won_deals / closed, close, won_deals


def fit(history: History, cutoff: float, horizon_days: float, *,
        min_closed: int = MIN_CLOSED, day: str | None = None) -> Model:
    """Fit the model on the history known at ``cutoff`` for a horizon of ``horizon_days``.

    Raises NotEnoughHistory (naming ``day``, the as-of day) when no deal had closed by
    then; a history too young to hold a past snapshot a horizon back with a win in it
    falls back to the win rates of the deals closed so far (``closed_rates``)."""
    t = training(history, cutoff, horizon_days)
    if t.closed < MIN_HISTORY:
        raise NotEnoughHistory(t.closed, day or datetime.fromtimestamp(
            cutoff - 1, UTC).date().isoformat())
    if not sum(t.labels):
        rates, overall, close, won = closed_rates(history, cutoff)
        why = f"history of {int(days(cutoff - (history.first or cutoff)))} days, shorter than" \
            if not t.rows else f"{len(t.rows)} open deals in {t.snapshots} past snapshots, " \
            "none won within"
        why += f" the {horizon_days:.0f}-day horizon"
        note = (f"per-stage win rates of the {t.closed} deals closed so far ({won} won), "
                "however long they took") if won else \
            f"none of the {t.closed} deals closed so far was won: every probability is 0"
        return Model("stage rates", f"{why}: {note}",
                     rates=rates, overall=overall, close_days=close,
                     horizon_days=horizon_days, closed=t.closed, rows=len(t.rows))
    rates, overall = stage_rates(t)
    close = {k: statistics.median(v) for k, v in t.days_to_win.items()}
    every = [d for v in t.days_to_win.values() for d in v]
    if every:
        close[""] = statistics.median(every)
    base = dict(rates=rates, overall=overall, close_days=close, horizon_days=horizon_days,
                closed=t.closed, rows=len(t.rows))
    if t.closed < min_closed:
        return Model("stage rates", f"only {t.closed} closed deals (the learned model needs "
                     f"{min_closed}): per-stage historical rates", **base)
    positives = sum(t.labels)
    if positives < 3 or len(t.labels) - positives < 3:
        return Model("stage rates", f"{positives} wins in {len(t.labels)} past snapshots are "
                     "too few to learn from: per-stage historical rates", **base)
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    vec = Vectorizer()
    x = vec.fit_transform([encode(r) for r in t.rows])
    method = "isotonic" if min(positives, len(t.labels) - positives) >= 500 else "sigmoid"
    clf = CalibratedClassifierCV(LogisticRegression(
        C=1.0, solver="newton-cholesky",
        max_iter=200,  # pragma: no mutate: Newton converges in under 10 steps
    ), method=method, cv=3)
    clf.fit(x, t.labels)
    return Model("learned", f"logistic regression, {method} calibration, on {len(t.rows)} "
                 f"past snapshots of {t.closed} closed deals", clf=clf, vec=vec,
                 reference=_reference(t.rows), **base)
