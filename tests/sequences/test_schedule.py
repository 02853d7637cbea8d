"""Waits, business days, sending windows and out-of-office return dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from salescli.core.errors import InvalidValue
from salescli.sequences import plans
from salescli.sequences.exits import return_date
from salescli.sequences.schedule import Window, add_wait, due_after, utc

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("start, wait, expected", [
    ("2026-12-04T10:00:00Z", "3bd", "2026-12-09T10:00:00Z"),   # Fri → Wed
    ("2026-12-05T10:00:00Z", "1bd", "2026-12-07T10:00:00Z"),   # Sat → Mon
    ("2026-12-07T10:00:00Z", "5bd", "2026-12-14T10:00:00Z"),   # Mon → next Mon
    ("2026-12-04T10:00:00Z", "3d", "2026-12-07T10:00:00Z"),
    ("2026-12-04T10:00:00Z", "4h", "2026-12-04T14:00:00Z"),
    ("2026-12-04T10:00:00Z", "30m", "2026-12-04T10:30:00Z"),
    ("2026-12-04T10:00:00Z", "2w", "2026-12-18T10:00:00Z"),
    ("2026-12-04T10:00:00Z", "0d", "2026-12-04T10:00:00Z"),
])
def test_add_wait(start, wait, expected):
    assert add_wait(utc(start), wait, BERLIN) == utc(expected)


@pytest.mark.parametrize("moment, expected", [
    ("2026-12-07T07:59:00Z", "2026-12-07T08:00:00Z"),  # Mon 08:59 Berlin: opens at 09:00
    ("2026-12-07T08:00:00Z", "2026-12-07T08:00:00Z"),  # at the opening
    ("2026-12-07T15:59:00Z", "2026-12-07T15:59:00Z"),  # 16:59, still open
    ("2026-12-07T16:00:00Z", "2026-12-08T08:00:00Z"),  # 17:00: closed, next morning
    ("2026-12-04T16:30:00Z", "2026-12-07T08:00:00Z"),  # Friday evening → Monday
    ("2026-12-05T10:00:00Z", "2026-12-07T08:00:00Z"),  # Saturday → Monday
])
def test_window_next_open(moment, expected):
    window = Window.of("09:00-17:00", "mon-fri", "Europe/Berlin")
    assert window.next_open(utc(moment)) == utc(expected)
    assert window.contains(utc(moment)) == (moment == expected)


def test_due_after_waits_then_finds_the_window():
    window = Window.of("09:00-17:00", "mon,wed", "UTC")
    assert due_after(utc("2026-12-07T16:00:00Z"), "4h", window) == utc("2026-12-09T09:00:00Z")


@pytest.mark.parametrize("value, days", [
    ("mon-fri", {0, 1, 2, 3, 4}), ("daily", set(range(7))), ("mon,wed,fri", {0, 2, 4}),
    ("fri-mon", {4, 5, 6, 0}), ("Monday-Tuesday", {0, 1}),
])
def test_parse_days(value, days):
    assert plans.parse_days(value) == days


@pytest.mark.parametrize("bad", ["3 days", "3", "-1d", "3y", ""])
def test_bad_waits(bad):
    with pytest.raises(InvalidValue, match=f"^wait {bad!r} is not a wait like"):
        plans.parse_wait(bad)


@pytest.mark.parametrize("bad", ["9-17", "17:00-09:00", "09:00-25:00", "09:60-10:00",
                                 "09:60-11:00", "09:00-10:60"])
def test_bad_windows(bad):
    with pytest.raises(InvalidValue, match="window"):
        plans.parse_window(bad)


RECEIVED = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("Out of office until 14 December", date(2026, 12, 14)),
    ("Automatic reply: back on December 14th", date(2026, 12, 14)),
    ("Back on December 14, 2026", date(2026, 12, 14)),         # month first, with its year
    ("Back on December 14, 2025", None),                      # a stated past year stays past
    ("Out of office until 4 January 2027", date(2027, 1, 4)),   # day first, with its year
    ("Back on 1 December", None),               # the day it came: not a date after it
    ("OOO until 2026-12-20", date(2026, 12, 20)),
    ("Abwesend bis 14.12.", date(2026, 12, 14)),
    ("I am back on Monday, 4 January", date(2027, 1, 4)),     # next year
    ("Out of office until 14 November", None),                # in the past
    ("Out of office until 30 February", None),                # no such day
    ("Out of office until 2027-06-01", None),                 # too far to trust
    ("Automatic reply: Quick question", None),
    (None, None),
])
def test_return_date(text, expected):
    assert return_date(text, RECEIVED) == expected


def test_a_return_date_that_exists_only_next_year_is_found():
    """29 February, read on the last day of a year before a leap year: no such day this
    year, so next year's (60 days on, the furthest a return date is trusted)."""
    assert return_date("Back on 29 February", datetime(2027, 12, 31, 9, tzinfo=UTC)) == \
        date(2028, 2, 29)
