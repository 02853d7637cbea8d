"""When a step is due: the wait after the previous step, then the sequence's sending window.

Waits count from the moment the previous step really went out (or the enrolment), so a
step that waited for the window shifts the later ones instead of bunching them up.
Business days (``3bd``) skip Saturdays and Sundays in the sequence's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from salescli.core.timeutil import zone
from salescli.sequences.plans import parse_days, parse_wait, parse_window


@dataclass(frozen=True)
class Window:
    """Sending hours on some weekdays in one time zone."""

    start: int  # minutes after local midnight
    end: int
    days: frozenset[int]
    tz: ZoneInfo

    @classmethod
    def of(cls, window: str, days: str, timezone: str | None) -> Window:
        """From a sequence's settings; no time zone means ``SALESCLI_TZ``."""
        start, end = parse_window(window)
        return cls(start, end, parse_days(days), zone(timezone) if timezone else zone())

    def contains(self, moment: datetime) -> bool:
        """Whether a mail may go out at ``moment``."""
        local = moment.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start <= minute < self.end

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if it is inside the window, else the next opening (UTC)."""
        local = moment.astimezone(self.tz)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens = datetime(day.year, day.month, day.day, self.start // 60, self.start % 60,
                             tzinfo=self.tz)
            if offset > 0 or local < opens:
                return opens.astimezone(UTC)
            if local.hour * 60 + local.minute < self.end:
                return moment.astimezone(UTC)
        raise AssertionError("a window with at least one day always opens within a week")


def add_wait(moment: datetime, wait: str, tz: ZoneInfo) -> datetime:
    """``moment`` plus a wait; business days keep the local time of day."""
    n, unit = parse_wait(wait)
    if unit == "bd":
        local = moment.astimezone(tz)
        day = local
        while n > 0:
            day += timedelta(days=1)
            if day.weekday() < 5:
                n -= 1
        naive = day.replace(tzinfo=None)
        local_time = naive.replace(tzinfo=tz)
        return local_time.astimezone(UTC)  # pragma: no mutate: the same instant in any zone
    delta = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n),
             "w": timedelta(weeks=n)}[unit]
    return moment.astimezone(UTC) + delta


def due_after(moment: datetime, wait: str, window: Window) -> datetime:
    """When a step with ``wait`` is due, counted from ``moment``."""
    return window.next_open(add_wait(moment, wait, window.tz))


def utc(value: datetime | str | None = None) -> datetime:
    """An aware UTC datetime from a datetime, an ISO string, or now."""
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
