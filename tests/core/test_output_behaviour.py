"""Output and export behaviour found unchecked by ``./dev mutants``: where a long table cell
is cut, a table whose name holds a double quote, the row count an export returns, and the
field a bad day names by default."""

from __future__ import annotations

import io
import json

import pytest

from salescli.core import db, export, timeutil
from salescli.core.errors import InvalidValue
from tests.support.cli import ok


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


def test_parse_day_names_the_date_field_by_default():
    with pytest.raises(InvalidValue, match="^date 'soon' is not a date"):
        timeutil.parse_day("soon")
