"""The dashboard's sums of values with two currencies (issue 16): a row (or a figure) per
currency, the default one (SALESCLI_CURRENCY) for prospects without their own."""

from __future__ import annotations

import urllib.parse
from datetime import timedelta

import pytest

from tests.support.cli import ok
from tests.web.conftest import SECRET, bearer, run


@pytest.fixture
def dash(invoke, sales, monkeypatch):
    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    monkeypatch.setenv("SALESCLI_CURRENCY", "GBP")
    ok(invoke("users", "add", "max", "--role", "manager", "--no-password"))
    for args in (("a@example.com", "--value", "5000", "--owner", "ana"),
                 ("b@example.com", "--value", "300", "--currency", "EUR", "--owner", "ana"),
                 ("c@example.com", "--value", "1000", "--owner", "bo"),
                 ("d@example.com", "--value", "40", "--currency", "EUR", "--owner", "bo")):
        ok(invoke("prospects", "add", *args))
    ok(invoke("prospects", "move", "c@example.com", "won", "--reason", "signed"))
    from salescli.web import server
    from salescli.web.tokens import create_token

    token = create_token(sales, "max", timedelta(days=1), "setup")[0]
    ds = server.build_datasette(sales)
    charts = server.load_metadata()["plugins"]["datasette-dashboards"]["pipeline"]["charts"]

    def get(path):
        response = run(ds.client.get(path, headers=bearer(token)))
        assert response.status_code == 200, response.text[:500]
        return response.json()["rows"]

    def chart(name, **params):
        sql = charts[name]["query"]
        return get("/sales.json?" + urllib.parse.urlencode(
            {"sql": sql, "_shape": "objects", "owner": "", "stale_days": "14", **params}))

    return get, chart


def test_prospects_per_stage_has_a_row_per_currency(dash):
    get, _ = dash
    rows = get("/sales/prospects_per_stage.json?_shape=objects")
    lead = [(r["currency"], r["prospects"], r["value"]) for r in rows if r["stage"] == "lead"]
    assert lead == [("EUR", 2, 340), ("GBP", 1, 5000)]
    won = [(r["currency"], r["value"]) for r in rows if r["stage"] == "won"]
    assert won == [("GBP", 1000)]
    empty = [(r["currency"], r["prospects"], r["value"]) for r in rows
             if r["stage"] == "contacted"]
    assert empty == [("GBP", 0, 0)]


def test_owner_summary_has_a_row_per_owner_and_currency(dash):
    get, _ = dash
    rows = get("/sales/owner_summary.json?_shape=objects")
    got = {(r["owner"], r["currency"]): (r["open_value"], r["won_value"]) for r in rows}
    assert got == {("ana", "EUR"): (300, 0), ("ana", "GBP"): (5000, 0),
                   ("bo", "EUR"): (40, 0), ("bo", "GBP"): (0, 1000)}


def test_dashboard_figures_per_currency(dash):
    _, chart = dash
    assert chart("open_value") == [{"v": "340 EUR · 5,000 GBP"}]
    assert chart("open_value", owner="bo") == [{"v": "40 EUR"}]
    owners = {r["owner"]: r["open_value"] for r in chart("owners")}
    assert owners == {"ana": "300 EUR · 5,000 GBP", "bo": "40 EUR"}
