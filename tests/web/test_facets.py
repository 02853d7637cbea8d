"""The prospects table's default facets: on the managers' HTML page, and in JSON only when
the URL names a facet (docs/dashboard.md, "JSON and CSV with curl")."""

from __future__ import annotations

import sqlite3

from tests.web.conftest import bearer, run

DEFAULTS = {"stage_id", "owner", "email_status"}


def get(env, path, role="manager"):
    response = run(env["ds"].client.get(path, headers=bearer(env["tokens"][role])))
    assert response.status_code == 200, response.text[:300]
    return response


def test_json_of_a_table_has_rows_and_no_default_facets(web_env):
    data = get(web_env, "/sales/prospects.json?_size=5&_sort_desc=updated_at").json()
    assert data["rows"] and data["facet_results"] == {}
    assert data["filtered_table_rows_count"] >= len(data["rows"])  # the count is still there


def test_json_asking_for_a_facet_gets_it_and_the_defaults(web_env):
    data = get(web_env, "/sales/prospects.json?_size=0&_facet=tags").json()
    assert set(data["facet_results"]) == DEFAULTS | {"tags"}
    owners = {v["value"]: v["count"] for v in data["facet_results"]["owner"]["results"]}
    assert owners["maria"] >= 1


def test_the_html_page_keeps_its_facets(web_env):
    page = get(web_env, "/sales/prospects?_size=5").text
    for column in DEFAULTS:
        assert f'data-column="{column}"' in page


def test_next_page_of_json_needs_no_facets_either(web_env):
    first = get(web_env, "/sales/prospects.json?_size=2").json()
    second = get(web_env, first["next_url"].split("localhost", 1)[-1]).json()
    assert second["rows"] and second["rows"] != first["rows"] and second["facet_results"] == {}


def test_facets_counted_at_once_are_each_columns_counts_in_order(web_env):
    data = get(web_env, "/sales/prospects.json?_size=0&_facet=tags").json()
    assert list(data["facet_results"]) == ["stage_id", "owner", "email_status", "tags"]
    conn = sqlite3.connect(web_env["db_file"])
    for column in DEFAULTS:
        want = dict(conn.execute(f"SELECT {column}, count(*) FROM prospects"
                                 f" WHERE {column} IS NOT NULL GROUP BY {column}"))
        got = {v["value"]: v["count"] for v in data["facet_results"][column]["results"]}
        assert got == want and want
    conn.close()
    stage = data["facet_results"]["stage_id"]["results"]
    assert {v["label"] for v in stage} >= {"lead"}  # labels from stages, as before
