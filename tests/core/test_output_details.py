"""Output details a user sees, each pinned by a mutant that survived the older tests."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.cli import ok


def test_table_shows_a_list_cell_as_comma_separated_words(invoke, three):
    table = ok(invoke("prospects", "list"))
    ada = next(line for line in table.splitlines() if "ada@example.com" in line)
    assert "vip, q4" in ada


def test_a_bare_carriage_return_in_a_cell_round_trips_through_csv(invoke, sales):
    ok(invoke("prospects", "add", "cr@example.com", "--notes", "line one\rline two"))
    text = ok(invoke("prospects", "export"))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["email"] for r in rows] == ["cr@example.com"]
    assert rows[0]["notes"] == "line one\rline two"


def test_nl_output_keeps_non_ascii_text_readable(invoke, sales):
    ok(invoke("prospects", "add", "zoe@example.com", "--name", "Zoë Ångström"))
    line = ok(invoke("prospects", "list", "--format", "nl"))
    assert '"name": "Zoë Ångström"' in line


def test_a_table_cell_of_exactly_the_width_is_shown_whole(invoke, sales):
    name = "N" * 60
    ok(invoke("prospects", "add", "wide@example.com", "--name", name))
    table = ok(invoke("prospects", "list"))
    assert name in table and "…" not in table


def test_the_activity_table_shows_a_change_as_readable_one_line_json(invoke, three):
    ok(invoke("prospects", "update", "cy@example.net", "--name", "Zoë\nÅngström"))
    table = ok(invoke("activity", "--prospect", "cy@example.net"))
    update = next(line for line in table.splitlines() if " update " in line)
    assert update.rstrip().endswith('{"name": "Zoë\\nÅngström"}')


def test_a_table_shows_text_that_looks_like_a_number_as_typed(invoke, sales):
    ok(invoke("prospects", "add", "lab@example.com", "--company", "1E9"))
    row = next(line for line in ok(invoke("prospects", "list")).splitlines()
               if "lab@example.com" in line)
    assert " 1E9 " in row + " " and "1000000000" not in row


@pytest.mark.parametrize("fmt", ["csv", "json", "nl", "table"])
def test_render_returns_how_many_rows_it_wrote(fmt):
    from salescli.core import output

    rows = [{"email": f"p{i}@example.com"} for i in range(3)]
    assert output.render(iter(rows), fmt, io.StringIO()) == 3
