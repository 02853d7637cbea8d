"""``salescli export``: any table or view, three formats, formula guard, atomic files."""

from __future__ import annotations

import csv
import io
import json

import pytest

from salescli.core import db
from tests.reports.helpers import FORMULA, SCRIPT, files


def test_csv_guards_formulas_unless_raw(invoke, pipeline_db):
    guarded = list(csv.DictReader(io.StringIO(invoke("export", "prospects").stdout)))
    names = {r["email"]: r["name"] for r in guarded}
    assert names["formula@evil.example"] == "'" + FORMULA
    assert names["xss@evil.example"] == SCRIPT
    raw = list(csv.DictReader(io.StringIO(invoke("export", "prospects", "--raw").stdout)))
    assert {r["email"]: r["name"] for r in raw}["formula@evil.example"] == FORMULA
    assert len(guarded) == len(raw) == 5
    assert list(guarded[0]) == [c[1] for c in _columns(pipeline_db, "prospects")]


def _columns(_ids, table):
    conn = db.open_read()
    try:
        return conn.execute(f"PRAGMA table_info({table})").fetchall()
    finally:
        conn.close()


def test_json_and_nl_carry_the_same_rows_unguarded(invoke, pipeline_db):
    as_json = json.loads(invoke("export", "stage_changes", "--format", "json").stdout)
    as_nl = [json.loads(line) for line in
             invoke("export", "stage_changes", "--format", "nl").stdout.splitlines()]
    assert as_json == as_nl and len(as_json) == 11
    assert as_json[0]["to_stage_id"] == 1 and as_json[0]["note"] == "created"
    people = json.loads(invoke("export", "prospects", "--format", "json").stdout)
    assert FORMULA in [p["name"] for p in people]


def test_views_export_too_and_names_are_case_insensitive(invoke, pipeline_db):
    rows = list(csv.DictReader(io.StringIO(invoke("export", "WEEKLY_TRENDS").stdout)))
    assert {"week", "owner", "emails_sent"} <= set(rows[0])
    assert any(r["week"] == "2024-05-06" and r["owner"] == "" and r["emails_sent"] == "5"
               for r in rows)


def test_file_output_format_from_extension(invoke, pipeline_db, db_file, tmp_path):
    out = tmp_path / "metrics.jsonl"
    result = invoke("export", "metrics", "--output", out)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    conn = db.open_read(db_file)
    expected = [dict(r) for r in conn.execute("SELECT * FROM metrics")]
    conn.close()
    assert lines == expected and len(lines) > 100
    assert (out.stat().st_mode & 0o777) == 0o600


def test_list_of_exportable_names(invoke, pipeline_db):
    listing = invoke("export").stdout
    assert "prospects\ttable" in listing and "weekly_trends\tview" in listing


def test_unknown_or_injected_names_are_refused(invoke, pipeline_db, tmp_path):
    out = tmp_path / "x.csv"
    for name in ("nope", "prospects; DROP TABLE users", 'prospects" --', "sqlite_master"):
        result = invoke("export", name, "--output", out)
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: TABLE_OR_VIEW {name!r} is not a table or "
                                        "view of the sales database; choose one of: ")
        assert "activities, enrollments, " in result.stderr
        assert ", interactions, " in result.stderr
        assert result.stderr.count("\n") == 1
    assert not out.exists()
    assert invoke("export", "users").exit_code == 0


def test_sqlites_own_statistics_table_is_neither_listed_nor_exported(invoke, pipeline_db):
    conn = db.open_write()
    try:
        conn.execute("ANALYZE")               # creates sqlite_stat1, SQLite's own table
    finally:
        conn.close()
    assert "sqlite_stat1" not in invoke("export").stdout
    result = invoke("export", "sqlite_stat1")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: TABLE_OR_VIEW 'sqlite_stat1' is not a table or view")


@pytest.mark.parametrize("where", ["missing/x.csv", "adir", "afile/x.csv"])
def test_unwritable_output_is_one_line(invoke, pipeline_db, tmp_path, where):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    before = files(tmp_path)
    result = invoke("export", "prospects", "--output", tmp_path / where)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: --output '{tmp_path / where}' ")
    assert result.stderr.count("\n") == 1
    assert files(tmp_path) == before


def test_failure_mid_stream_leaves_no_half_file(invoke, pipeline_db, db_file, tmp_path):
    # A real fault: the view fails on its 2501st row (malformed JSON), after two
    # thousand rows were already written out.
    conn = db.open_write(db_file)
    conn.execute("CREATE TABLE numbers (n INTEGER)")
    conn.executemany("INSERT INTO numbers VALUES (?)", [(i,) for i in range(1, 3001)])
    conn.execute("CREATE VIEW fragile AS SELECT n, CASE WHEN n > 2500 "
                 "THEN json_extract('{oops', '$') ELSE n END AS v FROM numbers")
    conn.close()
    out = tmp_path / "fragile.csv"
    out.write_text("yesterday's export\n")
    for fmt in ("csv", "json", "nl"):
        result = invoke("export", "fragile", "--format", fmt, "--output", out)
        assert result.exit_code == 1
        assert result.stderr == ("Error: export of 'fragile' failed after 2,000 rows: "
                                 "malformed JSON\n")
        assert out.read_text() == "yesterday's export\n"
        assert files(tmp_path) == ["fragile.csv"]
