"""Dates and durations people type become ISO-8601 UTC; bad ones name the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from salescli.core import timeutil
from salescli.core.errors import InvalidValue

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.mark.parametrize("text, expected", [
    ("2024-03-01", "2024-03-01T00:00:00Z"),
    ("2024-03-01T09:30:00", "2024-03-01T09:30:00Z"),
    ("2024-03-01 09:30", "2024-03-01T09:30:00Z"),
    ("2024-03-01T09:30:00Z", "2024-03-01T09:30:00Z"),
    ("2024-03-01T09:30:00+02:00", "2024-03-01T07:30:00Z"),
    ("2024-03-01T23:30:00-05:00", "2024-03-02T04:30:00Z"),
    ("2024-03-01T09:30:00.987654Z", "2024-03-01T09:30:00Z"),
])
def test_parse_when_absolute(text, expected):
    assert timeutil.parse_when(text) == expected


def test_parse_when_relative():
    now = datetime.now(UTC)
    week = datetime.strptime(timeutil.parse_when("7d"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((now - week) - timedelta(days=7)) < timedelta(seconds=5)
    assert ISO.match(timeutil.parse_when("now"))
    assert ISO.match(timeutil.parse_when("90m"))


@pytest.mark.parametrize("text", ["yesterday", "2024-02-30", "01/02/2024", "", "7 days", "-3d"])
def test_parse_when_rejects_with_field_and_value(text):
    with pytest.raises(InvalidValue) as info:
        timeutil.parse_when(text, "--since")
    assert str(info.value).startswith(f"--since {text!r}")


@pytest.mark.parametrize("text, expected", [
    ("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)),
    ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)),
    (" 3 d ", timedelta(days=3)),
])
def test_parse_duration(text, expected):
    assert timeutil.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["7", "7y", "d", "1.5h", "-1d"])
def test_parse_duration_rejects(text):
    with pytest.raises(InvalidValue, match="--expires"):
        timeutil.parse_duration(text, "--expires")


def test_parse_day():
    assert timeutil.parse_day("2024-03-01") == "2024-03-01"
    assert timeutil.parse_day("2024-03-01T23:59:00Z") == "2024-03-01"
    assert timeutil.parse_day("today") == datetime.now(UTC).date().isoformat()
    with pytest.raises(InvalidValue, match="--since '2024-3-1'"):
        timeutil.parse_day("2024-3-1", "--since")


def test_iso_formats_aware_and_naive_times():
    aware = datetime(2024, 3, 1, 12, 0, 0, 999, tzinfo=timezone(timedelta(hours=-3)))
    assert timeutil.iso(aware) == "2024-03-01T15:00:00Z"
    assert timeutil.iso(datetime(2024, 3, 1, 12, 0, 0)) == "2024-03-01T12:00:00Z"
    assert ISO.match(timeutil.now())
