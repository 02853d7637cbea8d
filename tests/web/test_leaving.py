"""Leaving the site: signing out clears the cookie for every browser, and a one-click
unsubscribe counts even when the mail client hangs up before reading the answer."""

from __future__ import annotations

import sqlite3

from tests.web.conftest import run, sign_in_and_out
from tests.web.test_unsubscribe import mailed  # noqa: F401 - the fixture


def test_signing_out_expires_the_cookie_in_the_past_and_keeps_it_from_scripts(fresh):
    out = sign_in_and_out(fresh["ds"])
    assert out.status_code == 302
    (cleared,) = [c for c in out.headers.get_list("set-cookie") if c.startswith("ds_actor=")]
    parts = {p.split("=", 1)[0].strip().lower(): p.split("=", 1)[-1].strip()
             for p in cleared.split(";")}
    assert parts["ds_actor"] in ('""', "")
    assert parts["max-age"] == "0"
    # Browsers that ignore Max-Age (old ones, some mail clients' web views) need Expires.
    assert "expires" in parts and parts["expires"].endswith("GMT")
    assert "httponly" in parts


def test_an_unsubscribe_whose_client_hangs_up_still_counts(mailed):  # noqa: F811
    ds, db_file = mailed["ds"], mailed["db_file"]
    path = mailed["links"]["ann@client.example"]
    incoming = [{"type": "http.request", "body": b"List-Unsubscribe=One-Click",
                 "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"",
             "headers": [(b"host", b"localhost"),
                         (b"content-type", b"application/x-www-form-urlencoded")],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8001)}
    run(ds.app()(scope, receive, send))
    assert sent[0]["status"] == 200
    conn = sqlite3.connect(db_file)
    try:
        assert conn.execute("SELECT address, source FROM suppressions").fetchall() == [
            ("ann@client.example", "unsubscribe")]
    finally:
        conn.close()
