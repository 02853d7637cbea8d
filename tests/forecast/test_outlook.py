"""Every figure of ``salescli forecast`` against the hand-computed answers of the fixed
history in conftest.py, the no-leak rule, the time zone, and the CLI's errors."""

from __future__ import annotations

import json
from datetime import date

import pytest

from salescli.forecast import outlook
from salescli.forecast.history import History
from salescli.forecast.model import raw
from salescli.pipeline import interactions, prospects, stages
from tests.forecast.conftest import AS_OF
from tests.support.cli import fails, ok

TODAY = date(2026, 1, 1)


def run(conn, **kw):
    return outlook.forecast(conn, as_of=AS_OF, horizon="30d", today=TODAY, **kw)


def by_email(result):
    return {p["email"]: p for p in result["prospects"]}


def test_fallback_rates_probabilities_and_close_days(small):
    conn, _ = small
    r = run(conn)
    assert r["model"]["kind"] == "stage rates"
    assert "only 2 closed deals" in r["model"]["note"]
    assert r["model"]["training_rows"] == 3
    deals = by_email(r)
    assert set(deals) == {"c@x.example", "d@x.example", "e@x.example", "f@x.example",
                          "h@x.example"}
    assert {e: d["probability"] for e, d in deals.items()} == {
        "c@x.example": 0.0, "d@x.example": 0.5, "e@x.example": 0.0, "f@x.example": 0.5,
        "h@x.example": 0.5}
    # median 8 days from the snapshot to A's win: 2025-03-31 + 8 days
    assert {d["expected_close"] for d in deals.values()} == {"2025-04-08"}
    assert r["horizon_end"] == "2025-04-30"


def test_period_sums_and_80_percent_intervals(small):
    conn, _ = small
    rows = run(conn)["rows"]
    assert [x["period"] for x in rows] == ["2025-04", "total"]
    total = rows[-1]
    # three independent coin flips worth 2000, 4000 and 700
    assert total["deals"] == 5 and total["open_value"] == 7500
    assert total["expected_count"] == 1.5
    assert (total["count_low"], total["count_high"]) == (0, 3)
    assert total["expected_value"] == 3350
    assert (total["value_low"], total["value_high"]) == (0, 6700)
    assert total["stage_weighted_value"] == 3350 and total["stage_weighted_count"] == 1.5


def test_by_owner_and_owner_filter(small):
    conn, _ = small
    rows = {x["period"]: x for x in run(conn, by="owner")["rows"]}
    assert rows["ana"]["expected_value"] == 3000 and rows["bo"]["expected_value"] == 350
    only = run(conn, owner="bo")
    assert {p["email"] for p in only["prospects"]} == {"e@x.example", "h@x.example"}
    assert only["rows"][-1]["expected_value"] == 350


def test_by_week_and_stage(small):
    conn, _ = small
    assert [x["period"] for x in run(conn, by="week")["rows"]] == ["2025-04-07", "total"]
    stage = {x["period"]: x for x in run(conn, by="stage")["rows"]}
    assert stage["lead"]["expected_value"] == 0 and stage["proposal"]["expected_value"] == 3350


def test_a_deal_closed_after_the_as_of_day_changes_nothing(small):
    conn, ids = small
    before = run(conn)
    # the day after: D won, C replies, a new deal arrives
    stages.move(conn, "ana", ids["d@x.example"], "won", at="2025-04-01T08:00:00Z",
                reason="signed")
    interactions.record(conn, "scan", ids["c@x.example"], "email_in", "2025-04-01T09:00:00Z")
    prospects.add(conn, "x", "new@x.example", owner="ana", stage="proposal", value=9000,
                  at="2025-04-01T07:00:00Z")
    after = run(conn)
    assert after["rows"] == before["rows"]
    assert after["prospects"] == before["prospects"]
    assert after["model"] == before["model"]


def test_time_zone_moves_the_cutoff(small, monkeypatch):
    conn, _ = small
    monkeypatch.setenv("SALESCLI_TZ", "America/New_York")
    r = run(conn)
    # H was won at 02:00Z on 04-01, 22:00 on 03-31 in New York: closed by the cutoff
    assert "h@x.example" not in by_email(r)
    assert r["model"]["note"].startswith("only 3 closed deals")
    assert r["rows"][-1]["expected_value"] == 3000
    assert (r["rows"][-1]["value_low"], r["rows"][-1]["value_high"]) == (0, 6000)
    assert r["tz"] == "America/New_York"


def test_mail_signals_known_at_the_cutoff_only(small):
    conn, ids = small
    h = History(conn)
    w = outlook.window(date(2025, 3, 31), "30d")
    state = h.state(h.deals[ids["c@x.example"]], w.cutoff)
    r = raw(state, w.cutoff)
    assert r["touches"] == 1 and r["replied"] is True and r["ooo"] is True
    assert r["bounced"] is False  # the bounce came on 04-02
    assert r["since_reply"] == 22 and r["age"] == pytest.approx(37.625)
    assert r["stage"] == "lead" and r["owner"] == "ana" and r["value"] == 500


def test_explain_in_fallback_names_the_stage(small):
    conn, _ = small
    e = outlook.explain(conn, "d@x.example", as_of=AS_OF, horizon="30d", today=TODAY)
    assert e["prospect"]["probability"] == 0.5
    assert e["factors"] == [{"factor": "stage", "value": "proposal", "points": 16.7}]


def test_horizons():
    d = date(2025, 3, 31)
    assert outlook.window(d, "QUARTER").end == date(2025, 6, 30)
    assert outlook.window(date(2025, 3, 30), "quarter").end == date(2025, 3, 31)
    assert outlook.window(date(2025, 12, 31), "QUARTER").end == date(2026, 3, 31)
    assert outlook.window(d, "2w").days == 14
    assert outlook.window(d, "90d").end == date(2025, 6, 29)


def test_cli_json_and_table(small, invoke):
    out = json.loads(ok(invoke("forecast", "--as-of", AS_OF, "--horizon", "30d",
                               "--format", "json")))
    assert out["rows"][-1]["expected_value"] == 3350
    assert "_deals" not in out and "_raw" not in out["prospects"][0]
    table = ok(invoke("forecast", "--as-of", AS_OF, "--horizon", "30d"))
    assert "per-stage historical rates" in table and "3,350.00" in table
    explain = ok(invoke("forecast", "--as-of", AS_OF, "--horizon", "30d", "--explain",
                        "d@x.example"))
    assert "50.0%" in explain


@pytest.mark.parametrize("args, needles", [
    (("--horizon", "soon"), ("--horizon", "soon")),
    (("--horizon", "0d"), ("--horizon",)),
    (("--as-of", "2999-01-01"), ("--as-of", "after today")),
    (("--as-of", "31/03/2025"), ("--as-of", "not a date")),
    (("--owner", "zed"), ("--owner", "zed")),
    (("--explain", "nobody@x.example"), ("prospect", "not found")),
    (("--as-of", AS_OF, "--explain", "a@x.example"), ("--explain", "not an open deal")),
])
def test_cli_errors(small, invoke, args, needles):
    fails(invoke("forecast", *args), *needles)


def test_bad_time_zone_is_an_error(small, invoke, monkeypatch):
    monkeypatch.setenv("SALESCLI_TZ", "Mars/Olympus")
    fails(invoke("forecast"), "SALESCLI_TZ", "Mars/Olympus")
