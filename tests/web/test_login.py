"""The browser sign-in: /-/login and /-/logout, CSRF, throttling, session cookies that end when
the user is disabled, the password changes or they sign out, and survive a restart."""

from __future__ import annotations

import json
import re
import time

import pytest
from datasette.utils import baseconv

from salescli.core.db import open_write
from salescli.web import server
from tests.web.conftest import PASSWORD, login, run, signin_events


def cookie_get(ds, path, cookie):
    return run(ds.client.get(path, cookies={"ds_actor": cookie}))


def test_login_sets_a_session_cookie_and_lands_by_role(fresh):
    ds = fresh["ds"]
    manager = login(ds, "maria", PASSWORD)
    assert manager.status_code == 302
    assert manager.headers["location"] == "/-/dashboards/pipeline"
    set_cookie = manager.headers["set-cookie"]
    assert "ds_actor=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie
    assert "Max-Age=" in set_cookie
    actor = cookie_get(ds, "/-/actor.json", manager.cookies["ds_actor"]).json()["actor"]
    assert actor["id"] == "maria" and actor["role"] == "manager" and actor["auth"] == "session"
    operator = login(ds, "otto", PASSWORD)
    assert operator.headers["location"] == "/sales"
    dashboard = cookie_get(ds, "/-/dashboards/pipeline", manager.cookies["ds_actor"])
    assert dashboard.status_code == 200 and "Sales pipeline" in dashboard.text
    assert [e[:2] for e in signin_events(fresh["db_file"])] == [("login", "maria"),
                                                                ("login", "otto")]


@pytest.mark.parametrize("username, password", [
    ("maria", "wrong password"), ("nobody", PASSWORD), ("dora-disabled", PASSWORD), ("", "")])
def test_failed_logins_get_one_generic_message(fresh, username, password):
    from salescli.web.users import set_disabled

    if username == "dora-disabled":
        conn = open_write(fresh["db_file"])
        set_disabled(conn, "t", "dora", True)
        conn.close()
        username = "dora"
    response = login(fresh["ds"], username, password)
    assert response.status_code == 401
    assert "Sign-in failed: unknown user or wrong password." in response.text
    assert "ds_actor" not in response.cookies
    events = signin_events(fresh["db_file"])
    assert events[-1][0] == "login_failed"


def test_login_is_throttled_after_repeated_failures(fresh):
    ds = fresh["ds"]
    for _ in range(5):
        assert login(ds, "maria", "nope nope").status_code == 401
    throttled = login(ds, "maria", PASSWORD)  # even the right password
    assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text
    assert "ds_actor" not in throttled.cookies
    assert login(ds, "anna", PASSWORD).status_code == 302  # other users are not locked out
    events = [e[0] for e in signin_events(fresh["db_file"])]
    assert events == ["login_failed"] * 5 + ["login_throttled", "login"]


def test_login_without_the_csrf_pair_is_refused(fresh):
    ds = fresh["ds"]
    no_cookie = run(ds.client.post("/-/login", data={"username": "maria",
                                                     "password": PASSWORD}))
    assert no_cookie.status_code == 403 and "ds_actor" not in no_cookie.cookies
    page = run(ds.client.get("/-/login"))
    csrf = page.cookies["ds_csrftoken"]
    mismatch = run(ds.client.post("/-/login", data={"username": "maria", "password": PASSWORD,
                                                    "csrftoken": "x" + csrf},
                                  cookies={"ds_csrftoken": csrf}))
    assert mismatch.status_code == 403 and "ds_actor" not in mismatch.cookies
    # asgi-csrf also takes the token from an x-csrftoken header; the form wants its field.
    no_field = run(ds.client.post("/-/login", data={"username": "maria", "password": PASSWORD},
                                  headers={"x-csrftoken": csrf}, cookies={"ds_csrftoken": csrf}))
    assert no_field.status_code == 403 and "ds_actor" not in no_field.cookies
    assert "The form expired. Please try again." in no_field.text
    assert signin_events(fresh["db_file"]) == []


@pytest.mark.parametrize("target, landing", [
    ("/sales/prospects?owner=maria", "/sales/prospects?owner=maria"),
    ("//evil.example/", "/-/dashboards/pipeline"),
    ("https://evil.example/", "/-/dashboards/pipeline"),
    ("/\\evil.example", "/-/dashboards/pipeline"),
])
def test_next_only_redirects_to_local_paths(fresh, target, landing):
    assert login(fresh["ds"], "maria", PASSWORD, next_url=target).headers["location"] == landing


def test_browser_is_sent_to_login_and_back(fresh):
    response = run(fresh["ds"].client.get("/sales/prospects?_sort=name",
                                          headers={"Accept": "text/html"}))
    assert response.status_code == 302
    assert response.headers["location"] == "/-/login?next=%2Fsales%2Fprospects%3F_sort%3Dname"


def test_the_way_back_keeps_the_path_as_the_browser_sent_it(fresh):
    """A table whose name holds a slash is reached as ``%2F``: after sign-in the browser goes
    back to that table, not to the path the decoded slash would make."""
    response = run(fresh["ds"].client.get("/sales/a%2Fb", headers={"Accept": "text/html"}))
    assert response.status_code == 302
    assert response.headers["location"] == "/-/login?next=%2Fsales%2Fa%252Fb"


def test_disabling_a_user_ends_their_session(fresh):
    from salescli.web.users import set_disabled

    ds = fresh["ds"]
    cookie = login(ds, "anna", PASSWORD).cookies["ds_actor"]
    assert cookie_get(ds, "/sales/stages.json", cookie).status_code == 200
    conn = open_write(fresh["db_file"])
    set_disabled(conn, "t", "anna", True)
    conn.close()
    assert cookie_get(ds, "/sales/stages.json", cookie).status_code == 401
    assert signin_events(fresh["db_file"])[-1][:2] == ("session_refused", "anna")


def test_changing_the_password_ends_sessions(fresh):
    from salescli.web.users import passwd

    ds = fresh["ds"]
    cookie = login(ds, "anna", PASSWORD).cookies["ds_actor"]
    conn = open_write(fresh["db_file"])
    passwd(conn, fresh["db_file"], "t", "anna", "a brand new password")
    conn.close()
    assert cookie_get(ds, "/sales.json", cookie).status_code == 401
    assert login(ds, "anna", "a brand new password").status_code == 302


def test_a_role_change_ends_open_sessions_and_the_next_one_has_the_new_role(fresh):
    from salescli.web.users import set_role

    ds = fresh["ds"]
    cookie = login(ds, "anna", PASSWORD).cookies["ds_actor"]
    conn = open_write(fresh["db_file"])
    set_role(conn, "t", "anna", "operator")
    conn.close()
    assert cookie_get(ds, "/sales/prospects.json", cookie).status_code == 401
    again = login(ds, "anna", PASSWORD).cookies["ds_actor"]
    assert cookie_get(ds, "/sales/stages.json", again).status_code == 403
    assert cookie_get(ds, "/sales/prospects.json", again).status_code == 200


def test_logout_revokes_the_session_even_for_a_copied_cookie(fresh):
    ds = fresh["ds"]
    cookie = login(ds, "maria", PASSWORD).cookies["ds_actor"]
    page = run(ds.client.get("/-/logout", cookies={"ds_actor": cookie}))
    assert page.status_code == 200 and "Sign out" in page.text
    csrf = page.cookies["ds_csrftoken"]
    assert re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1) == csrf
    out = run(ds.client.post("/-/logout", data={"csrftoken": csrf},
                             cookies={"ds_actor": cookie, "ds_csrftoken": csrf}))
    assert out.status_code == 302 and out.headers["location"] == "/-/login"
    assert 'ds_actor=""' in out.headers["set-cookie"] or "ds_actor=;" in out.headers["set-cookie"]
    assert cookie_get(ds, "/sales.json", cookie).status_code == 401
    assert [e[0] for e in signin_events(fresh["db_file"])][-2:] == ["logout", "session_refused"]


def test_logout_needs_csrf(fresh):
    ds = fresh["ds"]
    cookie = login(ds, "maria", PASSWORD).cookies["ds_actor"]
    forged = run(ds.client.post("/-/logout", cookies={"ds_actor": cookie}))
    assert forged.status_code == 403
    assert cookie_get(ds, "/sales.json", cookie).status_code == 200


def test_sessions_survive_a_restart_with_the_same_secret(fresh, monkeypatch):
    cookie = login(fresh["ds"], "maria", PASSWORD).cookies["ds_actor"]
    restarted = server.build_datasette(fresh["db_file"])
    try:
        assert cookie_get(restarted, "/sales.json", cookie).status_code == 200
    finally:
        restarted._salescli_auth.close()
    monkeypatch.setenv("SALESCLI_SECRET", "another-secret-" + "z" * 40)
    rekeyed = server.build_datasette(fresh["db_file"])
    try:
        assert cookie_get(rekeyed, "/sales.json", cookie).status_code == 401
    finally:
        rekeyed._salescli_auth.close()


def test_forged_and_foreign_cookies_are_refused(fresh):
    ds = fresh["ds"]
    future = baseconv.base62.encode(int(time.time()) + 3600)
    past = baseconv.base62.encode(int(time.time()) - 10)
    good = login(ds, "maria", PASSWORD).cookies["ds_actor"]
    session = json.loads(cookie_get(ds, "/-/actor.json", good).text)["actor"]
    # Datasette's own root cookie, properly signed, carries no salescli session.
    root = ds.sign({"a": {"id": "root"}, "e": future}, "actor")
    expired = ds.sign({"a": {"id": "maria", "sid": session["sid"], "pw": "x"}, "e": past},
                      "actor")
    guessed = ds.sign({"a": {"id": "ada", "sid": session["sid"], "pw": "x"}, "e": future},
                      "actor")
    for cookie in [root, expired, guessed, good[:-2] + "xx"]:
        response = cookie_get(ds, "/sales.json", cookie)
        assert response.status_code == 401
        login_page = cookie_get(ds, "/-/login", cookie)
        assert "root" not in login_page.text.split("<h1>")[0]


def test_oversized_or_unsized_login_posts_are_refused(fresh):
    ds = fresh["ds"]
    big = run(ds.client.post("/-/login", content=b"username=" + b"a" * 20000,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert big.status_code == 413

    async def chunked():
        yield b"username=maria&password=x"

    unsized = run(ds.client.post("/-/login", content=chunked(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert unsized.status_code == 411
    assert signin_events(fresh["db_file"]) == []


def test_an_expired_form_says_so_keeps_the_username_and_can_be_sent_again(fresh):
    """A form posted without its CSRF cookie (expired, or cleared by the browser)."""
    stale = run(fresh["ds"].client.post("/-/login", data={"username": "maria",
                                                          "password": PASSWORD}))
    assert stale.status_code == 403
    assert "The form expired. Please try again." in stale.text
    assert 'value="maria"' in stale.text
    # The page carries a fresh pair, so trying again works.
    csrf = stale.cookies["ds_csrftoken"]
    assert re.search(r'name="csrftoken" value="([^"]+)"', stale.text).group(1) == csrf
    again = run(fresh["ds"].client.post("/-/login", data={"username": "maria",
                                                          "password": PASSWORD,
                                                          "csrftoken": csrf},
                                        cookies={"ds_csrftoken": csrf}))
    assert again.status_code == 302 and "ds_actor" in again.cookies
