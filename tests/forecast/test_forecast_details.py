"""Forecast behaviour a fresh mutation sample found unchecked (``./dev mutants
salescli/forecast --sample 80 --seed 31``): the quarter horizon in the fourth quarter, what
``--explain`` prints for a deal with no source and no reply, the overall rate it quotes,
archived deals, and intervals of certain deals to the cent."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.forecast import backtest, outlook, store, sums
from salescli.forecast.history import History
from salescli.forecast.model import NotEnoughHistory, fit
from salescli.pipeline import prospects
from tests.forecast.conftest import AS_OF, build
from tests.forecast.test_backtest import generated
from tests.forecast.test_young import OPEN_ONLY, YOUNG
from tests.support.cli import fails, ok

TODAY = date(2026, 1, 1)


def test_a_quarter_horizon_from_the_fourth_quarter_ends_on_new_years_eve(small, invoke):
    out = ok(invoke("forecast", "--as-of", "2025-11-15", "--horizon", "QUARTER"))
    assert out.splitlines()[0] == ("Forecast as of 2025-11-15 (UTC), QUARTER to 2025-12-31, "
                                   "all owners")


def test_explain_quotes_the_overall_rate_of_all_deals(small, invoke):
    # stage rates as of 03-31 (conftest.py): proposal 1/2, lead 0/1, all deals 1/3
    out = ok(invoke("forecast", "--as-of", AS_OF, "--horizon", "30d", "--explain",
                    "d@x.example"))
    assert "Probability of a win: 50.0% (stage rate 50.0%, all deals 33.3%)" in out


def test_explain_defaults_to_a_90_day_horizon(small):
    e = outlook.explain(small[0], "d@x.example", as_of=AS_OF, today=TODAY)
    assert e["horizon"] == "90d"


def test_explain_refuses_an_as_of_day_after_the_given_today(small):
    with pytest.raises(InvalidValue, match="after today"):
        outlook.explain(small[0], "d@x.example", as_of="2025-03-31", horizon="30d",
                        today=date(2025, 3, 30))


def test_explain_of_the_learned_model_names_what_a_deal_lacks(conn, invoke):
    """A deal with no source and no reply shows '(none)' and 'no, never', beside the
    typical deal's values; every factor has a value."""
    generated(conn)
    r = outlook.forecast(conn, as_of="2025-10-20", horizon="30d", today=TODAY)
    silent = next(d for d in r["prospects"] if int(d["email"][1:].split("@")[0]) % 2)
    out = json.loads(ok(invoke("forecast", "--as-of", "2025-10-20", "--horizon", "30d",
                               "--explain", str(silent["prospect_id"]), "--format", "json")))
    factors = {f["factor"]: f for f in out["factors"]}
    assert len(factors) == 11
    assert (factors["source"]["value"], factors["source"]["typical"]) == ("(none)", "(none)")
    assert factors["replies"]["value"] == "no, never"
    assert factors["tags"]["value"] == "(none)" and factors["bounced"]["value"] == "no"
    assert factors["value"]["value"] == "1000"
    assert factors["age"]["value"].endswith(" days")
    assert all(isinstance(f["value"], str) and f["value"] for f in out["factors"])


def test_an_archived_deal_is_not_forecast(small):
    conn, _ = small
    before = {p["email"] for p in outlook.forecast(conn, horizon="30d")["prospects"]}
    assert "d@x.example" in before
    prospects.archive(conn, "ana", "d@x.example")
    after = {p["email"] for p in outlook.forecast(conn, horizon="30d")["prospects"]}
    assert after == before - {"d@x.example"}


@pytest.mark.parametrize("deals", [3, 65])  # exact sums, then simulated (over 64 deals)
def test_certain_deals_sum_to_the_cent(deals):
    assert sums.value_interval([1.0] * deals, [0.5] * deals) == (deals / 2, deals / 2)


def test_an_unknown_horizon_unit_is_an_error(small, invoke):
    fails(invoke("forecast", "--horizon", "3m"), "--horizon", "'3m'", "30d, 90d, 12w")


@pytest.fixture
def machine_in_tokyo(monkeypatch):
    """The machine's own zone (TZ) far east of UTC; restored afterwards."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_fit_names_the_utc_day_whatever_the_machines_zone(conn, machine_in_tokyo):
    # the cutoff is 2025-04-01T00:00Z, 09:00 on 04-01 in Tokyo: the day named is still 03-31
    build(conn, OPEN_ONLY)
    cutoff = outlook.window(date(2025, 3, 31), "90d").cutoff
    with pytest.raises(NotEnoughHistory, match="by 2025-03-31, need"):
        fit(History(conn), cutoff, 90)


def test_a_deal_archived_at_the_very_end_of_the_as_of_day_is_not_forecast(small):
    """Archived at 2025-04-01T00:00:00Z, the cutoff of 03-31 in UTC: that instant counts,
    as a win at it does. (``archive`` stamps the current time: the row says when.)"""
    conn, ids = small
    conn.execute("UPDATE prospects SET archived_at = '2025-04-01T00:00:00Z' WHERE id = ?",
                 (ids["d@x.example"],))
    r = outlook.forecast(conn, as_of=AS_OF, horizon="30d", today=TODAY)
    assert {p["email"] for p in r["prospects"]} == {"c@x.example", "e@x.example",
                                                    "f@x.example", "h@x.example"}


def test_the_typical_deal_has_no_reply_unless_most_deals_had_one(conn, invoke):
    """50 deals open at the one past snapshot (2025-06-01), exactly half with a reply 17
    days before it; 10 won in June, 40 lost: the typical deal has *no* known reply time
    (that takes more than half of them)."""
    from salescli.pipeline import interactions

    deals = [(f"t{i}@x.example", "ana", "2025-05-10T09:00:00Z", "lead", 1000,
              [("won" if i < 10 else "lost", "2025-06-10T09:00:00Z")]) for i in range(50)]
    deals.append(("open@x.example", "ana", "2025-06-20T09:00:00Z", "lead", 1000, []))
    ids = build(conn, deals)
    for i in range(0, 50, 2):
        interactions.record(conn, "scan", ids[f"t{i}@x.example"], "email_in",
                            "2025-05-15T00:00:00Z")
    out = json.loads(ok(invoke("forecast", "--as-of", "2025-06-30", "--horizon", "30d",
                               "--explain", "open@x.example", "--format", "json")))
    assert out["model"]["kind"] == "learned"
    [replies] = [f for f in out["factors"] if f["factor"] == "replies"]
    assert replies["value"] == "no, never" and replies["typical"].endswith(", never")


# ---- found by a fresh sample: --sample 80 --seed 41 (same --tests)


def test_a_certain_deal_lands_in_the_top_calibration_band(conn):
    """The young history of test_young.py as of 03-27: the proposal rate is 2/2, so D (lost
    03-28) and F (never won) are forecast at 100 %."""
    build(conn, YOUNG)
    r = backtest.backtest(conn, as_of="2025-03-27", horizon="90d", today=TODAY)
    top = [b for b in r["calibration"] if b["band"] == "90-100%"]
    assert top == [{"band": "90-100%", "deals": 2, "predicted": 1.0, "actual": 0.0}]


def test_a_backtest_without_as_of_is_refused_by_the_library_too(small):
    with pytest.raises(InvalidValue) as err:
        backtest.backtest(small[0], as_of=None, horizon="30d", today=TODAY)
    assert str(err.value) == "--as-of '' is required (a day whose horizon is over)"


def test_a_backtest_whose_horizon_is_not_over_is_one_exact_error(small, invoke):
    day = (date.today() - timedelta(days=10)).isoformat()
    end = (date.today() + timedelta(days=20)).isoformat()
    assert fails(invoke("forecast", "backtest", "--as-of", day, "--horizon", "30d")) == (
        f"Error: --as-of '{day}' is too recent: its 30d horizon ends {end}, which is not "
        "over yet")


def test_the_rolling_series_counts_the_deals_won(small):
    r = backtest.rolling(small[0], horizon="30d", today=date(2025, 6, 1))
    first = r["series"][0]
    assert (first["forecast_count"], first["actual_count"]) == (1.5, 2)


def test_the_months_ahead_in_the_weekly_bands_name_their_currency(small):
    rows = backtest.monthly_bands(small[0], date(2025, 4, 30))
    ahead = [r for r in rows if r["actual"] is None]
    assert ahead and all(r["currency"] == "USD" for r in ahead)


def test_an_as_of_given_as_a_date_is_that_day(small):
    conn, _ = small
    as_date = outlook.forecast(conn, as_of=date(2025, 3, 31), horizon="30d", today=TODAY)
    assert as_date["as_of"] == AS_OF
    assert as_date["rows"] == outlook.forecast(conn, as_of=AS_OF, horizon="30d",
                                               today=TODAY)["rows"]


def test_an_as_of_after_today_is_one_exact_error(small, invoke):
    assert fails(invoke("forecast", "--as-of", "2999-01-01")) == \
        f"Error: --as-of '2999-01-01' is after today ({date.today().isoformat()})"


def test_a_forecast_without_open_deals_still_has_a_total_row():
    assert [(x["period"], x["deals"], x["currency"]) for x in outlook.group([], "month")] == \
        [("total", 0, "USD")]


def test_a_horizon_over_730_days_is_refused_and_730_is_not(small, invoke):
    fails(invoke("forecast", "--horizon", "731d"), "--horizon", "'731d'", "at most 730 days")
    assert outlook.window(date(2025, 3, 31), "730d").days == 730
    # weeks count as 7 days against the same limit: 105 weeks are 735 days
    fails(invoke("forecast", "--horizon", "105w"), "--horizon", "'105w'", "at most 730 days")
    assert outlook.window(date(2025, 3, 31), "104W").days == 728


def test_a_bad_time_zone_is_one_exact_error(small, invoke, monkeypatch):
    monkeypatch.setenv("SALESCLI_TZ", "Mars/Olympus")
    assert fails(invoke("forecast")) == ("Error: SALESCLI_TZ 'Mars/Olympus' is not a known "
                                         "time zone (e.g. UTC, Europe/Berlin)")


# ---- found by a fresh sample: --sample 80 --seed 81 (same --tests)


def test_deals_without_a_value_still_teach_the_learned_model(conn):
    """Closed deals that never had a value are training rows like any other (their value
    band is 'none'): the forecast of the valued open deals still runs on the learned model."""
    generated(conn)
    # open at the past snapshots of 08-22 and 09-21 (30 and 60 days before the horizon)
    build(conn, [(f"nv{i}@x.example", "ana", "2025-08-01T09:00:00Z", "meeting", None,
                  [("lost", "2025-09-30T09:00:00Z")]) for i in range(5)])
    r = outlook.forecast(conn, as_of="2025-10-20", horizon="30d", today=TODAY)
    assert r["model"]["kind"] == "learned"
    assert r["prospects"] and all(p["value"] == 1000 for p in r["prospects"])


def test_explain_gives_points_to_a_tenth_and_the_typical_value(conn, invoke):
    generated(conn)
    r = outlook.forecast(conn, as_of="2025-10-20", horizon="30d", today=TODAY)
    replied = next(d for d in r["prospects"] if int(d["email"][1:].split("@")[0]) % 2 == 0)
    out = json.loads(ok(invoke("forecast", "--as-of", "2025-10-20", "--horizon", "30d",
                               "--explain", str(replied["prospect_id"]), "--format", "json")))
    points = [f["points"] for f in out["factors"]]
    assert all(round(p, 1) == p for p in points)
    assert any(p != int(p) for p in points)  # tenths, not whole points
    factors = {f["factor"]: f for f in out["factors"]}
    assert factors["value"]["typical"] == "1000"  # the median value of the open deals


def test_forecast_json_names_its_grouping_and_money_is_to_the_cent(conn, invoke):
    generated(conn)
    out = json.loads(ok(invoke("forecast", "--as-of", "2025-10-20", "--horizon", "30d",
                               "--by", "owner", "--format", "json")))
    assert out["by"] == "owner"
    assert {r["period"] for r in out["rows"]} == {"ana", "bo", "total"}
    for row in out["rows"]:
        assert row["expected_value"] == round(row["expected_value"], 2), row


def test_the_stage_win_rate_from_here_is_to_four_places(conn):
    build(conn, [("w@x.example", "ana", "2025-01-02T09:00:00Z", "proposal", 100,
                  [("won", "2025-01-10T09:00:00Z")]),
                 ("l1@x.example", "ana", "2025-01-02T09:00:00Z", "proposal", 100,
                  [("lost", "2025-01-10T09:00:00Z")]),
                 ("l2@x.example", "ana", "2025-01-02T09:00:00Z", "proposal", 100,
                  [("lost", "2025-01-11T09:00:00Z")])])
    rows = {r["stage"]: r for r in store.stage_outlook(conn)}
    assert (rows["proposal"]["closed_since"], rows["proposal"]["win_rate"]) == (3, 0.3333)


# ---- found by a fresh sample: --sample 80 --seed 91 (same --tests)


def test_today_is_the_day_in_salescli_tz_not_on_the_machines_clock(small, invoke, monkeypatch):
    """26 hours apart, UTC-12 (the machine) and UTC+14 (SALESCLI_TZ) never share a date:
    the default as-of day is the one in SALESCLI_TZ."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("TZ", "Etc/GMT+12")
    time.tzset()
    try:
        monkeypatch.setenv("SALESCLI_TZ", "Etc/GMT-14")
        before = datetime.now(ZoneInfo("Etc/GMT-14")).date().isoformat()
        out = json.loads(ok(invoke("forecast", "--format", "json")))
        after = datetime.now(ZoneInfo("Etc/GMT-14")).date().isoformat()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert out["as_of"] in (before, after)


def test_a_month_ahead_in_the_weekly_report_is_the_forecasts_band(small):
    conn, _ = small
    [april] = backtest.monthly_bands(conn, date(2025, 3, 31), months_back=0, months_ahead=1)
    ahead = outlook.forecast(conn, horizon="90d", by="month", today=date(2025, 3, 31))
    [row] = [r for r in ahead["rows"] if r["period"] == "2025-04"]
    assert april == {"month": "2025-04", "currency": "USD", "expected": row["expected_value"],
                     "low": row["value_low"], "high": row["value_high"], "actual": None,
                     "model": "stage rates"}
    assert april["low"] < april["expected"] < april["high"]


def test_a_quarter_horizon_cuts_off_at_midnight_in_salescli_tz(small, monkeypatch,
                                                                machine_in_tokyo):
    # H was won at 02:00Z on 04-01, 22:00 on 03-31 in New York: closed by the cutoff, so
    # not forecast, whatever the horizon
    conn, _ = small
    monkeypatch.setenv("SALESCLI_TZ", "America/New_York")
    r = outlook.forecast(conn, as_of=AS_OF, horizon="QUARTER", today=TODAY)
    assert r["horizon"] == "QUARTER"
    emails = {p["email"] for p in r["prospects"]}
    assert "h@x.example" not in emails and "f@x.example" in emails
