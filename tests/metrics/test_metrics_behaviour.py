"""Metrics behaviour ``./dev mutants`` found unchecked: "today" is today in SALESCLI_TZ,
not on the machine's clock, when the two calendars disagree."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.support.cli import ok


def test_the_period_ends_today_in_the_configured_time_zone(invoke, sales, monkeypatch):
    # UTC+14 and UTC-10 are a day apart, so one of them is on another date than the
    # machine's own clock, whatever its zone and the hour.
    zone = next(z for z in ("Pacific/Kiritimati", "Pacific/Honolulu")
                if datetime.now(ZoneInfo(z)).date() != datetime.now().date())
    monkeypatch.setenv("SALESCLI_TZ", zone)
    kpis = json.loads(ok(invoke("metrics", "--days", "1", "--format", "json")))["kpis"]
    today = datetime.now(ZoneInfo(zone)).date().isoformat()
    assert (kpis["period_start"], kpis["period_end"], kpis["tz"]) == (today, today, zone)


def test_activity_counts_are_zero_not_empty_when_nothing_happened(invoke, sales):
    ok(invoke("prospects", "add", "a@example.com"))
    kpis = json.loads(ok(invoke("metrics", "--format", "json")))["kpis"]
    assert [kpis[k] for k in ("emails_sent", "replies", "bounces", "calls", "meetings")] \
        == [0, 0, 0, 0, 0]
