"""A file that is not what its name says (binary, a text file named .xlsx, a ZIP that is no
workbook, JSON that is neither an array nor NL-JSON, CSV with an unclosed quote, a
spreadsheet format we do not read) is refused whole: one ``Error:`` line naming the file and
what is wrong, and not one row imported."""

from __future__ import annotations

import zipfile

import pytest

from tests.support.cli import fails, query


def _zip(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "x")


def _ods(path):
    """What LibreOffice writes first: the mimetype, stored."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")


CASES = [
    ("bin.csv", b"email\x00,name\nx@y.example,\x00\n",
     "is binary (or UTF-16 without a byte-order mark), not CSV or JSON text"),
    ("fake.xlsx", b"email\nx@y.example\n", "is not an Excel workbook, though named .xlsx"),
    ("zip.xlsx", _zip, "is a ZIP archive but not a readable Excel workbook (\"There is no item"
                       " named '[Content_Types].xml' in the archive\"); export it as CSV UTF-8"),
    ("people.json", b"  email: x@y.example\n", "is not a JSON array of objects, nor NL-JSON"),
    ("open.csv", b'email,name\nx@y.example,Ada\ny@y.example,"unclosed\n',
     "is not valid CSV on line 3: unexpected end of data"),
    ("people.ods", _ods, "is an OpenDocument spreadsheet; save it as .xlsx or CSV UTF-8"),
    ("people.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100),
     "is an old Excel workbook (.xls); save it as .xlsx or CSV UTF-8"),
    ("people.html", b"<table><tr><td>x@y.example</td></tr></table>\n",
     "is not CSV, JSON or .xlsx (.html); save it as .xlsx or CSV UTF-8"),
]


@pytest.mark.parametrize("name, content, reason", CASES, ids=[c[0] for c in CASES])
def test_a_file_that_is_not_what_it_says_is_refused_whole(invoke, conn, db_file, tmp_path, name,
                                                          content, reason):
    path = tmp_path / name
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)
    assert fails(invoke("prospects", "import", path)) == f"Error: file '{path}' {reason}"
    assert query(db_file, "SELECT count(*) AS n FROM prospects") == [{"n": 0}]


@pytest.mark.parametrize("option", [("--stage-map", "Hot=lead"), ("--owner-map", "Ana=ana"),
                                    ("--create-owners",)])
def test_a_json_file_with_an_option_for_csv_exports_is_refused(invoke, conn, db_file, tmp_path,
                                                               option):
    path = tmp_path / "people.json"
    path.write_text('[{"email": "ada@example.com"}]')
    assert fails(invoke("prospects", "import", path, *option)) == (
        f"Error: file '{path}' is JSON: --from, --mapping, --map, --stage-map, --owner-map,"
        " --create-owners and --write-mapping are for CSV exports")
    assert query(db_file, "SELECT count(*) AS n FROM prospects") == [{"n": 0}]
