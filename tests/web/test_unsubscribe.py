"""One-click unsubscribe (RFC 8058) through the real Datasette and plugin: the link comes from
a mail ``send`` really sent (aiosmtpd); POST without sign-in unsubscribes (audited,
idempotent); GET only shows a confirm page; forged or unknown tokens get a 404."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from tests.support.smtpd import SmtpServer
from tests.web.conftest import run

URL = "https://sales.example/unsubscribe"


def _rows(db_file, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db_file)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _state(db_file) -> tuple:
    """What an unsubscribe may change: suppressions, enrollments, activities."""
    return (_rows(db_file, "SELECT address, source FROM suppressions"),
            _rows(db_file, "SELECT prospect_id, state, reason FROM enrollments ORDER BY id"),
            _rows(db_file, "SELECT count(*) FROM activities")[0][0])


@pytest.fixture
def mailed(fresh, monkeypatch):
    """Sam (with an address) owns ann and ben, both enrolled; step 1 went out
    over SMTP with one-click links (sequence ``click``). Yields fresh + the links per recipient."""
    from salescli.core import db
    from salescli.pipeline import prospects
    from salescli.sequences import enroll, store
    from salescli.sequences.send import send_due
    from salescli.web import users

    server = SmtpServer().start()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SALESCLI_SEND_MIN_GAP", "0")
    monkeypatch.setenv("SALESCLI_UNSUBSCRIBE_URL", URL + "/")
    conn = db.open_write(fresh["db_file"])
    try:
        users.add(conn, fresh["db_file"], "setup", "sam", "operator", email="sam@ours.example")
        for email in ("ann@client.example", "ben@client.example"):
            prospects.add(conn, "setup", email, name=email[:3].title(), owner="sam")
        plan = fresh["db_file"].with_name("click.toml")
        plan.write_text('name = "click"\nwindow = "00:00-24:00"\ndays = "daily"\n'
                        '[[steps]]\nsubject = "Hi"\nbody = "Hello"\n'
                        '[[steps]]\nwait = "3d"\nbody = "Again"\n')
        store.load(conn, "setup", plan)
        when = datetime.now(UTC) - timedelta(hours=1)
        enroll.enroll(conn, "setup", "click", ["ann@client.example", "ben@client.example"],
                      now_=when)
        assert send_due(conn, now=when)["sent"] == 2
    finally:
        conn.close()
    links = {}
    for m in server.wait_for(2):
        assert m.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = re.match(r"<([^>]+)>", m.message["List-Unsubscribe"]).group(1)
        assert link.startswith(URL + "/") and "?" not in link
        links[m.rcpt_tos[0]] = urlsplit(link).path
    server.stop()
    yield {**fresh, "links": links}


def test_post_without_sign_in_unsubscribes_audited_and_idempotent(mailed):
    ds, db_file, path = mailed["ds"], mailed["db_file"], mailed["links"]["ann@client.example"]
    response = run(ds.client.post(path, data={"List-Unsubscribe": "One-Click"}))
    assert response.status_code == 200, response.text
    assert "ann@client.example" in response.text
    assert _rows(db_file, "SELECT address, source FROM suppressions") == [
        ("ann@client.example", "unsubscribe")]
    states = _rows(db_file, "SELECT p.email, e.state, e.reason FROM enrollments e JOIN"
                            " prospects p ON p.id = e.prospect_id ORDER BY p.email")
    assert states == [("ann@client.example", "unsubscribed",
                       "one-click unsubscribe (sequence click)"),
                      ("ben@client.example", "active", None)]
    acts = _rows(db_file, "SELECT actor, action, entity, before, after FROM activities"
                          " WHERE actor = ? ORDER BY id", ("unsubscribe-link",))
    assert [a[:3] for a in acts] == [("unsubscribe-link", "suppress", "suppression"),
                                     ("unsubscribe-link", "end", "enrollment")]
    assert json.loads(acts[1][3]) == {"state": "active"}
    assert json.loads(acts[1][4]) == {"state": "unsubscribed",
                                      "reason": "one-click unsubscribe (sequence click)"}
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == str(len(response.content))
    before = _state(db_file)
    again = run(ds.client.post(path, data={"List-Unsubscribe": "One-Click"}))
    assert again.status_code == 200
    assert _state(db_file) == before


def test_get_only_shows_a_confirm_form(mailed):
    ds, db_file, path = mailed["ds"], mailed["db_file"], mailed["links"]["ben@client.example"]
    before = _state(db_file)
    page = run(ds.client.get(path))
    assert page.status_code == 200
    assert re.search(r'<form method="post"><button type="submit" name="List-Unsubscribe"'
                     r' value="One-Click">', page.text)
    assert "ben@client.example" in page.text
    assert run(ds.client.head(path)).status_code == 200
    assert _state(db_file) == before  # a link scanner fetching the URL unsubscribes no one


def test_forged_unknown_or_malformed_tokens_get_404_and_change_nothing(mailed):
    ds, db_file = mailed["ds"], mailed["db_file"]
    ann, ben = mailed["links"]["ann@client.example"], mailed["links"]["ben@client.example"]
    ann_id, ann_mac = ann.rsplit("/", 1)[1].split(".")
    ben_id, ben_mac = ben.rsplit("/", 1)[1].split(".")
    flipped = ann_mac[:-1] + ("A" if ann_mac[-1] != "A" else "B")
    before = _state(db_file)
    for bad in (f"{ann_id}.{flipped}",          # one character off
                f"{ann_id}.{ben_mac}",          # Ben's MAC on Ann's enrollment
                f"{int(ann_id) + 1000}.{ann_mac}",  # no such enrollment
                "1", "", f"0.{ann_mac}", f"{ann_id}.{ann_mac}x"):
        for method in ("get", "post"):
            response = run(getattr(ds.client, method)(f"/unsubscribe/{bad}"))
            assert response.status_code == 404, (bad, method, response.status_code)
    put = run(ds.client.put(ann))
    assert put.status_code == 405 and put.headers["allow"] == "GET, HEAD, POST"
    assert put.text.endswith("<h1>Method not allowed</h1></body></html>")  # and nothing more
    big = run(ds.client.post(ann, content=b"x" * 20_000))
    assert big.status_code == 413 and "Request too large" in big.text
    assert _state(db_file) == before


def test_a_different_secret_makes_every_link_invalid(mailed, monkeypatch):
    """The key comes from SALESCLI_SECRET: links signed under another secret are refused."""
    from salescli.web import server

    monkeypatch.setenv("SALESCLI_SECRET", "another-secret-" + "x" * 40)
    ds = server.build_datasette(mailed["db_file"])
    try:
        path = mailed["links"]["ann@client.example"]
        assert run(ds.client.post(path, data={"List-Unsubscribe": "One-Click"})).status_code \
            == 404
    finally:
        ds._salescli_auth.close()
    assert _rows(mailed["db_file"], "SELECT * FROM suppressions") == []


def test_the_rest_of_the_site_still_needs_sign_in(mailed):
    ds = mailed["ds"]
    assert run(ds.client.get("/sales/suppressions.json")).status_code == 401
    assert run(ds.client.post("/sales/suppressions", data={})).status_code == 405
