"""Datasette's introspection pages are for admins: ``/-/databases.json`` shows the database
file's path on disk, the others the server's configuration. (role, path, status) rows, for
tokens and browser sessions."""

from __future__ import annotations

import pytest

from tests.web.conftest import run
from tests.web.test_roles import ROLES, request_as

ADMIN_PAGES = ["/-/databases.json", "/-/databases", "/-/metadata", "/-/metadata.json",
               "/-/versions", "/-/versions.json", "/-/plugins", "/-/plugins.json",
               "/-/settings", "/-/settings.json", "/-/threads", "/-/threads.json",
               "/-/config.json", "/-/databases.json/", "/-/Versions.json",
               "/-/%76ersions.json", "/-/databases%2Ejson"]
OPEN_PAGES = ["/-/actor.json", "/-/dashboards", "/-/login", "/-/logout"]
ROWS = [(role, path, 200 if role == "admin" else 403) for role in ROLES
        for path in ADMIN_PAGES[:12]]
ROWS += [(role, path, 403) for role in ROLES if role != "admin" for path in ADMIN_PAGES[12:]]
ROWS += [(role, path, 200) for role in ROLES for path in OPEN_PAGES]


@pytest.mark.parametrize("mode", ["token", "session"])
@pytest.mark.parametrize("role, path, status", ROWS)
def test_introspection_pages_by_role(web_env, mode, role, path, status):
    response = request_as(web_env, role, mode, path)
    assert response.status_code == status, response.text[:200]
    if status == 403:
        assert str(web_env["db_file"].parent) not in response.text


def test_the_admin_sees_the_path_nobody_else_does(web_env):
    where = str(web_env["db_file"])
    assert where in request_as(web_env, "admin", "token", "/-/databases.json").text
    for role in ROLES:
        if role != "admin":
            for path in ["/-/databases.json", "/sales.json", "/.json", "/sales"]:
                assert where not in request_as(web_env, role, "token", path).text, path


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_gets_401(web_env, path):
    assert run(web_env["ds"].client.get(path)).status_code == 401


def test_the_refusal_says_the_page_is_for_admins(fresh, monkeypatch):
    """On a Datasette of its own (so that ./dev mutants, which maps each test to the code
    it ran, sees this test build the guard): the 403's JSON says why."""
    import json
    from datetime import timedelta

    from salescli.web.tokens import create_token
    from tests.web.conftest import SECRET, bearer

    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    token, _ = create_token(fresh["db_file"], "maria", timedelta(hours=1), "t")
    response = run(fresh["ds"].client.get("/-/versions.json", headers=bearer(token)))
    assert response.status_code == 403
    assert json.loads(response.text) == {"ok": False, "error": "this page is for admins only",
                                         "status": 403}


@pytest.mark.parametrize("path", ["/-/versionsX", "/-/databases.jsonX", "/-/plugins/X"])
def test_a_page_merely_named_like_an_admin_page_is_no_admin_page(web_env, path):
    """Only the trailing slash is dropped before the name is compared: a longer name is some
    other (missing) page, a 404 for everyone, not a page "for admins only"."""
    response = request_as(web_env, "analyst", "token", path)
    assert response.status_code == 404, response.text[:200]
