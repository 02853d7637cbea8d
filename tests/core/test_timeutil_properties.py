"""Hypothesis properties of the dates and durations people type: every input is either
read right or refused with the field's one-line error, never a crash."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso, parse_day, parse_duration, parse_when

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# a loaded machine (or mutmut's tracing) makes input generation slow: not a failure
LOADED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LOADED
@given(st.integers(0, 10_000), st.sampled_from(sorted(UNITS)), st.text(" ", max_size=2),
       st.text(" ", max_size=2))
def test_a_duration_reads_as_its_number_of_units(n, unit, before, after):
    assert parse_duration(f"{before}{n}{unit}{after}") == timedelta(**{UNITS[unit]: n})


@LOADED
@given(st.text(max_size=30) | st.from_regex(r"\d{6,30}[smhdw]", fullmatch=True))
def test_any_text_is_a_duration_or_a_clear_error(text):
    try:
        value = parse_duration(text, "--expires")
    except InvalidValue as exc:
        assert str(exc).startswith("--expires ")
    else:
        assert value >= timedelta(0)


offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                     timezones=offsets)


@LOADED
@given(aware)
def test_an_iso_time_with_an_offset_becomes_the_same_instant_in_utc(moment):
    text = moment.isoformat(timespec="seconds")
    got = parse_when(text)
    assert ISO.match(got)
    back = datetime.strptime(got, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert back == moment.replace(microsecond=0)


@LOADED
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_a_naive_time_is_utc(moment):
    moment = moment.replace(microsecond=0)
    assert parse_when(moment.isoformat(sep=" ")) == iso(moment.replace(tzinfo=UTC))


@LOADED
@given(st.text(max_size=40) | st.from_regex(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d",
                                            fullmatch=True) | st.from_regex(r"\d{7,20}d"))
def test_any_text_is_a_time_or_a_clear_error(text):
    for parse, shape in ((parse_when, ISO), (parse_day, DAY)):
        try:
            value = parse(text, "--since")
        except InvalidValue as exc:
            assert str(exc).startswith("--since ")
        else:
            assert shape.match(value), (text, value)
