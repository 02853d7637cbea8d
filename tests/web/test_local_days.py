"""The dashboard's task panels count overdue / today / later by the local day in
SALESCLI_TZ, not the UTC date: checked through the real Datasette at moments (injected
clock) when the two days differ, in both directions."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from tests.web.conftest import bearer, run
from tests.web.test_config import CHARTS


def _moment(hour: int) -> datetime:
    """The next ``hour``:00 UTC from now (so a token minted now is valid then)."""
    now = datetime.now(UTC)
    at = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


@pytest.mark.parametrize(("zone", "hour", "shift"), [
    ("Pacific/Auckland", 20, 1),      # 20:00 UTC: already tomorrow in Auckland
    ("America/Los_Angeles", 3, -1),   # 03:00 UTC: still yesterday in Los Angeles
])
def test_overdue_and_today_follow_salescli_tz(fresh, monkeypatch, zone, hour, shift):
    from salescli.core import db
    from salescli.pipeline import prospects
    from salescli.tasks import store as tasks
    from salescli.web import server
    from salescli.web.tokens import create_token

    monkeypatch.setenv("SALESCLI_TZ", zone)
    moment = _moment(hour)
    utc_day = moment.date()
    local_day = utc_day + timedelta(days=shift)
    conn = db.open_write(fresh["db_file"])
    try:
        pid = prospects.add(conn, "setup", "tz@example.com", owner="otto")["id"]
        for day in sorted({utc_day, local_day}):
            tasks.add(conn, "setup", pid, f"due {day}", kind="call", due=day.isoformat())
    finally:
        conn.close()
    token, _ = create_token(fresh["db_file"], "maria", timedelta(days=2), "setup")
    ds = server.build_datasette(fresh["db_file"])
    ds._salescli_auth.clock = lambda: moment
    try:
        rows = run(ds.client.get("/sales/open_tasks.json?_shape=objects&owner=otto",
                                 headers=bearer(token))).json()["rows"]
        overdue = {r["due_on"]: r["overdue"] for r in rows}
        # Local today is not overdue; the other day is overdue only if it is before it.
        assert overdue == {local_day.isoformat(): 0,
                           utc_day.isoformat(): int(utc_day < local_day)}
        chart = run(ds.client.get("/sales.json?" + urllib.parse.urlencode(
            {"sql": CHARTS["overdue_by_owner"]["query"], "_shape": "objects",
             "owner": "otto"}), headers=bearer(token))).json()["rows"]
        later = int(utc_day > local_day)
        assert chart == [{"owner": "otto", "overdue": 1 - later, "today": 1, "later": later}]
    finally:
        ds._salescli_auth.close()


def test_a_bad_salescli_tz_stops_the_server_with_one_error(fresh, monkeypatch):
    from salescli.core.errors import InvalidValue
    from salescli.web import server

    monkeypatch.setenv("SALESCLI_TZ", "Mars/Olympus")
    with pytest.raises(InvalidValue, match="SALESCLI_TZ"):
        server.build_datasette(fresh["db_file"])
