"""A file that mixes UTF-8 with another encoding cannot be read right by any one decoding:
when at least half of its non-ASCII bytes are UTF-8 characters, it is read as UTF-8 and
refused at the first foreign byte (named), rather than imported as mojibake."""

from __future__ import annotations

from tests.support.cli import fails, ok, scalar


def test_half_utf8_half_latin1_is_refused_at_the_foreign_byte(invoke, sales, tmp_path):
    path = tmp_path / "mixed.csv"
    # 'é' in UTF-8 (2 bytes), then 'éé' in Latin-1 (2 bytes): exactly half UTF-8
    path.write_bytes(b"email,name\na@x.test,Caf\xc3\xa9\nb@x.test,\xe9\xe9\n")
    line = fails(invoke("prospects", "import", str(path)))
    assert line == (f"Error: file {str(path)!r} mixes encodings: it starts as UTF-8 but byte"
                    " 0xe9 at offset 35 (line 3) is not UTF-8 (it looks like Latin-1); save the"
                    " whole file as CSV UTF-8, or fix that line")
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0


def test_less_than_half_utf8_is_read_in_the_majority_encoding(invoke, sales, tmp_path):
    # 'é' in UTF-8 (2 bytes), then three Windows-1252 euro signs (0x80, the lowest
    # non-ASCII byte: it counts as foreign too): 2 of 5 non-ASCII bytes are UTF-8.
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"email,name\na@x.test,Caf\xc3\xa9\nb@x.test,\x80\x80\x80 Fund\n")
    ok(invoke("prospects", "import", str(path)))
    assert scalar(sales, "SELECT name FROM prospects WHERE email = 'b@x.test'") == "€€€ Fund"
