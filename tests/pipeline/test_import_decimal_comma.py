"""A comma in a value is never silently misread: the generic reader takes only the
1,250.50 style and rejects a decimal comma by row, naming the value; an import by a plan
(``--write-mapping``) reads the column's own style; ``prospects add --value`` agrees."""

from __future__ import annotations

import pytest

from tests.support.cli import fails, ok, query


@pytest.mark.parametrize("cell", ["980,50", "12.500,00", "1,25", "1,2500", ",5"])
def test_the_generic_reader_rejects_a_decimal_comma_by_row(invoke, sales, tmp_path, cell):
    path = tmp_path / "leads.csv"
    path.write_text(f'email,value\nada@example.com,5\nbob@example.org,"{cell}"\n')
    result = invoke("prospects", "import", str(path))
    assert result.exit_code == 1
    assert f"row 3: value '{cell}' is not a number in the 1,250.50 style" in result.stderr
    assert query(sales, "SELECT count(*) AS n FROM prospects")[0]["n"] == 0


def test_us_grouping_still_reads(invoke, sales, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text('email,value\nada@example.com,"1,250.50"\nbob@example.org,"12,500"\n')
    ok(invoke("prospects", "import", str(path)))
    assert [r["value"] for r in query(sales, "SELECT value FROM prospects ORDER BY id")] == [
        1250.5, 12500.0]


def test_a_plan_reads_the_decimal_comma_of_the_whole_column(invoke, sales, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text('email;value\nada@example.com;980,50\nbob@example.org;12.500,00\n')
    ok(invoke("prospects", "import", str(path), "--write-mapping", str(tmp_path / "m.toml")))
    assert [r["value"] for r in query(sales, "SELECT value FROM prospects ORDER BY id")] == [
        980.5, 12500.0]


def test_prospects_add_rejects_a_decimal_comma(invoke, sales):
    line = fails(invoke("prospects", "add", "ada@example.com", "--value", "980,50"))
    assert line == ("Error: value '980,50' is not a number in the 1,250.50 style (a "
                    "decimal comma? an import by a plan reads the column's style: add "
                    "--write-mapping FILE)")
    assert query(sales, "SELECT count(*) AS n FROM prospects")[0]["n"] == 0
