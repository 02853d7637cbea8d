"""Rows that do not fill the header: a workbook written without its <dimension> element
(some exporters omit it) gives rows cut after their last value, which are empty cells, not
anything else; a CSV row whose extra blank cells are too long is refused naming its column;
and a file with a name column takes the name from there, not from first/last name."""

from __future__ import annotations

import io
import re
import zipfile

from tests.support.cli import fails, ok, query


def _without_dimension(path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in (["Email", "Name", "Company"], ["a@x.test"], ["b@x.test", "Bo"],
                ["c@x.test", "Cy", "Acme"]):
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb"<dimension[^>]*/>", b"", data)
                assert n == 1
            out.writestr(info, data)


def test_short_rows_of_a_workbook_without_dimension_are_empty_cells(invoke, sales, tmp_path):
    path = tmp_path / "export.xlsx"
    _without_dimension(path)
    assert ok(invoke("prospects", "import", str(path))) == \
        "export.xlsx: 3 rows, 3 inserted, 0 updated\n"
    rows = query(sales, "SELECT email, name, company FROM prospects ORDER BY email")
    assert [(r["email"], r["name"], r["company"]) for r in rows] == [
        ("a@x.test", None, None), ("b@x.test", "Bo", None), ("c@x.test", "Cy", "Acme")]


def test_a_too_long_blank_cell_past_the_header_is_named_by_its_column(invoke, sales, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("SALESCLI_IMPORT_MAX_FIELD", "10")
    path = tmp_path / "p.csv"
    path.write_text("email,name\na@x.test,Ada\nb@x.test,Bo," + " " * 11 + "\n")
    line = fails(invoke("prospects", "import", str(path)))
    assert line == (f"Error: row 3, field 'column 3', in {path} is longer than 10 characters"
                    " (SALESCLI_IMPORT_MAX_FIELD)")
    assert query(sales, "SELECT count(*) AS n FROM prospects")[0]["n"] == 0


def test_a_name_column_wins_over_first_and_last_name(invoke, sales, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("email,name,first_name,last_name\na@x.test,Ada L.,Augusta,King\n"
                    "b@x.test,,Bo,Li\n")
    ok(invoke("prospects", "import", str(path)))
    rows = query(sales, "SELECT email, name FROM prospects ORDER BY email")
    assert [(r["email"], r["name"]) for r in rows] == [("a@x.test", "Ada L."), ("b@x.test", None)]


def test_a_workbook_cell_of_exactly_the_limit_is_kept(invoke, sales, tmp_path, monkeypatch):
    from openpyxl import Workbook

    monkeypatch.setenv("SALESCLI_IMPORT_MAX_FIELD", "20")
    for name, company in (("ok.xlsx", "x" * 20), ("long.xlsx", "x" * 21)):
        book = Workbook()
        book.active.append(["Email", "Company"])
        book.active.append([f"{name[0]}@x.test", company])
        book.save(tmp_path / name)
    ok(invoke("prospects", "import", str(tmp_path / "ok.xlsx")))
    line = fails(invoke("prospects", "import", str(tmp_path / "long.xlsx")))
    assert "field 'Company'" in line and "is longer than 20 characters" in line
    rows = query(sales, "SELECT email, company FROM prospects")
    assert [(r["email"], r["company"]) for r in rows] == [("o@x.test", "x" * 20)]
