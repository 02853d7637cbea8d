"""Parsing the dates and durations people type, into ISO-8601 UTC strings; the reporting zone."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from salescli.core.errors import InvalidValue

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def zone(name: str | None = None) -> ZoneInfo:
    """The reporting time zone: ``name``, else ``SALESCLI_TZ``, else UTC (one for the
    metrics, the forecast, tasks and sequences, so that their days agree)."""
    from zoneinfo import ZoneInfo  # here: commands that need no zone start without it

    text = (name if name is not None else os.environ.get("SALESCLI_TZ", "")).strip() or "UTC"
    try:
        return ZoneInfo(text)
    except Exception:  # ZoneInfoNotFoundError, ValueError, IsADirectoryError for 'America'
        raise InvalidValue("SALESCLI_TZ", text,
                           "is not a known time zone (e.g. UTC, Europe/Berlin)") from None


def now() -> str:
    """The current time as ISO-8601 UTC with a ``Z``, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(dt: datetime) -> str:
    """Format an aware or naive-UTC datetime as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(timespec="seconds") + "Z"  # strftime's %Y drops a year's zeros


def parse_duration(value: str, field: str = "duration") -> timedelta:
    """``90s``, ``15m``, ``12h``, ``7d``, ``2w`` → timedelta."""
    match = _DURATION.match(str(value))
    if not match:
        raise InvalidValue(field, value, "is not a duration like 30m, 12h, 7d or 2w")
    try:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise InvalidValue(field, value, "is too long a duration") from None


def _ago(text: str, field: str) -> datetime:
    """Now minus the duration ``text``, refused when it reaches before year 1."""
    try:
        return datetime.now(UTC) - parse_duration(text, field)
    except OverflowError:
        raise InvalidValue(field, text, "reaches too far back") from None


def parse_when(value: str, field: str = "date") -> str:
    """A date, a datetime (naive means UTC), ``now`` or ``7d`` (ago) → ISO UTC."""
    text = str(value).strip()
    if text.lower() == "now":
        return iso(datetime.now(UTC))
    if _DURATION.match(text):
        return iso(_ago(text, field))
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return f"{day.isoformat()}T00:00:00Z"
        # 3.11 reads a "Z" and any date-time separator; RFC 3339 allows a lower-case z
        dt = datetime.fromisoformat(text.upper())
    except ValueError:
        raise InvalidValue(
            field, value, "is not a date (use YYYY-MM-DD, an ISO-8601 time, 'now' or '7d')"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return iso(dt)
    except OverflowError:  # an offset that moves the time out of years 1-9999
        raise InvalidValue(field, value, "is out of range") from None


def parse_day(value: str, field: str = "date") -> str:
    """A calendar day ``YYYY-MM-DD`` (or ``7d`` ago, ``today``) → ``YYYY-MM-DD``."""
    text = str(value).strip()
    if text.lower() == "today":
        return datetime.now(UTC).date().isoformat()
    if _DURATION.match(text):
        return _ago(text, field).date().isoformat()
    try:
        return date.fromisoformat(text[:10]).isoformat() if len(text) >= 10 else \
            date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue(field, value, "is not a date (use YYYY-MM-DD)") from None
