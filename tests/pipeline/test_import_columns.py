"""Which column holds what in an import (pinned by mutants that survived the older tests)."""

from __future__ import annotations

from tests.support.cli import fails, scalar


def test_a_file_without_an_email_column_is_named_and_nothing_imported(invoke, sales, tmp_path):
    data = tmp_path / "people.csv"
    data.write_text("Name,Company\nAda,AE\n", encoding="utf-8")
    fails(invoke("prospects", "import", data),
          f"file {str(data)!r} has no email column (columns: 'Name', 'Company')")
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0

