"""Local days for metrics: the reporting time zone, day bounds in UTC, days in SQL, periods.

Split from ``salescli.metrics`` (which re-exports these names): the rollup and the live
analytics both count by local day in ``SALESCLI_TZ``, and this is the one place that says how.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso, zone

MAX_DAYS = 3660


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which local ``day`` begins."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _offset(tz: ZoneInfo, epoch: int) -> int:
    return int(datetime.fromtimestamp(epoch, tz).utcoffset().total_seconds()) // 60


def day_sql(column: str, tz: ZoneInfo, lo: datetime, hi: datetime) -> str:
    """A SQL expression giving the local day of the ISO-UTC ``column`` for instants in
    [lo, hi): one ``date(col, '±N minutes')`` per span between offset changes."""
    pieces: list[tuple[int | None, int]] = []
    t, end = int(lo.timestamp()), int(hi.timestamp())
    off = _offset(tz, t)
    while t < end:
        nxt = min(t + 86400, end)
        if _offset(tz, nxt) != off:
            a, b = t, nxt  # the first second with the new offset lies in (a, b]
            # From a local midnight (all the rollup asks for) a bound of 2 ends on the same
            # second as 1 in every zone (checked for all of them, 2018-2026).
            while b - a > 1:  # pragma: no mutate: see above; the rest only loop forever
                mid = (a + b) // 2
                a, b = (mid, b) if _offset(tz, mid) == off else (a, mid)
            pieces.append((b, off))
            off = _offset(tz, b)
        t = nxt
    pieces.append((None, off))

    def local(minutes: int) -> str:
        # date(col, '+0 minutes') gives the same day for ISO UTC text; substr is faster
        return (f"substr({column}, 1, 10)" if minutes == 0  # pragma: no mutate: see above
                else f"date({column}, '{minutes:+d} minutes')")

    if len(pieces) == 1:
        return local(off)
    whens = " ".join(
        f"WHEN {column} < '{iso(datetime.fromtimestamp(until, UTC))}' THEN {local(m)}"
        for until, m in pieces[:-1])
    return f"CASE {whens} ELSE {local(pieces[-1][1])} END"


def local_day(ts: str, tz: ZoneInfo) -> date:
    """The local day of an ISO-8601 UTC timestamp."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(tz).date()


def parse_since(value: str | date, today: date) -> date:
    """``--since``: a day ``YYYY-MM-DD`` not after today."""
    if isinstance(value, date):
        day = value
    else:
        text = str(value).strip()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidValue("--since", value, "is not a date (use YYYY-MM-DD)") from None
    if day > today:
        raise InvalidValue("--since", value, f"is after today ({today.isoformat()})")
    return day


@dataclass(frozen=True)
class Period:
    """The ``days`` local days ending today (inclusive), with their UTC bounds."""

    start: date
    end: date
    tz: str
    start_utc: str
    end_utc: str  # exclusive: the start of the day after ``end``

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period(days: int, *, tz: str | None = None, today: date | None = None) -> Period:
    """The last ``days`` local days including today, in ``SALESCLI_TZ``."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidValue("--days", days, f"must be a whole number from 1 to {MAX_DAYS}")
    tzinfo = zone(tz)
    end = today or datetime.now(tzinfo).date()
    start = end - timedelta(days=days - 1)
    return Period(start, end, tzinfo.key, iso(midnight(start, tzinfo)),
                  iso(midnight(end + timedelta(days=1), tzinfo)))
