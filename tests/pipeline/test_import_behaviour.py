"""Import behaviour ``./dev mutants`` led to: a short malformed NL-JSON line in a big file
is one rejected row (not a 'too long' record), exact error lines, the time a stage move
is dated, and the audit rows of the do-not-contact list."""

from __future__ import annotations

from tests.support.cli import db_state, fails, ok, query, scalar
from tests.support.cli import write_file as write


def test_a_short_bad_nl_json_line_before_much_more_data_is_one_rejected_row(
        invoke, sales, tmp_path):
    # The record limit is 16 × 40 = 640 characters; 50 good lines after the bad one are
    # more than that, which made the reader call the bad line 'longer than 640 characters'.
    good = "".join(f'{{"email": "b{i}@example.com"}}\n' for i in range(50))
    path = write(tmp_path, "p.jsonl", '{"email": "a@example.com"}\nnope\n' + good)
    env = {"SALESCLI_IMPORT_MAX_FIELD": "40"}
    before = db_state(sales)
    refused = invoke("prospects", "import", path, env=env)
    assert refused.exit_code == 1 and refused.stderr.splitlines() == [
        "row 2: is not valid JSON: Expecting value",
        "Error: 1 of 52 rows in p.jsonl rejected; nothing imported (fix them, or use"
        " --skip-invalid to import the other 51)"]
    assert db_state(sales) == before
    result = invoke("prospects", "import", path, "--skip-invalid", env=env)
    assert result.exit_code == 0, result.output
    assert "row 2: is not valid JSON" in result.stderr
    assert scalar(sales, "SELECT count(*) FROM prospects") == 51


def test_a_bad_byte_is_placed_on_its_line_even_after_a_leading_blank_line(invoke, sales,
                                                                          tmp_path):
    # UTF-8 (Renée) then a Latin-1 byte: one file, two encodings.
    path = write(tmp_path, "l.csv", b"\nemail,name\na@example.com,Ren\xc3\xa9e\n"
                                    b"b@example.com,B\xe9a\n")
    assert fails(invoke("prospects", "import", path)) == (
        f"Error: file {str(path)!r} mixes encodings: it starts as UTF-8 but byte 0xe9 at "
        "offset 48 (line 4) is not UTF-8 (it looks like Latin-1); save the whole file as "
        "CSV UTF-8, or fix that line")


def test_an_xml_file_is_refused_by_its_extension(invoke, sales, tmp_path):
    path = write(tmp_path, "a.xml", "email\na@example.com\n")  # CSV inside: still refused
    assert fails(invoke("prospects", "import", path)) == \
        f"Error: file {str(path)!r} is not CSV, JSON or .xlsx (.xml); save it as .xlsx or CSV UTF-8"


def test_a_csv_of_empty_cells_has_no_header_row(invoke, sales, tmp_path):
    path = write(tmp_path, "e.csv", ",,\n")
    assert fails(invoke("prospects", "import", path)) == \
        f"Error: file {str(path)!r} has no header row"


def test_a_stage_column_move_is_dated_at_the_import(invoke, sales, tmp_path):
    from salescli.core.timeutil import now

    path = write(tmp_path, "s.csv", "email,created_at,won_at,stage\n"
                                    "re@example.com,2025-01-01,2025-01-03,contacted\n")
    before = now()
    ok(invoke("prospects", "import", path))
    after = now()
    [moved] = query(sales, "SELECT c.at FROM stage_changes c JOIN stages s"
                           " ON s.id = c.to_stage_id WHERE s.name = 'contacted'")
    assert before <= moved["at"] <= after
    assert scalar(sales, "SELECT stage_entered_at FROM prospects") == moved["at"]


def test_a_json_file_of_neither_an_array_nor_objects_is_one_exact_error(invoke, sales, tmp_path):
    f = tmp_path / "people.json"
    f.write_text('"ann@example.com"\n')
    assert fails(invoke("prospects", "import", str(f))) == \
        f"Error: file {str(f)!r} is not a JSON array of objects, nor NL-JSON"
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0
