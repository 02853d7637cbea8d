"""The pipeline as it stood at any moment, rebuilt from ``stage_changes`` and ``interactions``.

One ``History`` is read from the database once; ``snapshot(cutoff)`` then gives the open
deals at that instant with only what was known then (stage, owner and value from the last
change at or before it, mail signals from interactions at or before it), and ``outcome``
what happened after — used only as the label of past snapshots and by the backtest.
Times are Unix seconds (UTC). Tags and source have no history: their current values are used.
"""

from __future__ import annotations

import json
import math
import sqlite3
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from salescli.core.enums import InteractionKind, StageKind

DAY = 86400.0
_MAIL_KINDS = (InteractionKind.EMAIL_OUT, InteractionKind.EMAIL_IN,
               InteractionKind.AUTO_REPLY, InteractionKind.BOUNCE)


def day_end(day: date, tz: ZoneInfo) -> float:
    """The Unix time at which local ``day`` ends (the next local midnight)."""
    nxt = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return nxt.astimezone(UTC).timestamp()


def local_day(ts: float, tz: ZoneInfo) -> date:
    """The local day of a Unix time."""
    return datetime.fromtimestamp(ts, tz).date()


@dataclass
class Deal:
    """One prospect's history: stage changes (time, stage id, owner, value) in order, the
    times of its mail interactions by kind, and the fields that have no history."""

    id: int
    email: str
    created: float
    archived: float | None
    updated: float
    owner: str | None
    value: float | None
    source: str | None
    tags: tuple[str, ...]
    change_at: list[float] = field(default_factory=list)
    changes: list[tuple[int, str | None, float | None]] = field(default_factory=list)
    mail: dict[str, list[float]] = field(default_factory=dict)
    closed_at: float = math.inf  # from here on the deal stays won or lost
    currency: str | None = None  # of its value; None: the default (SALESCLI_CURRENCY)


@dataclass
class State:
    """An open deal at a cutoff: what was known then."""

    deal: Deal
    stage: str
    stage_id: int
    entered: float
    owner: str
    value: float | None
    replied: bool
    last_reply: float | None
    touches: int
    bounced: bool
    ooo: bool


class History:
    """Stages, deals and their mail signals, read once."""

    def __init__(self, conn: sqlite3.Connection, *, mail: bool = True):
        self.stages = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            "SELECT id, name, kind, position FROM stages")}
        self.won = {i for i, s in self.stages.items() if s[1] == StageKind.WON}
        self.lost = {i for i, s in self.stages.items() if s[1] == StageKind.LOST}
        self.deals: dict[int, Deal] = {}
        for r in conn.execute(
                "SELECT id, email, CAST(strftime('%s', created_at) AS INTEGER),"
                " CAST(strftime('%s', archived_at) AS INTEGER),"
                " CAST(strftime('%s', updated_at) AS INTEGER), owner, value, source, tags,"
                " currency FROM prospects"):
            tags: tuple[str, ...] = ()
            if r[8] and r[8] != "[]":
                try:
                    tags = tuple(sorted(str(t) for t in json.loads(r[8])))
                except ValueError:
                    pass
            self.deals[r[0]] = Deal(r[0], r[1], float(r[2]), _f(r[3]), float(r[4]), r[5],
                                    r[6], r[7], tags, currency=r[9])
        for pid, at, stage, owner, value in conn.execute(
                "SELECT prospect_id, CAST(strftime('%s', at) AS INTEGER), to_stage_id, owner,"
                " value FROM stage_changes ORDER BY prospect_id, at, id"):
            d = self.deals.get(pid)
            if d is not None:
                d.change_at.append(float(at))
                d.changes.append((stage, owner, value))
        closing = self.won | self.lost
        for d in self.deals.values():  # closed for good from the first close of the last run
            i = len(d.changes)
            while i and d.changes[i - 1][0] in closing:
                i -= 1
            if i < len(d.changes):
                d.closed_at = d.change_at[i]
        kinds = ", ".join(f"'{k.value}'" for k in _MAIL_KINDS)
        for pid, kind, at in () if not mail else conn.execute(
                "SELECT prospect_id, kind, CAST(strftime('%s', occurred_at) AS INTEGER)"
                f" FROM interactions WHERE kind IN ({kinds}) ORDER BY prospect_id, occurred_at"):
            d = self.deals.get(pid)
            if d is not None and at is not None:
                d.mail.setdefault(kind, []).append(float(at))
        self.first = min((d.change_at[0] for d in self.deals.values() if d.change_at),
                         default=None)

    def state(self, d: Deal, cutoff: float) -> State | None:
        """The deal at ``cutoff`` if it was open then (created, not archived, open stage)."""
        if d.created > cutoff or (d.archived is not None and d.archived <= cutoff) \
                or d.closed_at <= cutoff:
            return None
        i = bisect_right(d.change_at, cutoff) - 1
        if i < 0:
            return None
        stage_id, owner, value = d.changes[i]
        name, kind, _ = self.stages[stage_id]
        if kind != StageKind.OPEN:
            return None
        if d.updated <= cutoff:  # the row has not changed since: its fields held then
            owner, value = d.owner, d.value
        replies = _upto(d.mail.get(InteractionKind.EMAIL_IN, ()), cutoff)
        return State(d, name, stage_id, d.change_at[i], owner or "", value, bool(replies),
                     replies[-1] if replies else None,
                     len(_upto(d.mail.get(InteractionKind.EMAIL_OUT, ()), cutoff)),
                     bool(_upto(d.mail.get(InteractionKind.BOUNCE, ()), cutoff)),
                     bool(_upto(d.mail.get(InteractionKind.AUTO_REPLY, ()), cutoff)))

    def snapshot(self, cutoff: float) -> list[State]:
        """Every deal open at ``cutoff``, in id order."""
        out = []
        for d in self.deals.values():
            if d.created > cutoff or d.closed_at <= cutoff:
                continue
            s = self.state(d, cutoff)
            if s is not None:
                out.append(s)
        return out

    def outcome(self, d: Deal, after: float) -> tuple[str, float] | None:
        """The first close (``won``/``lost``, time) strictly after ``after``, if any."""
        i = bisect_right(d.change_at, after)
        for at, (stage_id, _, _) in zip(d.change_at[i:], d.changes[i:], strict=True):
            if stage_id in self.won:
                return StageKind.WON.value, at
            if stage_id in self.lost:
                return StageKind.LOST.value, at
        return None

    def won_within(self, d: Deal, cutoff: float, end: float) -> float | None:
        """When the deal was won in (cutoff, end], else None."""
        out = self.outcome(d, cutoff)
        if out and out[0] == StageKind.WON and out[1] <= end:
            return out[1]
        return None

    def closed_by(self, cutoff: float) -> int:
        """How many deals had been won or lost at or before ``cutoff``."""
        return sum(1 for d in self.deals.values() if d.closed_at <= cutoff)


def _f(value: int | None) -> float | None:
    return None if value is None else float(value)


def _upto(times: list[float] | tuple, cutoff: float) -> list[float] | tuple:
    return times[:bisect_right(times, cutoff)]


def days(seconds: float) -> float:
    """Seconds as days, never negative."""
    return max(0.0, seconds / DAY)


def log1p_days(seconds: float) -> float:
    """log(1 + days): the scale the model sees durations on."""
    return math.log1p(days(seconds))
