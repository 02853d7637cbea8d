"""An export whose first megabyte is ASCII and whose later rows are Windows-1252: the
reader decides the encoding at the first non-ASCII byte, and the plan (its first pass)
reads those rows the same way: the owner's name matches, the plan names the encoding."""

from __future__ import annotations

import pytest

from tests.pipeline.crm_plan.support import PEOPLE, PEOPLE_HEAD, add_user, crm_schema, write
from tests.support.cli import fails, ok, query

ASCII_ROWS = 14_000  # ~1.3 MB: past the reader's first 1 MiB chunk


@pytest.fixture
def late_cp1252(sales, tmp_path):
    crm_schema(sales)
    add_user(sales, "ana", "ana@team.example", "Ana Souza")
    add_user(sales, "jurgen", "jurgen@team.example", "Jürgen Groß")
    rows = "".join(f"{i},Ann,Lee{i},ann{i}@example.com,,Lee Ltd,Ana Souza,Subscriber,,"
                   f"2024-03-05 14:22,,100.00,USD,,,\n" for i in range(ASCII_ROWS))
    rows += ("99999,Zoë,Müller,zoe@example.de,,Müller GmbH – Köln,Jürgen Groß,Customer,,"
             "2024-03-05 14:22,2024-04-01 09:00,980.50,EUR,,,\n")
    return write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows, encoding="cp1252")


def test_the_plan_reads_late_windows_1252_rows_as_the_import_does(invoke, sales, late_cp1252):
    plan = ok(invoke("prospects", "import", late_cp1252, "--mapping", PEOPLE, "--dry-run"))
    assert "encoding cp1252" in plan.splitlines()[1] or "Windows-1252" in plan, plan
    assert "  Jürgen Groß → jurgen (1 row)" in plan
    ok(invoke("prospects", "import", late_cp1252, "--mapping", PEOPLE))
    [row] = query(sales, "SELECT name, company, owner, value, currency FROM prospects"
                         " WHERE email = 'zoe@example.de'")
    assert row == {"name": "Zoë Müller", "company": "Müller GmbH – Köln", "owner": "jurgen",
                   "value": 980.5, "currency": "EUR"}
    assert query(sales, "SELECT count(*) AS n FROM prospects")[0]["n"] == ASCII_ROWS + 1


def test_a_byte_windows_1252_leaves_undefined_is_read_as_latin_1(invoke, sales, tmp_path):
    # 0x81 has no Windows-1252 character: the plan's first pass reads it as the import
    # does (Latin-1's), instead of stopping on it
    crm_schema(sales)
    add_user(sales, "jurgen", "jurgen@team.example", "Jürgen Groß")
    row = ("7,Zoë,Müller,zoe@example.de,,Müller GmbH,Jürgen Groß,Customer,,"
           "2024-03-05 14:22,2024-04-01 09:00,980.50,EUR,,,grün\x81\n")
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + row, encoding="latin-1")
    plan = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run"))
    assert "  Jürgen Groß → jurgen (1 row)" in plan
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE))
    assert query(sales, "SELECT name, owner FROM prospects") == \
        [{"name": "Zoë Müller", "owner": "jurgen"}]


def test_owner_maps_hold_when_a_late_byte_restarts_the_plan(invoke, sales, late_cp1252):
    # the plan's first pass starts again at the late Windows-1252 row: --owner-map still holds
    late_cp1252.write_bytes(late_cp1252.read_bytes().replace(b"Ana Souza", b"The Boss"))
    fails(invoke("prospects", "import", late_cp1252, "--mapping", PEOPLE),
          "'The Boss' (14000 rows")
    ok(invoke("prospects", "import", late_cp1252, "--mapping", PEOPLE,
              "--owner-map", "The Boss=ana"))
    assert query(sales, "SELECT owner, count(*) AS n FROM prospects GROUP BY owner"
                        " ORDER BY owner") == [{"owner": "ana", "n": ASCII_ROWS},
                                               {"owner": "jurgen", "n": 1}]
