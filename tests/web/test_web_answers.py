"""What the web server answers at its edges, found unchecked by ``./dev mutants`` (seed 31):
the JSON body of a refusal, HEAD requests, ``_dl`` as CSV, what the sign-in log says about
refused tokens and cookies, a streamed oversized unsubscribe POST, a damaged sign-in log,
CSV guarded as it streams, and the user and token edge values."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.web import auth, csvguard, tokens, users
from tests.web.conftest import PASSWORD, SECRET, bearer, claims_for, forge, run, signin_events

HS256 = {"alg": "HS256", "typ": "JWT"}


def refusals(db_file) -> list[tuple]:
    """(event, username, detail) of the refused tokens and cookies in the sign-in log."""
    return [(e, u, json.loads(d)) for e, u, d in signin_events(db_file)
            if e in ("token_refused", "session_refused")]


# --- refusals: status, JSON body, log row ---------------------------------------------


def guarded(fresh, app, method: str, path: str) -> list[dict]:
    """The ASGI messages our guard sends for one bodiless request to ``app``."""
    from salescli.web import plugin

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": "",
             "raw_path": path.encode(), "query_string": b"", "headers": [],
             "client": ("127.0.0.1", 40000), "scheme": "http", "http_version": "1.1"}
    run(plugin.guard(fresh["ds"], app)(scope, receive, send))
    return sent


def test_a_refusal_says_its_status_and_reason_in_json(web_env):
    response = run(web_env["ds"].client.get("/sales.json"))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"ok": False, "status": 401,
                               "error": "sign in or send Authorization: Bearer <token>"}


def test_an_unsized_form_post_is_told_what_is_missing(fresh):
    # (A Datasette of its own: the guard is built in this test, so ./dev mutants maps it here.)
    async def chunked():
        yield b"username=maria"

    response = run(fresh["ds"].client.post(
        "/-/login", content=chunked(),
        headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert response.status_code == 411
    assert response.json()["error"] == "Content-Length required"


def test_head_is_answered_like_get(web_env):
    response = run(web_env["ds"].client.head("/sales/prospects.json",
                                             headers=bearer(web_env["tokens"]["operator"])))
    assert response.status_code == 200


def test_dl_counts_as_a_csv_download_for_the_operator(web_env):
    operator = bearer(web_env["tokens"]["operator"])
    response = run(web_env["ds"].client.get("/sales/prospects.json?_dl=1", headers=operator))
    assert response.status_code == 403
    assert "CSV export is not allowed for the role operator" in response.json()["error"]


def test_a_refused_token_is_logged_under_its_claimed_user_and_reason(fresh):
    token = forge(HS256, claims_for("ada", "admin"), b"another-key-long-enough-for-hs256!!!")
    assert run(fresh["ds"].client.get("/sales", headers=bearer(token))).status_code == 401
    assert refusals(fresh["db_file"]) == [("token_refused", "ada",
                                          {"reason": "bad signature"})]


def test_a_token_with_an_empty_subject_is_logged_as_malformed_claims(fresh):
    claims = tokens.decode_token(SECRET.encode(), tokens.create_token(
        fresh["db_file"], "anna", timedelta(hours=1), "t", secret=SECRET.encode())[0])
    token = forge(HS256, {**claims, "jti": ""}, SECRET.encode())
    assert run(fresh["ds"].client.get("/sales", headers=bearer(token))).status_code == 401
    assert refusals(fresh["db_file"])[-1] == ("token_refused", "anna",
                                             {"reason": "malformed claims"})


def test_a_signed_cookie_without_an_expiry_is_logged_as_malformed(fresh):
    ds = fresh["ds"]
    cookie = ds.sign({"a": {"id": "maria", "sid": "s-x", "pw": "x"}}, "actor")
    response = run(ds.client.get("/sales.json", cookies={"ds_actor": cookie}))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert refusals(fresh["db_file"]) == [("session_refused", None,
                                          {"reason": "malformed session"})]


def test_a_cookie_with_a_bad_signature_is_logged_so(fresh):
    ds = fresh["ds"]
    cookie = ds.sign({"a": {"id": "maria", "sid": "s-x", "pw": "x"}, "e": "zzzzzz"}, "actor")
    response = run(ds.client.get("/sales.json", cookies={"ds_actor": cookie[:-2] + "xx"}))
    assert response.status_code == 401
    assert refusals(fresh["db_file"]) == [("session_refused", None,
                                          {"reason": "bad cookie signature"})]


def test_a_user_whose_role_was_changed_behind_our_back_loses_token_access(fresh):
    """A role edited in the database directly (a restored backup, an old salescli) leaves
    the token record as issued: the check of the user's current role still refuses it."""
    token, _ = tokens.create_token(fresh["db_file"], "otto", timedelta(hours=1), "t",
                                   secret=SECRET.encode())
    ds = fresh["ds"]
    assert run(ds.client.get("/sales/prospects.json", headers=bearer(token))).status_code == 200
    conn = sqlite3.connect(fresh["db_file"])
    conn.execute("UPDATE users SET role = 'admin' WHERE username = 'otto'")
    conn.commit()
    conn.close()
    assert run(ds.client.get("/sales/stages.json", headers=bearer(token))).status_code == 401
    assert refusals(fresh["db_file"])[-1] == ("token_refused", "otto",
                                             {"reason": "role changed since issue"})


def test_a_sign_in_log_that_cannot_be_written_is_a_warning_not_an_error(fresh, caplog):
    conn = sqlite3.connect(fresh["db_file"].with_name("credentials.db"))
    conn.execute("DROP TABLE signin_log")
    conn.close()
    web = auth.WebAuth(fresh["db_file"], SECRET.encode())
    try:
        with caplog.at_level(logging.WARNING, logger="salescli.web"):
            web.log(tokens.SigninEvent.TOKEN_REFUSED, "ada", "127.0.0.1", {"reason": "x"})
    finally:
        web.close()
    assert [r.getMessage() for r in caplog.records] == [
        "sign-in log write failed: no such table: signin_log"]


# --- the unsubscribe page ---------------------------------------------------------------


def test_a_large_unsubscribe_post_sent_in_chunks_is_refused(fresh):
    async def chunks():
        for _ in range(5):
            yield b"x" * 5000

    response = run(fresh["ds"].client.post("/unsubscribe/1.abc", content=chunks()))
    assert response.status_code == 413 and "Request too large" in response.text


def test_the_unsubscribe_page_has_its_title(fresh):
    response = run(fresh["ds"].client.get("/unsubscribe/1.abc"))
    assert response.status_code == 404
    assert "<title>Link not valid</title>" in response.text


# --- CSV ----------------------------------------------------------------------------------


def test_raw_as_the_first_argument_keeps_the_others(web_env):
    response = run(web_env["ds"].client.get(
        "/sales/prospects.csv?_raw=1&email=carol@example.com",
        headers=bearer(web_env["tokens"]["analyst"])))
    assert response.status_code == 200
    assert response.text.splitlines()[1:] and all(
        "carol@example.com" in line for line in response.text.splitlines()[1:])


def test_whole_records_are_passed_on_as_they_arrive():
    guard = csvguard.CsvGuard()
    assert guard.feed(b"a,=1\r\nb,2\r\nc,") == b"a,'=1\r\nb,2\r\n"
    assert guard.feed(b"3\r\n", final=True) == b"c,3\r\n"


def test_bytes_that_are_not_utf8_pass_through_the_guard():
    assert csvguard.CsvGuard().feed(b"=\xff,\xfe\r\n", final=True) == b"'=\xff,\xfe\r\n"


# --- users and token values ----------------------------------------------------------------


def test_a_password_of_exactly_the_minimum_length_is_accepted(sales, conn, db_file):
    users.add(conn, db_file, "tester", "pat", "analyst", password="x" * users.MIN_PASSWORD)
    with pytest.raises(InvalidValue, match="at least 8 characters"):
        users.add(conn, db_file, "tester", "sam", "analyst", password="x" * 7)


def test_a_full_name_with_a_line_break_is_refused(sales, conn, db_file):
    with pytest.raises(InvalidValue, match="--full-name"):
        users.add(conn, db_file, "tester", "pat", "analyst", full_name="Pat\nSmith")
    assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_a_changed_email_is_audited_as_an_update(sales, conn, db_file):
    users.add(conn, db_file, "tester", "pat", "analyst")
    users.set_email(conn, "tester", "pat", "pat@example.com")
    assert conn.execute("SELECT action, after FROM activities WHERE entity = 'user'"
                        " ORDER BY id DESC LIMIT 1").fetchone()[:] == (
        "update", '{"email": "pat@example.com"}')


def test_a_short_secret_is_refused_without_showing_it(invoke, monkeypatch):
    monkeypatch.setenv("SALESCLI_SECRET", "short-secret")
    with pytest.raises(InvalidValue) as err:
        tokens.load_secret()
    assert str(err.value).startswith("SALESCLI_SECRET '…' must be set to at least 32 bytes")
    assert "short-secret" not in str(err.value)


def test_revoking_a_token_logs_what_and_who(fresh):
    _, record = tokens.create_token(fresh["db_file"], "anna", timedelta(hours=1), "t",
                                    secret=SECRET.encode())
    tokens.revoke_token(fresh["db_file"], record["jti"], "boss")
    event, user, detail = signin_events(fresh["db_file"])[-1]
    assert (event, user, json.loads(detail)) == ("token_revoked", "anna",
                                                 {"jti": record["jti"], "by": "boss"})


def test_request_checks_reuse_their_database_connections(fresh):
    """Every request is checked against the databases: a server that opened new
    connections for each would run out of file descriptors."""
    import os

    token, _ = tokens.create_token(fresh["db_file"], "anna", timedelta(hours=1), "t",
                                   secret=SECRET.encode())
    web = auth.WebAuth(fresh["db_file"], SECRET.encode())
    try:
        assert web.actor_for_token(token)["id"] == "anna"
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(20):
            web.actor_for_token(token)
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        web.close()


# --- found unchecked by a fresh sample (seed 41) ------------------------------------------


def test_a_cut_inside_a_quoted_cell_waits_for_the_rest_of_the_record():
    guard = csvguard.CsvGuard()
    assert guard.feed(b'a,1\r\nb,"x\ny') == b"a,1\r\n"
    assert guard.feed(b'",=1\r\n', final=True) == b"b,\"x\ny\",'=1\r\n"


def test_a_refused_credential_gets_the_bearer_challenge_with_the_error(web_env):
    response = run(web_env["ds"].client.get("/sales.json", headers=bearer("not.a.jwt")))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="salescli", error="invalid_token"'


def test_the_session_cookie_is_secure_over_https(fresh):
    import re

    import httpx

    async def sign_in(base: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=fresh["ds"].app())
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            page = await client.get("/-/login")
            csrf = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
            return await client.post("/-/login", data={"username": "maria", "password":
                                                       PASSWORD, "csrftoken": csrf})

    https = run(sign_in("https://sales.example"))
    assert https.status_code == 302 and "Secure" in https.headers["set-cookie"]
    http = run(sign_in("http://sales.example"))
    assert http.status_code == 302 and "Secure" not in http.headers["set-cookie"]


def test_a_token_not_yet_valid_is_logged_so(fresh):
    import time

    claims = tokens.decode_token(SECRET.encode(), tokens.create_token(
        fresh["db_file"], "anna", timedelta(hours=1), "t", secret=SECRET.encode())[0])
    token = forge(HS256, {**claims, "nbf": int(time.time()) + 7200}, SECRET.encode())
    assert run(fresh["ds"].client.get("/sales", headers=bearer(token))).status_code == 401
    assert refusals(fresh["db_file"])[-1] == ("token_refused", "anna",
                                             {"reason": "not yet valid"})


def test_a_revoked_token_is_listed_with_when(fresh):
    _, record = tokens.create_token(fresh["db_file"], "anna", timedelta(hours=1), "t",
                                    secret=SECRET.encode())
    revoked = tokens.revoke_token(fresh["db_file"], record["jti"], "boss")
    [listed] = [t for t in tokens.list_tokens(fresh["db_file"]) if t["jti"] == record["jti"]]
    assert listed["revoked_at"] == revoked["revoked_at"] and listed["revoked_at"]
    assert (listed["status"], listed["revoked_by"]) == ("revoked", "boss")


@pytest.mark.parametrize("name", ["other.db", "sales.db"])
def test_a_plain_datasette_without_our_setup_fails_closed(tmp_path, template_dir, monkeypatch,
                                                          name):
    """``datasette other.db`` (no /sales), or ``datasette sales.db`` without SALESCLI_SECRET:
    the plugin is loaded, cannot check anyone, and refuses everything."""
    from datasette.app import Datasette

    from tests.web.conftest import copy_template

    monkeypatch.delenv("SALESCLI_SECRET", raising=False)
    db_file = copy_template(template_dir, tmp_path / "plain", name)
    ds = Datasette(files=[str(db_file)])
    response = run(ds.client.get(f"/{db_file.stem}/prospects.json"))
    assert response.status_code == 503
    assert response.json()["error"].startswith("salescli web sign-in is not configured")
    unsubscribe = run(ds.client.get("/unsubscribe/some-token"))  # public, but not set up
    assert unsubscribe.status_code == 503
    assert unsubscribe.json()["error"] == "salescli web is not configured"


def test_the_csv_guard_accepts_the_minimal_messages_asgi_allows():
    """ASGI lets ``headers``, ``body`` and ``query_string`` be left out (empty): the guard
    in front of a CSV response must pass such messages on, not fail."""
    sent = []

    async def send(message):
        sent.append(message)

    async def respond(start):
        guarded = csvguard.guarding_send(send)
        await guarded(start)
        await guarded({"type": "http.response.body"})

    run(respond({"type": "http.response.start", "status": 200}))
    run(respond({"type": "http.response.start", "status": 200,
                 "headers": [(b"content-type", b"text/csv; charset=utf-8")]}))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"] * 2
    assert sent[0].get("headers", []) == [] and sent[1].get("body", b"") == b""
    assert sent[3]["body"] == b""
    assert csvguard.wants_raw({"type": "http"}) == (False, {"type": "http"})


def test_a_response_start_without_headers_still_gets_the_security_headers(fresh):
    """ASGI lets an app leave ``headers`` out of its response start: the guard in front
    still sends the security headers (nosniff, frame options, CSP) and the response."""
    from salescli.web import plugin

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = guarded(fresh, app, "GET", "/favicon.ico")
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200 and sent[0]["headers"] == plugin.SECURITY_HEADERS
    assert sent[1]["body"] == b"ok"


def test_a_refusal_is_sent_as_asgi_requires_header_names_in_lower_case(fresh):
    """ASGI requires lower-case header names (servers and middleware look them up so: a
    Content-Length spelt otherwise goes unseen), and the length must be the body's."""

    async def app(scope, receive, send):
        raise AssertionError("a refused request never reaches Datasette")

    start, body = guarded(fresh, app, "DELETE", "/sales")
    assert start["status"] == 405
    names = [name for name, _ in start["headers"]]
    assert names == [name.lower() for name in names]
    assert dict(start["headers"])[b"content-length"] == str(len(body["body"])).encode()
    # Nothing between us and the user (a proxy, the browser's cache) keeps a refusal.
    assert dict(start["headers"])[b"cache-control"] == b"no-store"
    # The 401 too, with its challenge under the name a client looks for.
    start, _ = guarded(fresh, app, "GET", "/sales.json")
    assert start["status"] == 401
    names = [name for name, _ in start["headers"]]
    assert names == [name.lower() for name in names]
    assert dict(start["headers"])[b"www-authenticate"] == b'Bearer realm="salescli"'


def test_the_auth_layer_refuses_a_short_secret_handed_to_it_directly(fresh):
    with pytest.raises(InvalidValue) as err:
        auth.WebAuth(fresh["db_file"], b"x" * 31)
    assert str(err.value) == "SALESCLI_SECRET '…' must be at least 32 bytes"
    assert auth.WebAuth(fresh["db_file"], b"x" * 32).secret == b"x" * 32
