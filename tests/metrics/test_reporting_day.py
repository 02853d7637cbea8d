"""Which day "today" is in ``salescli metrics``: the day in ``SALESCLI_TZ`` (not on the
machine's clock), or the day asked for."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from salescli.metrics import live


def test_the_period_ends_today_in_the_configured_time_zone(conn, monkeypatch):
    # UTC+14 and UTC-10 are a day apart: one of them is on another date than the machine.
    zone = next(z for z in ("Pacific/Kiritimati", "Pacific/Honolulu")
                if datetime.now(ZoneInfo(z)).date() != datetime.now().date())
    monkeypatch.setenv("SALESCLI_TZ", zone)
    kpis = live.kpis(conn, days=1)
    today = datetime.now(ZoneInfo(zone)).date().isoformat()
    assert (kpis["period_start"], kpis["period_end"], kpis["tz"]) == (today, today, zone)


def test_the_funnel_of_a_past_day_counts_that_day(history):
    # D-10: a (09:00) and b (23:45) created in lead; nothing entered lead today.
    h = history
    day = h.today - timedelta(days=10)
    lead = {r["stage"]: r for r in live.funnel(h.conn, days=1, today=day)}["lead"]
    assert lead["entered"] == 2
    lead = {r["stage"]: r for r in live.funnel(h.conn, days=1, today=h.today)}["lead"]
    assert lead["entered"] == 0
