"""JWT attacks, each refused on every kind of route and written to the sign-in log; and the
``salescli tokens`` commands."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from salescli.web import auth, plugin, tokens
from tests.web.conftest import (
    SECRET,
    b64url,
    bearer,
    claims_for,
    copy_template,
    forge,
    run,
    signin_events,
)

ROUTE_KINDS = ["/", "/.json", "/sales", "/sales/prospects", "/sales/prospects/1.json",
               "/sales/pipeline_funnel.json", "/sales.json?sql=select+1",
               "/sales/prospects.csv", "/sales/prospects.csv?_stream=on",
               "/-/dashboards/pipeline", "/-/logout", "/-/actor.json"]
HS256 = {"alg": "HS256", "typ": "JWT"}
OTHER_KEY = b"another-key-that-is-long-enough-for-hs256!!"
PUBLIC_PEM = (b"-----BEGIN PUBLIC KEY-----\n"
              b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
              b"-----END PUBLIC KEY-----\n")


def recorded(env, username: str, role: str, issued: datetime, lifetime: timedelta) -> str:
    """A correctly signed token whose record exists, minted at ``issued``."""
    token, claims = tokens.mint_token(env["secret"], username, role, lifetime, issued=issued)
    conn = sqlite3.connect(env["db_file"].with_name("credentials.db"))
    with conn:
        conn.execute("INSERT INTO tokens(jti, username, role, issued_at, expires_at)"
                     " VALUES (?, ?, ?, ?, ?)", (claims["jti"], username, role,
                                                 tokens.timestamp(claims["iat"]),
                                                 tokens.timestamp(claims["exp"])))
    conn.close()
    return token


def real_claims(env, role: str) -> dict:
    return jwt.decode(env["tokens"][role], options={"verify_signature": False})


def without(claims: dict, name: str) -> dict:
    return {k: v for k, v in claims.items() if k != name}


def tampered(env) -> str:
    header, _, signature = env["tokens"]["operator"].split(".")
    payload = {**real_claims(env, "operator"), "role": "admin"}
    return f"{header}.{b64url(payload)}.{signature}"


NOW = datetime.now(UTC)
ATTACKS = {
    "alg none": lambda e: forge({"alg": "none", "typ": "JWT"}, real_claims(e, "manager"), None),
    "alg None": lambda e: forge({"alg": "None"}, real_claims(e, "manager"), None),
    "HS256 with another key": lambda e: forge(HS256, real_claims(e, "manager"), OTHER_KEY),
    "RS256 header, HMAC with our secret": lambda e: forge(
        {"alg": "RS256", "typ": "JWT"}, real_claims(e, "manager"), e["secret"]),
    "HS256 keyed with a public key": lambda e: forge(HS256, real_claims(e, "manager"),
                                                     PUBLIC_PEM),
    "HS512 with our secret": lambda e: forge({"alg": "HS512"}, real_claims(e, "manager"),
                                             e["secret"], hashlib.sha512),
    "expired": lambda e: recorded(e, "maria", "manager", NOW - timedelta(days=2),
                                  timedelta(days=1)),
    "not yet valid (iat)": lambda e: recorded(e, "maria", "manager", NOW + timedelta(hours=2),
                                              timedelta(days=1)),
    "not yet valid (nbf)": lambda e: forge(HS256, {**real_claims(e, "manager"),
                                                   "nbf": int(time.time()) + 7200}, e["secret"]),
    "tampered payload": tampered,
    **{f"missing {c}": (lambda e, c=c: forge(HS256, without(real_claims(e, "manager"), c),
                                             e["secret"]))
       for c in ["sub", "role", "iat", "exp", "jti", "iss", "aud"]},
    "wrong aud": lambda e: forge(HS256, {**real_claims(e, "manager"), "aud": "other-app"},
                                 e["secret"]),
    "wrong iss": lambda e: forge(HS256, {**real_claims(e, "manager"), "iss": "evil"},
                                 e["secret"]),
    "revoked jti": lambda e: e["revoked"],
    "disabled user": lambda e: e["disabled"],
    "signed but never issued": lambda e: tokens.mint_token(e["secret"], "maria", "manager",
                                                         timedelta(hours=1))[0],
    "role raised in a re-signed token": lambda e: forge(
        HS256, {**real_claims(e, "operator"), "role": "admin"}, e["secret"]),
    "garbage": lambda e: "not.a.jwt",
    "oversized": lambda e: "a" * 9000,
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_is_refused_on_every_route_kind(web_env, attack):
    token = ATTACKS[attack](web_env)
    for path in ROUTE_KINDS:
        response = run(web_env["ds"].client.get(path, headers=bearer(token)))
        assert response.status_code == 401, (path, response.status_code)
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert "example.com" not in response.text


def test_other_schemes_and_empty_bearer_are_refused(web_env):
    for value in ["Basic YWRhOnB3", "Bearer", "Bearer    ", "Token " + web_env["tokens"]["admin"],
                  web_env["tokens"]["admin"]]:
        response = run(web_env["ds"].client.get("/sales", headers={"Authorization": value}))
        assert response.status_code == 401, value


def test_a_refused_token_is_not_rescued_by_a_valid_cookie(web_env):
    response = run(web_env["ds"].client.get(
        "/sales.json", headers=bearer("not.a.jwt"),
        cookies={"ds_actor": web_env["sessions"]["manager"]}))
    assert response.status_code == 401


def test_refusals_are_logged_with_their_reason(fresh):
    from salescli.web.users import set_disabled

    env = {**fresh, "secret": SECRET.encode()}
    token, record = tokens.create_token(fresh["db_file"], "maria", timedelta(hours=1), "t")
    expired = recorded(env, "anna", "analyst", NOW - timedelta(days=3), timedelta(days=1))
    tokens.revoke_token(fresh["db_file"], record["jti"], "t")
    live, _ = tokens.create_token(fresh["db_file"], "anna", timedelta(hours=1), "t")
    from salescli.core.db import open_write

    conn = open_write(fresh["db_file"])
    set_disabled(conn, "t", "anna", True)
    conn.close()
    for t in [token, expired, live, forge(HS256, claims_for("ada", "admin"), OTHER_KEY)]:
        assert run(fresh["ds"].client.get("/sales", headers=bearer(t))).status_code == 401
    refused = [(user, json.loads(detail)["reason"]) for event, user, detail
               in signin_events(fresh["db_file"]) if event == "token_refused"]
    assert refused == [("maria", "revoked"), ("anna", "expired"), ("anna", "revoked"),
                       ("ada", "bad signature")]


def test_a_token_signed_with_another_algorithm_is_logged_as_such(fresh):
    attacks = [forge({"alg": "none", "typ": "JWT"}, claims_for("ada", "admin"), None),
               forge({"alg": "HS512"}, claims_for("bo", "admin"), SECRET.encode(),
                     hashlib.sha512)]
    for t in attacks:
        assert run(fresh["ds"].client.get("/sales", headers=bearer(t))).status_code == 401
    refused = [(user, json.loads(detail)["reason"]) for event, user, detail
               in signin_events(fresh["db_file"]) if event == "token_refused"]
    assert refused == [("ada", "algorithm not allowed"), ("bo", "algorithm not allowed")]


def test_a_token_whose_times_are_not_whole_numbers_is_logged_as_such(fresh):
    claims = claims_for("ada", "admin")
    for bent in ({**claims, "exp": str(claims["exp"])}, {**claims, "iat": claims["iat"] + 0.5},
                 {**claims, "nbf": float(claims["iat"])}):
        token = forge(HS256, bent, SECRET.encode())
        assert run(fresh["ds"].client.get("/sales", headers=bearer(token))).status_code == 401
    refused = [json.loads(detail)["reason"] for event, _, detail
               in signin_events(fresh["db_file"]) if event == "token_refused"]
    assert refused == ["malformed time claims"] * 3


def test_a_flood_of_junk_tokens_writes_a_bounded_log(fresh):
    async def flood():
        return [(await fresh["ds"].client.get("/sales", headers=bearer(f"junk{i}"))).status_code
                for i in range(plugin.REFUSALS_PER_MINUTE + 15)]

    assert set(run(flood())) == {401}
    rows = [e for e in signin_events(fresh["db_file"]) if e[0] == "token_refused"]
    assert len(rows) == plugin.REFUSALS_PER_MINUTE


def test_changing_a_users_role_invalidates_their_tokens(fresh):
    from salescli.core.db import open_write
    from salescli.web.users import set_role

    token, _ = tokens.create_token(fresh["db_file"], "otto", timedelta(hours=1), "t")
    ds = fresh["ds"]
    assert run(ds.client.get("/sales/prospects.json", headers=bearer(token))).status_code == 200
    conn = open_write(fresh["db_file"])
    set_role(conn, "t", "otto", "admin")
    conn.close()
    assert run(ds.client.get("/sales/stages.json", headers=bearer(token))).status_code == 401


def test_decode_enforces_the_key_length():
    token = jwt.encode(claims_for("x", "admin"), "k" * 40, algorithm="HS256")
    with pytest.raises(tokens.TokenRejected):
        tokens.decode_token(b"short", token)
    with pytest.raises(Exception, match="SALESCLI_SECRET"):
        auth.WebAuth("x.db", b"short")


# --- the tokens commands -------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path, monkeypatch, template_dir):
    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    db_file = copy_template(template_dir, tmp_path / "cli")
    monkeypatch.setenv("SALESCLI_DB", str(db_file))
    return db_file


def test_tokens_create_prints_only_a_working_token(cli_db, invoke):
    result = invoke("tokens", "create", "maria", "--expires", "2h")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token.count(".") == 2
    claims = tokens.decode_token(SECRET.encode(), token)
    assert claims["sub"] == "maria" and claims["role"] == "manager"
    assert 7100 <= claims["exp"] - claims["iat"] <= 7200
    assert auth.WebAuth(cli_db, SECRET.encode()).actor_for_token(token)["role"] == "manager"


def test_tokens_list_and_revoke(cli_db, invoke):
    token = invoke("tokens", "create", "anna").stdout.strip()
    jti = tokens.decode_token(SECRET.encode(), token)["jti"]
    listed = json.loads(invoke("tokens", "list", "--format", "json").stdout)
    assert [(t["jti"], t["username"], t["status"]) for t in listed] == [(jti, "anna", "active")]
    claims = tokens.decode_token(SECRET.encode(), token)
    assert sorted(listed[0]) == ["expires_at", "issued_at", "jti", "revoked_at", "revoked_by",
                                 "role", "status", "username"]
    assert listed[0]["role"] == claims["role"]
    assert (listed[0]["issued_at"], listed[0]["expires_at"]) == (
        tokens.timestamp(claims["iat"]), tokens.timestamp(claims["exp"]))
    assert invoke("tokens", "revoke", jti).exit_code == 0
    listed = json.loads(invoke("tokens", "list", "--format", "json").stdout)
    assert listed[0]["status"] == "revoked" and listed[0]["revoked_by"] == "tester"
    web = auth.WebAuth(cli_db, SECRET.encode())
    with pytest.raises(tokens.TokenRejected, match="revoked"):
        web.actor_for_token(token)
    again = invoke("tokens", "revoke", jti)
    assert again.exit_code == 1 and "already revoked" in again.output
    events = [e[0] for e in signin_events(cli_db)]
    assert events == ["token_created", "token_revoked"]


@pytest.mark.parametrize("args, message", [
    (["tokens", "create", "nobody"], "user 'nobody' not found"),
    (["tokens", "create", "maria", "--expires", "soon"], "--expires 'soon'"),
    (["tokens", "create", "maria", "--expires", "400d"], "--expires"),
    (["tokens", "revoke", "no-such-jti"], "token 'no-such-jti' not found"),
])
def test_tokens_user_errors(cli_db, invoke, args, message):
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output


def test_tokens_for_a_disabled_user_are_refused(cli_db, invoke):
    invoke("users", "disable", "anna")
    result = invoke("tokens", "create", "anna")
    assert result.exit_code == 1 and "user 'anna' is disabled" in result.output


@pytest.mark.parametrize("secret", [None, "too-short"])
def test_tokens_create_needs_a_long_secret(cli_db, invoke, monkeypatch, secret):
    if secret is None:
        monkeypatch.delenv("SALESCLI_SECRET")
    else:
        monkeypatch.setenv("SALESCLI_SECRET", secret)
    result = invoke("tokens", "create", "maria")
    assert result.exit_code == 1 and "SALESCLI_SECRET" in result.output
    assert result.stdout == "" or result.stdout.startswith("Error")
    conn = sqlite3.connect(cli_db.with_name("credentials.db"))
    assert conn.execute("SELECT count(*) FROM tokens").fetchone()[0] == 0
    conn.close()

