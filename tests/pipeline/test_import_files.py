"""Files as other tools export them (issue 16, part 4): UTF-8 with or without BOM, UTF-16,
Windows-1252 and Latin-1 told apart, `,` `;` and tab, CRLF and quoted newlines, the
Salesforce report footer, Odoo's and Twenty's formula guards — imported through the real
CLI and checked in the database (.xlsx workbooks: test_import_xlsx.py)."""

from __future__ import annotations

import csv
import io
import os
import sys
import threading

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from salescli.core.errors import InvalidValue
from salescli.pipeline import import_decode, import_read
from salescli.pipeline.import_read import Source, open_text, read_csv
from tests.pipeline.import_files import (
    HEADER,
    PEOPLE,
    expected,
    imported,
    people,
    read,
    read_source,
    table,
)
from tests.support.cli import fails, ok, query

# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding, raw, delimiter", [
    ("utf-8", lambda t: t.encode("utf-8"), ","),
    ("utf-8 with BOM", lambda t: t.encode("utf-8-sig"), ";"),
    ("Excel Unicode text (UTF-16 LE, tab)", lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
     "\t"),
    ("UTF-16 BE", lambda t: b"\xfe\xff" + t.encode("utf-16-be"), "\t"),
    ("Windows-1252", lambda t: t.encode("cp1252"), ";"),
])
def test_each_encoding_imports_the_same_rows(invoke, sales, tmp_path, encoding, raw, delimiter):
    path = tmp_path / "export.csv"
    path.write_bytes(raw(table(delimiter=delimiter, newline="\r\n")))
    out = ok(invoke("prospects", "import", path))
    assert out == "export.csv: 3 rows, 3 inserted, 0 updated\n"
    assert imported(sales) == expected()


@pytest.mark.parametrize("raw, encoding", [
    (table().encode("utf-8"), "utf-8"),
    (table().encode("utf-8-sig"), "utf-8-sig"),
    (b"\xff\xfe" + table().encode("utf-16-le"), "utf-16-le"),
    (b"\xfe\xff" + table().encode("utf-16-be"), "utf-16-be"),
    (table().encode("cp1252"), "cp1252"),
    (table(PEOPLE[2:]).encode("cp1252"), "cp1252"),  # only ’ (0x92) says Windows-1252
    ("email,name\nzoe@example.com,Zoë Grüber\nx@example.de,François Ærø\n".encode("latin-1"),
     "latin-1"),
    (b"email,name\nzoe@example.com,Zoe\n", "utf-8"),
])
def test_the_encoding_is_decided_and_named(raw, encoding):
    source, header, rows = read(raw)
    assert source.encoding == encoding
    assert header[0] == header[0].strip("\ufeff") and header[0].lower() == "email"
    text = raw.decode({"utf-16-le": "utf-16", "utf-16-be": "utf-16", "latin-1": "latin-1",
                       "cp1252": "cp1252"}.get(encoding, "utf-8-sig"))
    assert [cells for _, cells in rows] == list(csv.reader(io.StringIO(text)))[1:]


def test_latin1_is_told_apart_from_windows_1252_by_the_bytes_0x80_to_0x9f():
    # é ü are the same byte in both; € ’ “ ” are 0x80-0x9F: control characters in Latin-1
    assert import_decode.detect("Chloé Grüber".encode("latin-1")) == "latin-1"
    assert import_decode.detect("Chloé’s €5".encode("cp1252")) == "cp1252"
    assert import_decode.detect("Chloé".encode("cp1252")) == "latin-1"
    polish = "a@b.pl,Łukasz Wiśniewski,Spotkanie w Łodzi; zadzwonić później\n" * 10
    assert import_decode.detect(polish.encode("cp1250")) == "cp1250"
    # a few letters are too little for any detector: Windows-1252, named in the plan
    assert import_decode.detect("Łódź".encode("cp1250")) == "cp1252"
    assert import_decode.detect(("Москва, Санкт-Петербург, Новосибирск; " * 20)
                                .encode("cp1251")) == "cp1251"


def test_a_late_windows_1252_byte_is_read_as_windows_1252(monkeypatch):
    """The decision waits for the first chunk that is not ASCII: a file whose first
    chunks are ASCII and whose € comes late is read as Windows-1252, not as UTF-8."""
    monkeypatch.setattr(import_read, "_CHUNK", 64)
    rows = [(f"p{i}@example.com", "Plain", "", "", "") for i in range(400)]
    rows.append(("late@example.com", "Zoë", "", "", "€5 and it’s"))
    source, _, got = read(table(rows).encode("cp1252"))
    assert source.encoding == "cp1252"
    assert got[-1][1] == ["late@example.com", "Zoë", "", "", "€5 and it’s"]


def test_latin1_decided_early_still_reads_a_later_euro_as_windows_1252(monkeypatch):
    monkeypatch.setattr(import_read, "_CHUNK", 64)
    rows = [("zoe@example.com", "Zoë", "", "", "")] + \
        [(f"p{i}@example.com", "Plain", "", "", "") for i in range(400)] + \
        [("late@example.com", "Late", "", "", "€5")]
    source, _, got = read(table(rows).encode("cp1252"))
    assert source.encoding == "latin-1"
    assert got[-1][1][-1] == "€5" and got[0][1][1] == "Zoë"


def test_a_file_mixing_encodings_is_refused_naming_the_byte_and_line(invoke, sales, tmp_path):
    data = table(PEOPLE[:1]).encode("utf-8") + "dy@example.com,Dy,,,it’s\n".encode("cp1252")
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    offset = data.index(b"\x92")
    line = fails(invoke("prospects", "import", path), "mixed.csv", "mixes encodings",
                 f"byte 0x92 at offset {offset} (line 3)", "Windows-1252")
    assert "latin" not in line.lower()
    assert query(sales, "SELECT * FROM prospects") == []


def test_a_forced_encoding_that_does_not_fit_gives_the_right_iconv_hint():
    data = table().encode("cp1252")
    with pytest.raises(InvalidValue) as err:
        read(data, encoding="utf-8")
    text = str(err.value)
    assert err.value.field == "file" and "it looks like Windows-1252" in text
    assert "iconv -f WINDOWS-1252 -t UTF-8" in text and 'encoding = "cp1252"' in text
    at = data.index("ü".encode("cp1252"))
    assert f"byte 0xfc at offset {at} (line 2)" in text
    assert "latin" not in text.lower()
    source, _, rows = read(data, encoding="cp1252")
    assert source.encoding == "cp1252" and rows[0][1][1] == "Ana Müller"


@pytest.mark.parametrize("raw, encoding", [
    (table().encode("utf-8-sig"), "utf-8"), (b"\xff\xfe" + table().encode("utf-16-le"),
                                             "utf-16-le"),
])
def test_a_given_encoding_drops_the_byte_order_mark(raw, encoding):
    source, header, rows = read(raw, encoding=encoding)
    assert header == list(HEADER) and len(rows) == 3 and source.encoding == encoding


def test_a_given_delimiter_is_used():
    source, header, _ = read(b"Email;Name,Company\na@example.com;Ana,Acme\n", delimiter=",")
    assert header == ["Email;Name", "Company"] and source.delimiter == ","


def test_an_unknown_encoding_or_delimiter_is_refused():
    with pytest.raises(InvalidValue, match="is not an encoding"):
        Source.of(b"", "f.csv", encoding="klingon")
    with pytest.raises(InvalidValue, match="is not"):
        Source.of(b"", "f.csv", delimiter="|")


def test_text_ending_inside_a_character_names_the_end():
    with pytest.raises(InvalidValue, match=r"inside a character"):
        read(table().encode("utf-8") + "é".encode()[:1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.lists(st.text(alphabet=st.characters(
           codec="cp1252", exclude_categories=["Cs", "Cc"], exclude_characters="'"),
           max_size=8),
           min_size=2, max_size=2), min_size=1, max_size=8),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
       chunk=st.integers(1, 40), newline=st.sampled_from(["\n", "\r\n"]))
def test_any_text_reads_back_whatever_the_chunking(monkeypatch, cells, encoding, chunk,
                                                   newline):
    """Characters cut by chunk boundaries (UTF-8, UTF-16) come out whole."""
    monkeypatch.setattr(import_read, "_CHUNK", chunk)
    rows = [["email", "notes"]] + [[f"p{i}@example.com", "".join(c)] for i, c in
                                   enumerate(cells)]
    out = io.StringIO()
    csv.writer(out, lineterminator=newline).writerows(rows)
    raw = out.getvalue().encode(encoding)
    assume(encoding != "cp1252" or raw.isascii() or not import_decode.is_utf8(raw))
    want = "utf-8" if raw.isascii() else {"utf-16": "utf-16-le"}.get(encoding, encoding)
    if want == "cp1252" and not import_decode.has_c1(raw):
        want = "latin-1"
    try:
        source, header, got = read(raw)
    except InvalidValue as exc:
        # Windows-1252 text that looks mostly like UTF-8 is refused, never misread
        assert encoding == "cp1252" and import_decode.mostly_utf8(raw)
        assert "mixes encodings" in str(exc)
        return
    if encoding == "cp1252" and source.encoding not in ("cp1252", "latin-1"):
        return  # a few characters may read as well in another code page: named, not misread
    assert source.encoding == want
    assert [header] + [c for _, c in got] == rows


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("header_line, delimiter", [
    ("Email,Name,Company", ","), ("Email;Name;Company", ";"), ("Email\tName\tCompany", "\t"),
    ('"Name, full";Email;Company', ";"), ('"a;b"\t"c;d"\tEmail', "\t"), ("Email", ","),
])
def test_the_delimiter_is_the_one_the_header_uses_outside_quotes(header_line, delimiter):
    assert import_read.delimiter_of(header_line + "\n") == delimiter


def test_a_quoted_delimiter_in_the_header_does_not_decide(invoke, sales, tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('"Name, first, last";Email;Company\n"Lovelace, Ada";ada@example.com;AE\n',
                    encoding="utf-8")
    ok(invoke("prospects", "import", path, "--ignore-unknown"))
    assert query(sales, "SELECT email, company FROM prospects") == \
        [{"email": "ada@example.com", "company": "AE"}]


def test_crlf_and_quoted_newlines_survive(invoke, sales, tmp_path):
    rows = [("ana@example.com", "Ana", "", "", "line one\r\nline two"),
            ("bo@example.com", "Bo", "", "", "a\nb\n")]
    path = tmp_path / "crlf.csv"
    path.write_bytes(table(rows, delimiter=";", newline="\r\n").encode("cp1252"))
    ok(invoke("prospects", "import", path))
    got = people(sales)
    assert got["ana@example.com"]["notes"] == "line one\r\nline two"
    assert got["bo@example.com"]["notes"] == "a\nb"  # text is trimmed, as always


SALESFORCE = ('"First Name","Last Name","Email","Company"\n'
              '"Ana","Souza","ana@example.com","Acme"\n'
              '"Bo","Li","bo@example.com","Globex"\n')
FOOTER = ('\n""\n"Leads by owner"\n"Grand Totals (2 records)"\n\n'
          '"Confidential Information - Do Not Distribute"\n'
          '"Copyright (c) 2000-2025 salesforce.com, inc. All rights reserved."\n'
          '"Generated By:  Ana Souza  10/16/2025 8:30 AM"\n"Acme Inc"\n')


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_salesforce_report_footer_is_skipped(invoke, sales, tmp_path, newline):
    path = tmp_path / "report1760603400000.csv"
    path.write_bytes((SALESFORCE + FOOTER).replace("\n", newline).encode("utf-8"))
    out = ok(invoke("prospects", "import", path))
    assert out.endswith(": 2 rows, 2 inserted, 0 updated\n")
    assert query(sales, "SELECT email, name, company FROM prospects ORDER BY id") == [
        {"email": "ana@example.com", "name": "Ana Souza", "company": "Acme"},
        {"email": "bo@example.com", "name": "Bo Li", "company": "Globex"}]


def test_a_grand_totals_row_with_sums_is_footer_too():
    data = SALESFORCE + '\n"Grand Totals (2 records)","","","",""\n'
    _, _, rows = read(data.encode())
    assert [n for n, _ in rows] == [2, 3]


@pytest.mark.parametrize("tail, rejected", [
    # data after a footer-like block: nothing is skipped, the short rows are rejected
    (FOOTER + '"Cy","Wu","cy@example.com","Initech"\n', [6, 7, 9, 10, 11, 12]),
    # single cells after a blank row but no Salesforce mark: rows, rejected as before
    ('\n"Leads by owner"\n"Acme Inc"\n', [5, 6]),
    # no blank row before it: not a footer
    ('"Grand Totals (2 records)"\n', [4]),
])
def test_only_a_trailing_marked_block_is_skipped(tail, rejected):
    _, _, rows = read((SALESFORCE + tail).encode())
    bad = sorted(n for n, cells in rows if isinstance(cells, str))
    assert bad == rejected
    assert all("cells, the header has 4" in c for _, c in rows if isinstance(c, str))


def test_a_one_column_file_keeps_single_cells_after_a_blank_row():
    _, _, rows = read(b"email\na@example.com\n\nb@example.com\n")
    assert rows == [(2, ["a@example.com"]), (4, ["b@example.com"])]


def test_a_long_block_after_a_blank_row_is_data(invoke, sales, tmp_path):
    many = "".join(f'"x{i}"\n' for i in range(60))
    _, _, rows = read((SALESFORCE + "\n" + many + '"Grand Totals (2 records)"\n').encode())
    assert len([1 for _, c in rows if isinstance(c, str)]) == 61


def test_odoo_and_twenty_formula_guards_are_removed(invoke, sales, tmp_path):
    zwj = "\u200d"
    rows = [("ana@example.com", "'=HYPERLINK(\"x\")", "'+49 30 1234", "", "'-call back"),
            ("bo@example.com", f"{zwj}=1+1", f"{zwj}@acme", "", f"{zwj}-5 left"),
            ("cy@example.com", "'plain", f"{zwj}kept", "", "'@home")]
    path = tmp_path / "guarded.csv"
    path.write_text(table(rows), encoding="utf-8")
    ok(invoke("prospects", "import", path))
    assert imported(sales) == {
        "ana@example.com": {"name": '=HYPERLINK("x")', "company": "+49 30 1234",
                            "value": None, "notes": "-call back"},
        "bo@example.com": {"name": "=1+1", "company": "@acme", "value": None,
                           "notes": "-5 left"},
        "cy@example.com": {"name": "'plain", "company": f"{zwj}kept", "value": None,
                           "notes": "@home"}}


def test_a_guard_in_a_later_chunk_is_still_removed(monkeypatch):
    monkeypatch.setattr(import_read, "_CHUNK", 32)
    rows = [(f"p{i}@example.com", "Plain", "", "", "") for i in range(20)]
    rows.append(("z@example.com", "\u200d=SUM(A1)", "", "", ""))
    _, _, got = read(table(rows).encode())
    assert got[-1][1][1] == "=SUM(A1)"


# --------------------------------------------------------------------------- second pass


def test_reopen_reads_a_file_again_with_what_was_decided(tmp_path):
    path = tmp_path / "again.csv"
    path.write_bytes(table(delimiter=";").encode("cp1252"))
    source = Source.open(path)
    try:
        _, _, pieces = open_text(source, None)
        first = list(read_csv(source, pieces)[1])
        assert (source.encoding, source.delimiter, source.read) == ("cp1252", ";",
                                                                   path.stat().st_size)
        source.reopen()
        assert source.read == 0
        _, _, pieces = open_text(source, None)
        assert list(read_csv(source, pieces)[1]) == first
    finally:
        source.close()


def test_reopen_of_a_pipe_replays_its_bytes_from_a_spool(monkeypatch):
    """Standard input that cannot seek (a real pipe, fed by a thread) is copied to a
    temporary file as the first pass reads it; the second pass reads that copy, also the
    part the first pass never reached."""
    monkeypatch.setattr(import_read, "_CHUNK", 16)
    data = table(PEOPLE * 200).encode("utf-8")  # more than the 8 KiB read ahead
    r, w = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(w, data), os.close(w)))
    feeder.start()
    stream = os.fdopen(r, "rb", buffering=0)
    source = Source(stream, "stdin")
    try:
        assert source.spool is not None
        pieces = source.text()
        assert next(pieces).startswith("Email")  # the first pass stops early
        source.reopen()
        feeder.join()
        assert b"".join(source.chunks()) == data
        source.reopen()
        assert b"".join(source.chunks()) == data
        source.reopen()
        _, _, rows = read_source(source)
        assert [c[0] for _, c in rows] == [p[0] for p in PEOPLE * 200]
    finally:
        source.close()


def test_reopen_of_a_named_pipe_replays_it(tmp_path):
    """A path that is no regular file (a FIFO, /dev/stdin, <(…)) cannot be opened twice:
    it is spooled like standard input."""
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    data = table(delimiter=";").encode("cp1252")
    feeder = threading.Thread(target=fifo.write_bytes, args=(data,))
    feeder.start()
    source = Source.open(fifo)
    try:
        assert source.path is None and source.size is None and source.spool is not None
        first = read_source(source)[2]
        feeder.join()
        source.reopen()
        assert read_source(source)[2] == first
        assert [c[1] for _, c in first] == [p[1] for p in PEOPLE]
    finally:
        source.close()


def test_reopen_of_bytes_in_memory():
    source = Source.of(table().encode(), "mem.csv")
    first = read_source(source)[2]
    source.reopen()
    assert read_source(source)[2] == first


def test_import_from_a_real_pipe_still_works(invoke, sales, tmp_path):
    ok(invoke("prospects", "import", "-", input=table().encode("cp1252")))
    assert imported(sales) == expected()


# --------------------------------------------------------------------------- xlsx


# --------------------------------------------------------------------------- the parts


def test_the_bytes_that_tell_windows_1252_from_latin1():
    assert import_decode.has_c1(b"\x80") and import_decode.has_c1(b"a\x9f")
    assert not import_decode.has_c1(b"\x7f\xa0\xff")


def test_the_detector_sees_the_lines_that_are_not_ascii(monkeypatch):
    assert import_decode.sample(b"plain\nd\xe9f\nmore\n\xfcber") == b"d\xe9f\n\xfcber"
    monkeypatch.setattr(import_decode, "SAMPLE", 8)
    assert import_decode.sample(b"\xe9\xe9\xe9\xe9\xe9\n\xe9\xe9\xe9\xe9\n\xe9\n") == \
        b"\xe9\xe9\xe9\xe9\xe9\n\xe9\xe9\xe9\xe9\n"


def test_iconv_and_people_names_of_encodings():
    assert import_decode.iconv("latin-1") == "WINDOWS-1252"
    assert import_decode.iconv("cp1250") == "WINDOWS-1250"
    assert import_decode.iconv("koi8_r") == "KOI8_R"
    assert import_decode.name("cp1252") == "Windows-1252"
    assert import_decode.name("cp1251") == "cp1251"


def test_the_bytes_windows_1252_leaves_undefined_are_read_not_refused():
    data = "email,name\nzoe@example.com,Zoë\n".encode("cp1252") + b"a@example.com,x\x81y\n"
    source, _, rows = read(data)
    assert source.encoding == "cp1252" and rows[-1][1] == ["a@example.com", "x\x81y"]


def test_the_line_of_a_bad_byte_counts_every_chunk_before_it(monkeypatch):
    """The first 8 KiB come as one piece (read ahead), the rest in chunks of 16 bytes."""
    monkeypatch.setattr(import_read, "_CHUNK", 16)
    plain = [(f"p{i}@example.com", "Plain", "", "", "") for i in range(400)]
    data = table(plain + PEOPLE[:1] + plain).encode("utf-8") + \
        "dy@example.com,Dy,,,it’s\n".encode("cp1252")
    with pytest.raises(InvalidValue) as err:
        read(data)
    assert err.value.field == "file"
    at = data.index(b"\x92")
    assert f"byte 0x92 at offset {at} (line 803)" in str(err.value)
    assert str(err.value).endswith("save the whole file as CSV UTF-8, or fix that line")


def test_a_utf8_file_with_a_bom_mixing_encodings_is_named_so():
    data = table(PEOPLE[:1]).encode("utf-8-sig") + "dy@example.com,Dy,,,it’s\n".encode("cp1252")
    at = data.index(b"\x92")
    with pytest.raises(InvalidValue, match="mixes encodings: it starts as UTF-8 but byte 0x92 "
                                           f"at offset {at} "):
        read(data)


def test_a_byte_a_given_code_page_lacks_is_named():
    data = "email,name\nivan@example.ru,Иван\n".encode("cp1251") + b"x@example.ru,\x98\n"
    with pytest.raises(InvalidValue) as err:
        read(data, encoding="cp1251")
    assert (err.value.field, err.value.value) == ("file", "f.csv")
    at = data.index(b"\x98")
    assert str(err.value).endswith(f"is not cp1251 text: byte 0x98 at offset {at} (line 3); "
                                   "save it as CSV UTF-8")


def test_utf16_without_a_byte_order_mark_is_named_in_the_refusal():
    with pytest.raises(InvalidValue, match="UTF-16 without a byte-order mark") as err:
        read(table().encode("utf-16-le"))
    assert err.value.field == "file"


def test_a_broken_utf16_file_names_the_offset_of_the_bad_unit():
    data = b"\xff\xfe" + "email\na@example.com\n".encode("utf-16-le") + b"\x00\xdca\x00"
    with pytest.raises(InvalidValue, match=f"byte 0x00 at offset {len(data) - 4} \\(line 3\\)"):
        read(data)


def test_mostly_utf8_weighs_the_foreign_bytes():
    from salescli.pipeline.import_decode import mostly_utf8

    assert mostly_utf8("é".encode() + b"\xe9\xe8")  # 2 UTF-8 bytes of 4
    assert not mostly_utf8("é".encode() + b"\xe9\xe8\xe0")  # 2 of 5


@pytest.mark.parametrize("text, expected", [
    ("'=1", True), ("a,'=1", True), ("a;'x", True), ("a\t'x", True), ("a\n'x", True),
    ('"\'=1"', True), ('a,"\'=1"', True), ("a'b", False), ('a"\'b', False), ("ab", False),
    ("a'b,'c", True), ('x"\'', False),
])
def test_a_chunk_may_hold_a_guard_only_where_a_cell_starts(text, expected):
    from salescli.pipeline.import_quirks import may_be_guarded

    assert may_be_guarded(text) is expected


def test_a_tie_of_delimiters_goes_to_the_comma():
    assert import_read.delimiter_of("a,b;c\n") == ","
    assert import_read.delimiter_of("a;b,c\n") == ","


def test_a_two_column_footer_is_skipped_too():
    data = 'Email,Name\na@example.com,Ana\n\n"Confidential Information - Do Not Distribute"\n'
    assert [n for n, _ in read(data.encode())[2]] == [2]


def test_many_blank_rows_then_data_keep_the_data():
    data = SALESFORCE + "\n" * 60 + '"Cy","Wu","cy@example.com","Initech"\n'
    rows = read(data.encode())[2]
    assert rows[-1] == (64, ["Cy", "Wu", "cy@example.com", "Initech"])


def test_source_options_reach_every_way_of_opening(tmp_path, monkeypatch):
    assert Source.of(b"abc", "x.csv").size == 3 and Source.of(b"abc", "x.csv").kind == ""
    path = tmp_path / "x.csv"
    path.write_bytes(b"a;b\n")
    source = Source.open(path, encoding="cp1252", delimiter=";")
    assert (source.size, source.path, source.forced, source.delimiter) == (4, str(path), True,
                                                                          ";")
    source.close()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a;b\n")))
    source = Source.open("-", delimiter=";")
    assert (source.name, source.delimiter) == ("stdin", ";")


def test_errors_name_the_field(tmp_path):
    with pytest.raises(InvalidValue) as err:
        Source.of(b"", "f.csv", encoding="klingon")
    assert (err.value.field, err.value.value) == ("encoding", "klingon")
    assert str(err.value).endswith("is not an encoding Python knows (e.g. utf-8, cp1252)")
    with pytest.raises(InvalidValue) as err:
        Source.of(b"", "f.csv", delimiter=";;")
    assert (err.value.field, err.value.value) == ("delimiter", ";;")
    assert str(err.value).endswith('is not ",", ";" or a tab')
    for delimiter in (",", ";", "\t"):
        assert Source.of(b"", "f.csv", delimiter=delimiter).delimiter == delimiter


@pytest.mark.parametrize("name, first, expected", [
    ("x.csv", "[", "csv"), ("x.tsv", "[", "csv"), ("x.txt", "{", "csv"), ("x.json", "e", "json"),
    ("x.jsonl", "e", "json"), ("x.ndjson", "e", "json"), ("x", "[", "json"), ("x", "e", "csv"),
    ("X.CSV", "[", "csv"),
])
def test_the_format_by_extension_then_content(name, first, expected):
    assert import_read.detect_format(name, first) == expected


@pytest.mark.parametrize("suffix", [".xls", ".ods", ".numbers", ".pdf", ".xml", ".html", ".zip"])
def test_other_documents_are_refused_by_extension(suffix):
    with pytest.raises(InvalidValue) as err:
        import_read.detect_format("book" + suffix, "e")
    assert (err.value.field, err.value.value) == ("file", "book" + suffix)
    assert str(err.value).endswith(f"is not CSV, JSON or .xlsx ({suffix}); save it as .xlsx or "
                                   "CSV UTF-8")


def test_refusals_of_documents_name_the_file():
    for data, what in ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
                        "is an old Excel workbook (.xls); save it as .xlsx or CSV UTF-8"),
                       (b"PK\x03\x04\x14\x00mimetypeapplication/vnd.oasis.opendocument.sheet",
                        "is an OpenDocument spreadsheet; save it as .xlsx or CSV UTF-8")):
        with pytest.raises(InvalidValue) as err:
            read(data, "doc")
        assert (err.value.field, err.value.value) == ("file", "doc")
        assert str(err.value).endswith(what)


def test_reopen_closes_the_pipe_it_no_longer_needs(tmp_path):
    fifo = tmp_path / "p.csv"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=fifo.write_bytes, args=(table().encode(),))
    feeder.start()
    source = Source.open(fifo)
    pipe = source.stream
    try:
        read_source(source)
        feeder.join()
        source.reopen()
        assert pipe.closed and source.read == 0
        source.reopen()  # a second reopen reads the spool from its first byte again
        assert b"".join(source.chunks()) == table().encode()
    finally:
        source.close()


