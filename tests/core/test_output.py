"""Output formats: ``prospects export`` (csv/json/nl, formula guard, --raw) and the renderer."""

from __future__ import annotations

import csv
import io
import json

import pytest

from salescli.core import output
from tests.support.cli import ok

DANGEROUS = {
    "name": "=HYPERLINK(\"http://evil.example\",\"click\")",
    "company": "+cmd|' /C calc'!A0",
    "notes": "@SUM(1+1)",
    "source": "-2+3",
}


@pytest.fixture
def risky(invoke, three):
    ok(invoke("prospects", "add", "eve@example.com", "--name", DANGEROUS["name"],
              "--company", DANGEROUS["company"], "--notes", DANGEROUS["notes"],
              "--source", DANGEROUS["source"], "--tag", "=tag", "--value", "42"))
    ok(invoke("prospects", "update", "cy@example.net", "--source", "-12.5"))
    return three


def parse_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_csv_neutralises_formulas(invoke, risky):
    rows = parse_csv(ok(invoke("prospects", "export")))
    assert [r["email"] for r in rows] == ["ada@example.com", "bob@example.org",
                                          "cy@example.net", "eve@example.com"]
    eve = rows[-1]
    for field, value in DANGEROUS.items():
        assert eve[field] == "'" + value, field
    assert eve["value"] == "42.0"
    assert eve["tags"] == '["=tag"]'  # a JSON array cell starts with '[': safe as it is
    assert rows[2]["source"] == "-12.5"  # numbers are exempt
    assert rows[0]["stage"] == "lead" and rows[1]["stage"] == "contacted"
    assert rows[0]["email_status"] == "ok"
    assert json.loads(rows[0]["tags"]) == ["vip", "q4"]


def test_export_csv_raw_keeps_cells(invoke, risky):
    eve = parse_csv(ok(invoke("prospects", "export", "--raw")))[-1]
    for field, value in DANGEROUS.items():
        assert eve[field] == value


def test_export_json_and_nl(invoke, risky):
    rows = json.loads(ok(invoke("prospects", "export", "--format", "json")))
    assert len(rows) == 4 and all("timeline" not in r for r in rows)
    assert rows[-1]["name"] == DANGEROUS["name"]  # JSON is never guarded
    assert rows[-1]["tags"] == ["=tag"]
    nl = [json.loads(x) for x in ok(invoke("prospects", "export", "--format",
                                           "nl")).splitlines()]
    assert nl == rows


def test_export_every_row_and_archived_on_request(invoke, risky, tmp_path):
    ok(invoke("prospects", "archive", "bob@example.org"))
    assert len(parse_csv(ok(invoke("prospects", "export")))) == 3
    target = tmp_path / "all.csv"
    assert ok(invoke("prospects", "export", "--archived", "-o", target)) == ""
    rows = parse_csv(target.read_text(encoding="utf-8"))
    assert sorted(r["email"] for r in rows) == ["ada@example.com", "bob@example.org",
                                                "cy@example.net", "eve@example.com"]


def test_export_has_no_cap(invoke, sales, conn):
    from salescli.core import db
    from salescli.pipeline import prospects

    with db.transaction(conn):
        for i in range(1205):
            prospects.add(conn, "t", f"p{i}@example.com")
    rows = parse_csv(ok(invoke("prospects", "export")))
    assert len(rows) == 1205
    assert len(json.loads(ok(invoke("prospects", "list", "--format", "json")))) == 1205


def test_export_of_empty_database_is_a_header_or_empty_array(invoke, sales):
    header = ok(invoke("prospects", "export"))
    assert header.startswith("id,email,") and header.count("\n") == 1
    assert json.loads(ok(invoke("prospects", "export", "--format", "json"))) == []
    assert ok(invoke("prospects", "export", "--format", "nl")) == ""


def test_list_csv_is_guarded_too(invoke, risky):
    rows = parse_csv(ok(invoke("prospects", "list", "--format", "csv")))
    assert rows[-1]["name"] == "'" + DANGEROUS["name"]


def test_unicode_survives_every_format(invoke, sales):
    ok(invoke("prospects", "add", "zoe@example.com", "--name", "Zoë Spärck-Jönes",
              "--company", "Ñandú 株式会社"))
    assert json.loads(ok(invoke("prospects", "list", "--format", "json")))[0]["name"] \
        == "Zoë Spärck-Jönes"
    assert parse_csv(ok(invoke("prospects", "export")))[0]["company"] == "Ñandú 株式会社"
    assert "Spärck" in ok(invoke("prospects", "list"))
    assert json.loads(ok(invoke("prospects", "list", "--search", "sparck", "--format",
                                "json")))[0]["email"] == "zoe@example.com"


@pytest.mark.parametrize("cell, guarded", [
    ("=1+1", "'=1+1"), ("+44 20 7946 0000", "'+44 20 7946 0000"), ("-x", "'-x"),
    ("@home", "'@home"), ("\tTAB", "'\tTAB"), ("\rCR", "'\rCR"),
    ("-5", "-5"), ("+3.5", "+3.5"), ("1e3", "1e3"), ("", ""), ("plain", "plain"),
    ("a=b", "a=b"), ("'=quoted", "''=quoted"), ("''=x", "'''=x"), ("'plain", "'plain"),
    ("'-5", "'-5"),
])
def test_guard_cell_and_back(cell, guarded):
    assert output.guard_cell(cell) == guarded
    assert output.unguard_cell(guarded) == cell


def test_render_formats():
    rows = [{"a": 1, "b": ["x", "y"], "c": None}, {"a": 2, "b": [], "c": "=z"}]
    out = io.StringIO()
    assert output.render(iter(rows), "json", out) == 2
    assert json.loads(out.getvalue()) == rows
    out = io.StringIO()
    output.render(iter(rows), "nl", out)
    assert [json.loads(x) for x in out.getvalue().splitlines()] == rows
    out = io.StringIO()
    output.render(iter(rows), "csv", out)
    assert out.getvalue() == 'a,b,c\n1,"[""x"", ""y""]",\n2,[],\'=z\n'
    out = io.StringIO()
    output.render(iter(rows), "table", out, columns=["c", "a"])
    assert out.getvalue().splitlines()[0].split() == ["c", "a"]
    out = io.StringIO()
    assert output.render(iter([]), "json", out) == 0 and json.loads(out.getvalue()) == []
    with pytest.raises(ValueError):
        output.render(rows, "xml", io.StringIO())


def test_table_cuts_long_cells_to_one_line():
    out = io.StringIO()
    output.write_table([{"note": "line one\nline two " + "x" * 200}], out)
    body = out.getvalue().splitlines()[2]
    assert "\n" not in body and body.endswith("…") and len(body) <= 60
