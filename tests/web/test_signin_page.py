"""The sign-in page: ``next`` leads only to this site as a browser reads it, a control
character in it gets the normal page, and every malformed token gets 401 (never a 500)."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import timedelta

import httpx
import pytest

from salescli.web import redirects, tokens
from tests.web.conftest import PASSWORD, SECRET, bearer, claims_for, forge, login, run

LANDING = "/-/dashboards/pipeline"
HS256 = {"alg": "HS256", "typ": "JWT"}


@pytest.mark.parametrize("target, landing", [
    # same-site paths go through (anything not plain ASCII percent-encoded)
    ("/sales/prospects?owner=maria", "/sales/prospects?owner=maria"),
    ("/sales/prospects?_sort=name#top", "/sales/prospects?_sort=name#top"),
    ("/sales/%2F%2Fevil.example", "/sales/%2F%2Fevil.example"),
    ("/sales/prospects?q=caf\u00e9 x", "/sales/prospects?q=caf%C3%A9%20x"),
    ("  /sales  ", "/sales"),
    ("/sa\tles", "/sales"),
    ("/sa\nles", "/sales"),
    ("/sa\rles", "/sales"),
    # what browsers turn into another host
    ("/\t/evil.example", LANDING),
    ("/\n/evil.example", LANDING),
    ("/\r\n/evil.example", LANDING),
    ("\t//evil.example", LANDING),
    (" //evil.example/", LANDING),
    ("\x00//evil.example", LANDING),
    ("\\\\evil.example", LANDING),
    ("\\/evil.example", LANDING),
    ("/\\evil.example", LANDING),
    ("/\t\\evil.example", LANDING),
    ("//evil.example/", LANDING),
    ("https://evil.example/", LANDING),
    ("https:evil.example", LANDING),
    ("java\tscript:alert(1)", LANDING),
    ("JavaScript:alert(1)", LANDING),
    ("evil.example", LANDING),
    # control characters left after the browser's clean-up: the normal landing page
    ("/sa\x01les", LANDING),
    ("/sa\x7fles", LANDING),
    ("/sales\x01", "/sales"),  # trailing controls are dropped by the browser too
    ("/sales\x0b/x", LANDING),
    ("", LANDING),
])
def test_next_is_judged_as_a_browser_reads_it(fresh, target, landing):
    response = login(fresh["ds"], "maria", PASSWORD, next_url=target)
    assert response.status_code == 302
    assert response.headers["location"] == landing


@pytest.mark.parametrize("target", ["/\t/evil.example", "/sa\x01les", "\\\\evil.example"])
def test_the_login_form_never_carries_a_hostile_next(fresh, target):
    page = run(fresh["ds"].client.get("/-/login", params={"next": target}))
    assert page.status_code == 200
    assert re.search(r'name="next" value=""', page.text)


@pytest.mark.parametrize("target, landing", [
    ("/sa\x01les", LANDING), ("/sales\x1f/x", LANDING), ("/sales\x01", "/sales"),
    ("/x\r\nSet-Cookie: a=b", "/xSet-Cookie:%20a=b")])
def test_a_control_character_in_next_gets_the_normal_page(live_server, target, landing):
    """Through the real HTTP server (uvicorn): no dropped connection, no header error."""
    url, _ = live_server
    with httpx.Client(base_url=url, follow_redirects=False, timeout=20) as client:
        page = client.get("/-/login", params={"next": target})
        assert page.status_code == 200
        csrf = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        response = client.post("/-/login", data={"username": "anna", "password": PASSWORD,
                                                  "csrftoken": csrf, "next": target})
    assert response.status_code == 302
    assert response.headers["location"] == landing
    assert "a=b" not in response.headers.get("set-cookie", "")


def test_safe_next_is_plain_ascii():
    for raw in ["/\u00e9\u4e2d", "/a b", "/%zz", "/x\"<>`{}|^"]:
        value = redirects.safe_next(raw)
        assert value.startswith("/") and value.isascii() and " " not in value
        assert not any(c in value for c in '"<>`{}|^')


def test_a_next_path_of_2048_characters_is_kept_and_a_longer_one_is_not():
    longest = "/" + "a" * 2047
    assert redirects.safe_next(longest) == longest
    assert redirects.safe_next(longest + "a") == ""  # the landing page instead


# --- every malformed token: 401 ---------------------------------------------------------


def _recorded(db_file, username="anna", role="analyst"):
    """A real, recorded token's claims, to be re-signed with one claim made malformed."""
    token, _ = tokens.create_token(db_file, username, timedelta(hours=1), "t",
                                   secret=SECRET.encode())
    return tokens.decode_token(SECRET.encode(), token)


NOW = int(time.time())
MALFORMED_CLAIMS = {
    "exp numeric string": {"exp": str(NOW + 3600)},
    "exp float": {"exp": NOW + 3600.5},
    "exp huge": {"exp": 10**30},
    "exp negative huge": {"exp": -(10**30)},
    "exp true": {"exp": True},
    "exp list": {"exp": [NOW + 3600]},
    "iat numeric string": {"iat": str(NOW)},
    "iat float": {"iat": NOW + 0.5},
    "iat null": {"iat": None},
    "nbf string": {"nbf": str(NOW)},
    "sub number": {"sub": 7},
    "sub empty": {"sub": ""},
    "jti number": {"jti": 12},
    "role list": {"role": ["analyst"]},
    "aud list": {"aud": ["salescli-web", "other"]},
}


@pytest.mark.parametrize("name", list(MALFORMED_CLAIMS))
def test_a_malformed_claim_in_a_signed_recorded_token_is_401(fresh, name):
    claims = {**_recorded(fresh["db_file"]), **MALFORMED_CLAIMS[name]}
    claims = {k: v for k, v in claims.items() if v is not None}
    token = forge(HS256, claims, SECRET.encode())
    for path in ["/sales.json", "/sales/prospects.csv", "/-/dashboards/pipeline"]:
        response = run(fresh["ds"].client.get(path, headers=bearer(token)))
        assert response.status_code == 401, (name, path, response.text[:200])


MALFORMED_TOKENS = {
    "empty": "",
    "one part": "abc",
    "two parts": "abc.def",
    "four parts": "a.b.c.d",
    "empty parts": "..",
    "not base64": "!!!.@@@.###",
    "header not json": "bm90IGpzb24.e30.sig",
    "header a list": "WzFd.e30.sig",
    "claims a list": "eyJhbGciOiJIUzI1NiJ9.WzFd.sig",
    "claims a string": "eyJhbGciOiJIUzI1NiJ9.ImFiYyI.sig",
    "alg none": forge({"alg": "none"}, claims_for("ada", "admin"), None),
    "alg missing": forge({"typ": "JWT"}, claims_for("ada", "admin"), SECRET.encode()),
    "unicode": "\u00e9\u00e9.\u00e9.\u00e9",
    "very long": "a" * 9000,
    "control chars": "a\x01b.c\x02d.e",
}


@pytest.mark.parametrize("name", list(MALFORMED_TOKENS))
def test_a_malformed_token_is_401(fresh, name):
    token = MALFORMED_TOKENS[name]
    headers = {"Authorization": f"Bearer {token}".encode()}
    response = run(fresh["ds"].client.get("/sales.json", headers=headers))
    assert response.status_code == 401, response.text[:200]


def test_the_server_keeps_answering_after_malformed_tokens(fresh):
    claims = {**_recorded(fresh["db_file"]), "exp": str(NOW + 3600)}
    bad = forge(HS256, claims, SECRET.encode())
    assert run(fresh["ds"].client.get("/sales.json", headers=bearer(bad))).status_code == 401
    good, _ = tokens.create_token(fresh["db_file"], "anna", timedelta(hours=1), "t",
                                  secret=SECRET.encode())
    assert run(fresh["ds"].client.get("/sales.json", headers=bearer(good))).status_code == 200
    conn = sqlite3.connect(fresh["db_file"].with_name("credentials.db"))
    reasons = [r[0] for r in conn.execute("SELECT detail FROM signin_log"
                                          " WHERE event = 'token_refused'")]
    conn.close()
    assert any("malformed time claims" in r for r in reasons)


@pytest.mark.parametrize("path", ["/\\evil.example/", "/\\\\evil.example/", "/%09\\evil.example/",
                                  "/sales/", "/.//evil.example/"])
def test_no_redirect_of_the_server_leaves_the_site(fresh, path):
    """Datasette's trailing-slash redirect echoes the path: ``/\\evil.example/`` became
    ``Location: /\\evil.example``, which a browser reads as //evil.example."""
    token, _ = tokens.create_token(fresh["db_file"], "anna", timedelta(hours=1), "t",
                                   secret=SECRET.encode())
    response = run(fresh["ds"].client.get(path, headers=bearer(token)))
    location = response.headers.get("location", "")
    assert not redirects.browser_normalised(location).startswith("//"), location
    if path == "/sales/":
        assert (response.status_code, location) == (302, "/sales")
