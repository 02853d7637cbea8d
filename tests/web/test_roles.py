"""Role × route × status, through the real Datasette and the real plugin, for API tokens and
for browser sessions; anonymous requests are refused everywhere except the login page."""

from __future__ import annotations

import sqlite3

import pytest

from tests.web.conftest import bearer, run

ROLES = ["admin", "manager", "analyst", "operator"]
OK, DENIED, UNAUTH = 200, 403, 401
FULL = {"admin": OK, "manager": OK, "analyst": OK}


def expect(operator: int, admin: int = OK, manager: int = OK, analyst: int = OK) -> dict:
    return {"admin": admin, "manager": manager, "analyst": analyst, "operator": operator}


# path → expected status per role
MATRIX = {
    "/": expect(OK),
    "/.json": expect(OK),
    "/sales": expect(OK),
    "/sales.json": expect(OK),
    "/sales/prospects": expect(OK),
    "/sales/prospects.json?_shape=objects": expect(OK),
    "/sales/prospects/1": expect(OK),
    "/sales/prospects/1.json": expect(OK),
    "/sales/prospects?_search=carol": expect(OK),
    "/sales/prospects.json?_where=id>0": expect(DENIED),
    "/sales/stages": expect(DENIED),
    "/sales/stages/1.json": expect(DENIED),
    "/sales/users.json": expect(DENIED),
    "/sales/activities": expect(DENIED),
    "/sales/pipeline_funnel": expect(OK),
    "/sales/pipeline_funnel.json?_shape=objects": expect(OK),
    "/sales/stale_prospects.json?stale_days=1": expect(OK),
    "/sales?sql=select+count(*)+from+prospects": expect(DENIED),
    "/sales.json?sql=select+1": expect(DENIED),
    "/sales/prospects.csv": expect(DENIED),
    "/sales/prospects.csv?_stream=on": expect(DENIED),
    "/sales/prospects.json?_stream=on": expect(DENIED),
    "/sales/prospects/1.csv": expect(DENIED),
    "/sales/pipeline_funnel.csv": expect(DENIED),
    "/sales.csv?sql=select+1": expect(DENIED),
    "/-/dashboards": expect(OK),
    "/-/dashboards/pipeline": expect(DENIED),
    "/-/dashboards/pipeline/funnel": expect(DENIED),
    "/-/login": expect(OK),
    "/-/logout": expect(OK),
    "/-/actor.json": expect(OK),
    "/-/permissions": expect(DENIED, analyst=DENIED),
    "/sales.db": expect(DENIED, DENIED, DENIED, DENIED),
    "/_internal": expect(DENIED, DENIED, DENIED, DENIED),
    "/_internal/databases.json": expect(DENIED, DENIED, DENIED, DENIED),
}


def request_as(env, role: str, mode: str, path: str, **kwargs):
    ds = env["ds"]
    if mode == "token":
        return run(ds.client.get(path, headers=bearer(env["tokens"][role]), **kwargs))
    return run(ds.client.get(path, cookies={"ds_actor": env["sessions"][role]}, **kwargs))


@pytest.mark.parametrize("mode", ["token", "session"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", list(MATRIX))
def test_role_route_status(web_env, mode, role, path):
    response = request_as(web_env, role, mode, path)
    assert response.status_code == MATRIX[path][role], response.text[:300]
    if response.status_code != OK:
        assert "xss1@example.com" not in response.text


@pytest.mark.parametrize("path", [p for p in MATRIX if p != "/-/login"]
                         + ["/sales/stages.json", "/-/dashboards/pipeline/embed",
                            "/-/allow-debug", "/-/databases.json", "/sales/prospects.json"])
def test_anonymous_is_refused_everywhere(web_env, path):
    api = run(web_env["ds"].client.get(path))
    assert api.status_code == UNAUTH
    assert api.headers["www-authenticate"].startswith("Bearer")
    assert "example.com" not in api.text
    browser = run(web_env["ds"].client.get(path, headers={"Accept": "text/html"}))
    assert browser.status_code in (302, UNAUTH)
    if browser.status_code == 302:
        assert browser.headers["location"].startswith("/-/login?next=")


def test_anonymous_login_page_is_served(web_env):
    page = run(web_env["ds"].client.get("/-/login"))
    assert page.status_code == OK
    assert 'name="password"' in page.text and 'name="csrftoken"' in page.text
    assert page.headers["x-frame-options"] == "SAMEORIGIN"


@pytest.mark.parametrize("role", ROLES)
def test_every_table_and_view_by_role(web_env, role):
    """Operators see the prospects table only; the other roles see every table."""
    conn = sqlite3.connect(web_env["db_file"])
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        " AND name NOT LIKE 'sqlite_%'")]
    conn.close()
    assert "prospects" in names and len(names) > 10
    wrong = []
    for name in names:
        status = request_as(web_env, role, "token", f"/sales/{name}.json").status_code
        want = OK if role != "operator" or name == "prospects" else DENIED
        if status != want:
            wrong.append((name, status))
    assert not wrong


def test_database_page_lists_only_what_the_role_may_see(web_env):
    tables = {t["name"] for t in request_as(web_env, "operator", "token",
                                            "/sales.json").json()["tables"]}
    assert tables == {"prospects"}
    tables = {t["name"] for t in request_as(web_env, "analyst", "token",
                                            "/sales.json").json()["tables"]}
    assert {"prospects", "stages", "activities", "users"} <= tables


@pytest.mark.parametrize("role", ["admin", "manager", "analyst"])
def test_csv_export_for_roles_with_export(web_env, role):
    response = request_as(web_env, role, "token", "/sales/prospects.csv?_stream=on")
    assert response.status_code == OK
    assert response.headers["content-type"].startswith("text/plain") or \
        response.headers["content-type"].startswith("text/csv")
    header = response.text.splitlines()[0]
    assert header.startswith("id,email,name")
    assert "xss2@example.com" in response.text


def test_operator_json_of_prospects_and_canned_queries(web_env):
    rows = request_as(web_env, "operator", "session",
                      "/sales/prospects.json?_shape=objects").json()["rows"]
    assert {r["email"] for r in rows} >= {"xss1@example.com", "carol@example.com"}
    found = request_as(web_env, "operator", "token",
                       "/sales/prospects.json?_shape=objects&_search=initech").json()["rows"]
    assert [r["email"] for r in found] == ["carol@example.com"]
    funnel = request_as(web_env, "operator", "token",
                        "/sales/pipeline_funnel.json?_shape=objects").json()["rows"]
    assert [r["stage"] for r in funnel][:3] == ["lead", "contacted", "replied"]
    assert funnel[0]["prospects"] == 4


def test_table_level_allow_in_metadata_cannot_open_a_table(web_env, monkeypatch):
    """Datasette lets a table-level ``allow`` answer; ours answers last, so it still wins."""
    ds = web_env["ds"]
    metadata = {**ds._metadata_local, "databases": {"sales": {
        **ds._metadata_local["databases"]["sales"],
        "tables": {"users": {"allow": True}, "stages": {"allow": {"id": "*"}}}}}}
    monkeypatch.setattr(ds, "_metadata_local", metadata)
    assert run(ds.client.get("/sales/users.json")).status_code == UNAUTH
    assert request_as(web_env, "operator", "token", "/sales/users.json").status_code == DENIED
    assert request_as(web_env, "operator", "token", "/sales/stages.json").status_code == DENIED
