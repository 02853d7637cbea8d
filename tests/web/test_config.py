"""The bundled Datasette configuration: every canned query and dashboard chart runs on the
current schema, and no canned query hides a table or view of the same name."""

from __future__ import annotations

import sqlite3
import urllib.parse

import pytest

from salescli.web import server
from tests.web.conftest import XSS_NAMES, bearer, run

METADATA = server.load_metadata()
QUERIES = METADATA["databases"]["sales"]["queries"]
DASHBOARD = METADATA["plugins"]["datasette-dashboards"]["pipeline"]
CHARTS = {k: v for k, v in DASHBOARD["charts"].items() if "query" in v}


def manager_get(env, path):
    return run(env["ds"].client.get(path, headers=bearer(env["tokens"]["manager"])))


@pytest.mark.parametrize("name", list(QUERIES))
@pytest.mark.parametrize("params", ["", "&owner=maria&since=2000-01-01&until=2999-12-31"
                                    "&stale_days=1"])
def test_canned_query_runs(web_env, name, params):
    response = manager_get(web_env, f"/sales/{name}.json?_shape=objects{params}")
    assert response.status_code == 200, response.text[:500]
    assert isinstance(response.json()["rows"], list)


@pytest.mark.parametrize("chart", list(CHARTS))
def test_dashboard_chart_query_runs(web_env, chart):
    sql = CHARTS[chart]["query"]
    response = manager_get(web_env, "/sales.json?" + urllib.parse.urlencode(
        {"sql": sql, "_shape": "objects", "owner": "", "stale_days": "1"}))
    assert response.status_code == 200, response.text[:500]
    assert response.json()["rows"], f"{chart} returned no rows on the test data"


def test_canned_queries_do_not_shadow_tables_or_views(web_env):
    conn = sqlite3.connect(web_env["db_file"])
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert not set(QUERIES) & names


def test_figures_on_known_data(web_env):
    funnel = {r["stage"]: r["prospects"] for r in manager_get(
        web_env, "/sales/pipeline_funnel.json?_shape=objects").json()["rows"]}
    assert funnel["lead"] == 4 and funnel["replied"] == 2 and funnel["won"] == 1
    per_owner = {r["owner"]: r for r in manager_get(
        web_env, "/sales/owner_summary.json?_shape=objects").json()["rows"]}
    assert per_owner["maria"]["open"] == 2 and per_owner["otto"]["won"] == 1
    weeks = manager_get(web_env, "/sales/weekly_replies_bounces.json?_shape=objects").json()
    assert sum(r["replies"] for r in weeks["rows"]) == 1
    assert sum(r["bounces"] for r in weeks["rows"]) == 1
    stale = manager_get(web_env, "/sales/stale_prospects.json?_shape=objects&stale_days=30")
    assert [r["name"] for r in stale.json()["rows"]] == [XSS_NAMES[1]]  # xss1 bounced lately


def test_dashboard_table_charts_escape_html(web_env):
    sql = CHARTS["stale"]["query"]
    rows = manager_get(web_env, "/sales.json?" + urllib.parse.urlencode(
        {"sql": sql, "_shape": "objects", "stale_days": "1"})).json()["rows"]
    names = {r["name"] for r in rows}
    assert "&lt;img src=x onerror=alert(1)&gt;" in names
    assert not any("<" in str(v) for r in rows for v in r.values())


def test_dashboard_page_and_owner_filter(web_env):
    page = manager_get(web_env, "/-/dashboards/pipeline?owner=maria")
    assert page.status_code == 200
    assert "Sales pipeline" in page.text
    assert "eve&lt;script&gt;alert(4)&lt;/script&gt;" in page.text  # an option, escaped
    assert "<script>alert(4)" not in page.text


def test_task_and_sequence_panels(web_env):
    rows = manager_get(web_env, "/sales/open_tasks.json?_shape=objects").json()["rows"]
    assert [(r["owner"], r["kind"], r["overdue"]) for r in rows] == [("maria", "call", 1)]
    by_owner = manager_get(web_env, "/sales.json?" + urllib.parse.urlencode(
        {"sql": CHARTS["overdue_by_owner"]["query"], "_shape": "objects", "owner": ""})
    ).json()["rows"]
    assert by_owner == [{"owner": "maria", "overdue": 1, "today": 0, "later": 0}]
    table = manager_get(web_env, "/sales.json?" + urllib.parse.urlencode(
        {"sql": CHARTS["open_tasks"]["query"], "_shape": "objects", "owner": ""})
    ).json()["rows"]
    assert table[0]["task"] == "&lt;script&gt;alert(5)&lt;/script&gt; call back"
    steps = manager_get(web_env, "/sales/sequence_results.json?_shape=objects").json()["rows"]
    assert steps == [{"sequence": "intro", "step": 1, "sent": 0, "replied": 0, "bounced": 0,
                      "unsubscribed": 0}]
