"""Output and export behaviour found unchecked by ``./dev mutants``: where a long table cell
is cut, a table whose name holds a double quote, the row count an export returns, and the
field a bad day names by default."""

from __future__ import annotations

import io
import json

import pytest

from salescli.core import db, export, timeutil
from salescli.core.errors import InvalidValue
from tests.support.cli import fails, ok


def test_a_long_cell_is_cut_to_exactly_sixty_characters(invoke, sales):
    company = "C" * 70 + "Z" * 10
    ok(invoke("prospects", "add", "a@b.example", "--company", company))
    table = ok(invoke("prospects", "list"))
    assert "C" * 59 + "…" in table
    assert "C" * 60 not in table and "Z" not in table


def test_a_table_whose_name_holds_a_double_quote_exports(invoke, sales, conn):
    with db.transaction(conn):
        conn.execute('CREATE TABLE "odd""name" (id INTEGER, note TEXT)')
        conn.execute('INSERT INTO "odd""name" VALUES (1, \'kept\')')
    rows = json.loads(ok(invoke("export", 'odd"name', "--format", "json")))
    assert rows == [{"id": 1, "note": "kept"}]


@pytest.mark.parametrize("fmt", ["csv", "json", "nl"])
def test_export_returns_the_number_of_rows_written(invoke, sales, conn, fmt):
    for i in range(3):
        ok(invoke("prospects", "add", f"p{i}@example.com"))
    assert export.export(conn, "prospects", fmt, out=io.StringIO()) == 3


def test_an_export_given_neither_a_path_nor_a_stream_says_so(sales, conn):
    """The library's caller learns what is missing, not a TypeError from deep inside."""
    with pytest.raises(ValueError, match="^export needs a path or a stream$"):
        export.export(conn, "prospects", "csv")


def test_parse_day_names_the_date_field_by_default():
    with pytest.raises(InvalidValue, match="^date 'soon' is not a date"):
        timeutil.parse_day("soon")


# ---- found by a fresh sample: ./dev mutants salescli/core --tests tests/core
#      --sample 60 --seed 2


def test_a_new_prospect_printed_as_csv_has_its_formula_guarded(invoke, sales):
    out = ok(invoke("prospects", "add", "evil@example.com", "--name", '=HYPERLINK("x")',
                    "--format", "csv"))
    assert ',"\'=HYPERLINK(""x"")",' in out


def test_an_unknown_export_name_lists_what_can_be_exported(invoke, sales):
    line = fails(invoke("export", "nope"))
    assert line.startswith("Error: TABLE_OR_VIEW 'nope' is not a table or view of the sales"
                           " database; choose one of: activities, ")


def test_blobs_export_as_base64_in_csv_and_json(invoke, sales, conn):
    with db.transaction(conn):
        conn.execute("CREATE TABLE files (id INTEGER, data BLOB)")
        conn.execute("INSERT INTO files VALUES (1, ?)", (b"\x00\xffhi",))
    assert ok(invoke("export", "files")).splitlines() == ["id,data", "1,AP9oaQ=="]
    assert json.loads(ok(invoke("export", "files", "--format", "json"))) == \
        [{"id": 1, "data": "AP9oaQ=="}]


def test_a_json_listing_closes_its_array_on_a_line_of_its_own(invoke, sales):
    ok(invoke("prospects", "add", "a@example.com"))
    out = ok(invoke("prospects", "list", "--format", "json"))
    assert out.startswith("[\n {") and out.endswith("}\n]\n")
    assert ok(invoke("prospects", "list", "--format", "json", "--stage", "won")) == "[]\n"


def test_a_database_that_is_not_ours_is_one_error_naming_it(invoke, tmp_path):
    import sqlite3

    other = tmp_path / "other.db"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE x (a)")
    c.close()
    assert fails(invoke("--db", other, "prospects", "list")) == \
        f"Error: database {str(other)!r} is not a salescli database; run: salescli init"
