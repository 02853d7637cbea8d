"""``salescli export`` on a terminal, and the library's answer to an unknown format.
Each test pins a mutant that survived the older tests (docs/testing.md)."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest

from salescli.core import export
from salescli.core.errors import InvalidValue
from tests.support.cli import run_on_terminal


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_export_to_a_file_on_a_terminal_says_how_many_rows(three, tmp_path, suffix):
    target = tmp_path / f"out.{suffix}"
    code, _, terminal = run_on_terminal(["export", "prospects", "-o", str(target)],
                                        dict(os.environ))
    assert code == 0, terminal
    assert "Exporting prospects  [####" in terminal  # the bar moved
    assert f"Exported 3 rows of prospects to {target}" in terminal
    text = target.read_text()
    rows = (json.loads(text) if suffix == "json"
            else list(csv.DictReader(io.StringIO(text, newline=""))))
    assert len(rows) == 3


@pytest.mark.parametrize("call", [export.export, export.write])
def test_an_unknown_format_names_the_option_and_the_choices(three, conn, call):
    out = io.StringIO()
    with pytest.raises(InvalidValue) as err:
        call(conn, "prospects", "xml", out=out)
    assert str(err.value) == "--format 'xml' must be one of csv, json, nl"
    assert out.getvalue() == ""


@pytest.mark.parametrize("extra", [[], ["--raw"], ["--format", "json"]])
def test_a_blob_written_by_another_tool_exports_as_base64(invoke, three, db_file, extra):
    from tests.support.cli import connect, ok

    other = connect(db_file)
    other.execute("UPDATE prospects SET notes = ? WHERE email = 'cy@example.net'",
                  (b"\x00\xffraw",))
    other.close()
    text = ok(invoke("export", "prospects", *extra))
    rows = (json.loads(text) if extra[:1] == ["--format"]
            else list(csv.DictReader(io.StringIO(text, newline=""))))
    assert [r["notes"] for r in rows if r["email"] == "cy@example.net"] == ["AP9yYXc="]


def test_bookkeeping_tables_are_not_suggested_but_still_export_by_name(invoke, sales):
    from tests.support.cli import fails, ok

    line = fails(invoke("export", "nope"), "TABLE_OR_VIEW 'nope'", "prospects")
    assert "_sqlite_migrations" not in line and "prospects_fts" not in line
    assert ok(invoke("export", "_sqlite_migrations")).startswith("id,migration_set,name,")


def test_progress_is_reported_every_5000_rows_and_at_the_end(sales, conn):
    """What moves the bar of ``salescli export -o FILE`` on a terminal."""
    conn.execute("CREATE TABLE bulk(n INTEGER)")
    conn.executemany("INSERT INTO bulk VALUES (?)", [(i,) for i in range(12_345)])
    seen: list[int] = []
    out = io.StringIO()
    assert export.export(conn, "bulk", "nl", out=out, progress=seen.append) == 12_345
    assert seen == [5000, 10_000, 12_345]
    assert out.getvalue().count("\n") == 12_345


def test_exported_json_has_one_row_a_line_and_closes_on_its_own_line(invoke, three):
    from tests.support.cli import ok

    text = ok(invoke("export", "prospects", "--format", "json"))
    lines = text.split("\n")
    assert lines[0] == "[" and lines[-2:] == ["]", ""]
    assert [json.loads(line.rstrip(","))["email"] for line in lines[1:-2]] == [
        "ada@example.com", "bob@example.org", "cy@example.net"]
    assert json.loads(text) == [json.loads(line.rstrip(",")) for line in lines[1:-2]]


def test_raw_and_format_hold_for_a_file_too_and_text_stays_readable(invoke, sales, tmp_path):
    from tests.support.cli import ok

    ok(invoke("prospects", "add", "zoe@example.com", "--name", "=Zoë()"))
    raw = tmp_path / "raw.csv"
    ok(invoke("export", "prospects", "--raw", "-o", raw))
    assert [r["name"] for r in csv.DictReader(io.StringIO(raw.read_text(), newline=""))] == [
        "=Zoë()"]
    for fmt in ("json", "nl"):
        out = tmp_path / f"out.{fmt}"
        ok(invoke("export", "prospects", "--format", fmt, "-o", out))
        assert '"name": "=Zoë()"' in out.read_text(encoding="utf-8")
