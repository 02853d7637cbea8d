""".xlsx workbooks as other tools export them (issue 16, part 4): numbers and dates,
rows numbered as in the sheet, read from a pipe, and the workbooks that cannot be read
(broken, old .xls, OpenDocument, empty) refused naming the file."""

from __future__ import annotations

import os
import threading
from datetime import date, datetime, time, timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.pipeline import import_read
from salescli.pipeline.import_read import Source, open_text, read_csv
from tests.pipeline.import_files import people, read, read_source
from tests.support.cli import db_state, fails, ok, query


def test_an_xlsx_through_a_pipe_is_spooled_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(import_read, "_CHUNK", 512)
    data = workbook(tmp_path / "p.xlsx", XLSX_ROWS * 50).read_bytes()
    r, w = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(w, data), os.close(w)))
    feeder.start()
    source = Source(os.fdopen(r, "rb", buffering=0), "stdin")
    try:
        _, _, rows = read_source(source)
        assert len(rows) == 150 and source.kind == "xlsx"
    finally:
        feeder.join()
        source.close()


def workbook(path, rows, header=("Email", "Name", "Company", "Value", "Created At")):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.create_sheet("Other").append(["not", "read"])
    book.save(path)
    return path


XLSX_ROWS = [
    ("ana@example.com", "Ana Souza", "Acme", 980.5, datetime(2024, 3, 5, 14, 30)),
    ("bo@example.com", "Bo Li", None, 12500, date(2023, 11, 2)),
    (None, None, None, None, None),  # a blank row: skipped
    ("cy@example.com", "+49 30 1234", "Globex", None, None),
]


def test_an_xlsx_export_imports_with_numbers_and_dates(invoke, sales, tmp_path):
    path = workbook(tmp_path / "export.xlsx", XLSX_ROWS)
    out = ok(invoke("prospects", "import", path))
    assert out == "export.xlsx: 3 rows, 3 inserted, 0 updated\n"
    got = people(sales)
    assert (got["ana@example.com"]["value"], got["ana@example.com"]["created_at"]) == \
        (980.5, "2024-03-05T14:30:00Z")
    assert (got["bo@example.com"]["value"], got["bo@example.com"]["created_at"]) == \
        (12500.0, "2023-11-02T00:00:00Z")
    assert got["cy@example.com"]["name"] == "+49 30 1234"
    assert got["bo@example.com"]["company"] is None


def test_xlsx_rows_are_numbered_as_in_the_sheet(tmp_path):
    path = workbook(tmp_path / "export.xlsx", XLSX_ROWS + [("dy@example.com", "", "", "", "",
                                                            "extra"), ("ed@example.com",)])
    source = Source.open(path)
    try:
        _, header, rows = read(path.read_bytes(), "export.xlsx")
        assert header == ["Email", "Name", "Company", "Value", "Created At"]
        assert [n for n, _ in rows] == [2, 3, 5, 7, 6]  # the rejections come after
        assert rows[-2][1] == ["ed@example.com", "", "", "", ""]
        assert rows[-1][1] == "row 6: has 6 cells, the header has 5"
        assert rows[0][1] == ["ana@example.com", "Ana Souza", "Acme", "980.5",
                              "2024-03-05T14:30:00Z"]
        _, _, pieces = open_text(source, None)
        assert source.kind == "xlsx" and source.encoding is None
    finally:
        source.close()


def test_xlsx_numbers_can_stay_numbers(tmp_path):
    source = Source.open(workbook(tmp_path / "n.xlsx", XLSX_ROWS))
    source.numbers = True
    try:
        _, _, pieces = open_text(source, None)
        _, batches = read_csv(source, pieces)
        cells = [c for _, rows, _ in batches for c in rows]
        assert [c[3] for c in cells] == [980.5, 12500, ""]
    finally:
        source.close()


def test_an_xlsx_from_stdin_imports(invoke, sales, tmp_path):
    path = workbook(tmp_path / "export.xlsx", XLSX_ROWS)
    ok(invoke("prospects", "import", "-", input=path.read_bytes()))
    assert sorted(people(sales)) == ["ana@example.com", "bo@example.com", "cy@example.com"]


@pytest.mark.parametrize("name, content, needles", [
    ("broken.xlsx", b"PK\x03\x04not really a zip", ["broken.xlsx", "not a readable Excel"]),
    ("named.xlsx", b"email\na@example.com\n", ["named.xlsx", "not an Excel workbook"]),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
     ["old.xls", "old Excel workbook (.xls)"]),
    ("sheet.ods", b"PK\x03\x04\x14\x00\x00\x00\x00\x00mimetypeapplication/vnd.oasis."
                  b"opendocument.spreadsheet", ["sheet.ods", "OpenDocument"]),
])
def test_workbooks_that_cannot_be_read_are_refused(invoke, sales, tmp_path, name, content,
                                                   needles):
    before = db_state(sales)
    path = tmp_path / name
    path.write_bytes(content)
    fails(invoke("prospects", "import", path), *needles)
    assert db_state(sales) == before


def test_an_empty_workbook_has_no_header(invoke, sales, tmp_path):
    from openpyxl import Workbook

    Workbook().save(tmp_path / "empty.xlsx")
    fails(invoke("prospects", "import", tmp_path / "empty.xlsx"), "empty.xlsx", "no header row")


def test_a_sheet_of_blank_rows_has_no_header(invoke, sales, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    for row in ((None, "  "), (), ("", None, "")):
        book.active.append(row)
    book.save(tmp_path / "blank.xlsx")
    before = db_state(sales)
    assert fails(invoke("prospects", "import", tmp_path / "blank.xlsx")) == (
        f"Error: file {str(tmp_path / 'blank.xlsx')!r} has no header row (its first sheet is"
        " empty)")
    assert db_state(sales) == before


def test_a_workbook_forced_to_json_is_named_a_zip(invoke, sales, tmp_path):
    path = workbook(tmp_path / "export.xlsx", XLSX_ROWS)
    source = Source.open(path)
    with pytest.raises(InvalidValue) as err:
        open_text(source, "json")
    source.close()
    assert err.value.field == "file"
    fails(invoke("prospects", "import", path, "--format", "json"), "export.xlsx",
          "is a ZIP archive (an Excel workbook?), not CSV or JSON text")


@pytest.mark.parametrize("value, text", [
    (None, ""), ("\u200d=1", "=1"), ("'=1", "=1"), (True, "TRUE"), (False, "FALSE"),
    (12, "12"), (12500.0, "12500"), (980.5, "980.5"), (1e20, "1e+20"), (-0.0, "0"),
    (datetime(2024, 3, 5, 14, 30), "2024-03-05T14:30:00Z"), (date(2023, 11, 2), "2023-11-02"),
    (time(9, 5), "09:05:00"), (timedelta(hours=1), "1:00:00"),
])
def test_workbook_cells_as_text(value, text):
    from salescli.pipeline.import_xlsx import cell_text, cell_value

    assert cell_text(value) == text
    expected = value if type(value) in (int, float) else text
    assert cell_value(value) == expected and type(cell_value(value)) is type(expected)


def test_xlsx_batches_grow_as_csv_ones_do(tmp_path, monkeypatch):
    monkeypatch.setattr(import_read, "_FIRST", 4)
    monkeypatch.setattr(import_read, "_BATCH", 10)
    path = workbook(tmp_path / "many.xlsx", [(f"p{i}@example.com", "", "", i, None)
                                             for i in range(30)])
    source = Source.open(path)
    try:
        _, _, pieces = open_text(source, None)
        _, batches = read_csv(source, pieces)
        assert [len(n) for n, _, _ in batches] == [4, 4, 8, 10, 4]
        assert source.read == path.stat().st_size
    finally:
        source.close()


def test_an_over_long_xlsx_cell_stops_the_import(invoke, sales, tmp_path, monkeypatch):
    monkeypatch.setenv("SALESCLI_IMPORT_MAX_FIELD", "20")
    path = workbook(tmp_path / "long.xlsx", [("a@example.com", "x" * 21, "", "", None)])
    fails(invoke("prospects", "import", path), "row 2, field 'Name', in ",
          "long.xlsx is longer than 20 characters (SALESCLI_IMPORT_MAX_FIELD)")
    assert query(sales, "SELECT * FROM prospects") == []


def test_a_formula_cell_gives_its_computed_value_not_its_formula(tmp_path):
    path = workbook(tmp_path / "f.xlsx", [("a@example.com", "=1+1", "", "", None)])
    _, _, rows = read(path.read_bytes(), "f.xlsx")
    assert rows == [(2, ["a@example.com", "", "", "", ""])]  # never computed: empty


def test_workbook_refusals_name_the_field(tmp_path):
    for name, data in (("b.xlsx", b"PK\x03\x04broken"), ("n.xlsx", b"email\n")):
        with pytest.raises(InvalidValue) as err:
            read(data, name)
        assert (err.value.field, err.value.value) == ("file", name)


def test_an_empty_workbook_is_refused_naming_the_file(tmp_path):
    from openpyxl import Workbook

    Workbook().save(tmp_path / "e.xlsx")
    with pytest.raises(InvalidValue) as err:
        read((tmp_path / "e.xlsx").read_bytes(), "e.xlsx")
    assert err.value.field == "file"
