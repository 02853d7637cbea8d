"""``salescli prospects import``: mapping, validation, duplicates, all-or-nothing, audit."""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest

from salescli.core import db
from salescli.core.errors import InvalidValue
from salescli.pipeline import import_map, import_write, importer
from tests.support.cli import (
    activities,
    assert_fts_in_sync,
    db_state,
    fails,
    ok,
    query,
    scalar,
)
from tests.support.cli import write_file as write

CSV = ("E-mail,Full Name,Organisation,Deal Value,Tags,Stage,Owner,Notes\n"
       "Ada@Example.com ,Ada Lovelace,Analytical Engines,5000,\"vip,q4\",meeting,maria,"
       "likes engines\n"
       "bob@example.org,Bob Babbage,Initech,\"1,200.50\",,,dev,\n"
       "cy@example.net,,,,inbound,Contacted,,\n")


def people(db_file) -> dict[str, dict]:
    rows = query(db_file, "SELECT p.*, s.name AS stage FROM prospects p"
                          " JOIN stages s ON s.id = p.stage_id ORDER BY p.id")
    return {r["email"]: r for r in rows}


def search(invoke, text: str) -> list[str]:
    out = ok(invoke("prospects", "list", "--search", text, "--format", "json"))
    return [p["email"] for p in json.loads(out)]


def rejected(result, code: int = 1) -> tuple[list[str], str]:
    """The per-row report lines and the final line of a run that rejected rows."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    return [ln for ln in lines if ln.startswith("row ")], lines[-1]


# ------------------------------------------------------------------ the happy path


def test_csv_import_maps_headers_validates_and_writes_history(invoke, sales, tmp_path):
    out = ok(invoke("prospects", "import", write(tmp_path, "leads.csv", CSV)))
    assert out == "leads.csv: 3 rows, 3 inserted, 0 updated\n"
    p = people(sales)
    assert list(p) == ["ada@example.com", "bob@example.org", "cy@example.net"]
    ada, bob, cy = p.values()
    assert (ada["name"], ada["company"], ada["owner"], ada["value"], ada["stage"]) == \
        ("Ada Lovelace", "Analytical Engines", "maria", 5000.0, "meeting")
    assert json.loads(ada["tags"]) == ["vip", "q4"] and ada["notes"] == "likes engines"
    assert (bob["value"], bob["stage"], json.loads(bob["tags"])) == (1200.5, "lead", [])
    assert (cy["name"], cy["company"], cy["stage"]) == (None, None, "contacted")
    changes = query(sales, "SELECT prospect_id, from_stage_id, actor, note, at"
                           " FROM stage_changes ORDER BY id")
    assert [(c["prospect_id"], c["from_stage_id"], c["actor"], c["note"]) for c in changes] \
        == [(1, None, "tester", "created"), (2, None, "tester", "created"),
            (3, None, "tester", "created")]
    assert changes[0]["at"] == ada["created_at"] == ada["stage_entered_at"]
    # the tag filter and the full-text index know the new rows
    assert ok(invoke("prospects", "list", "--tag", "vip", "--format", "csv")).count("\n") == 2
    assert search(invoke, "analytical") == ["ada@example.com"]
    assert search(invoke, "initech") == ["bob@example.org"]


def test_one_activity_for_the_batch_without_personal_data(invoke, sales, tmp_path):
    ok(invoke("prospects", "import", write(tmp_path, "leads.csv", CSV)))
    acts = activities(sales)
    assert len(acts) == 1
    act = acts[0]
    assert (act["action"], act["entity"], act["entity_id"], act["actor"]) == \
        ("import", "prospect", None, "tester")
    after = act["after"]
    assert after["file"] == "leads.csv"
    assert (after["rows"], after["inserted"], after["updated"], after["rejected_rows"]) == \
        (3, 3, 0, 0)
    assert after["inserted_ids"] == [[1, 3]]
    text = json.dumps(act).lower()
    for personal in ("ada", "babbage", "initech", "example.org", "5000"):
        assert personal not in text


def test_library_returns_a_result_with_ids(conn, tmp_path):
    path = write(tmp_path, "leads.csv", CSV)
    result = importer.import_file(conn, "lib", path)
    assert (result.inserted, result.updated, result.skipped, result.rejected) == (3, 0, 0, [])
    assert result.ids == [1, 2, 3] and result.written and result.activity_id
    again = importer.import_file(conn, "lib", path, on_duplicate="skip")
    assert (again.inserted, again.skipped, again.written) == (0, 3, False)



def test_library_mapping_adds_header_spellings(conn, db_file):
    text = "E-Mail Adresse,Firma\nada@example.com,Analytical Engines\n"
    with pytest.raises(InvalidValue):  # unknown columns, no email column
        importer.import_data(conn, "lib", text, "de.csv")
    result = importer.import_data(conn, "lib", text, "de.csv",
                                  mapping={"E-Mail Adresse": "email", "firma": "company"})
    assert result.inserted == 1
    assert query(db_file, "SELECT email, company FROM prospects") == [
        {"email": "ada@example.com", "company": "Analytical Engines"}]

def test_json_array_with_typed_values(invoke, sales, tmp_path):
    data = [{"email": "ADA@example.com", "name": "Ada", "value": 5000, "tags": ["vip", "q4"],
             "stage": "proposal"},
            {"email": "bob@example.org", "company": "Initech", "tags": "a, b"}]
    ok(invoke("prospects", "import", write(tmp_path, "leads.json", json.dumps(data))))
    p = people(sales)
    assert p["ada@example.com"]["value"] == 5000.0
    assert json.loads(p["ada@example.com"]["tags"]) == ["vip", "q4"]
    assert p["ada@example.com"]["stage"] == "proposal"
    assert json.loads(p["bob@example.org"]["tags"]) == ["a", "b"]
    assert p["bob@example.org"]["company"] == "Initech"



def test_json_tags_that_are_no_list_name_the_field(invoke, sales):
    text = ('{"email": "ada@example.com", "tags": 5}\n'
            '{"email": "bob@example.org", "tags": {"a": 1}}\n')
    lines, _ = rejected(invoke("prospects", "import", "-", input=text))
    assert lines == ["row 1: tags 5 must be a list of tags or a comma list",
                     "row 2: tags {'a': 1} must be a list of tags or a comma list"]


def test_json_name_parts_that_are_no_text_are_rejected_as_the_name(invoke, sales):
    text = '{"email": "ada@example.com", "first_name": "Ada", "last_name": {"x": 1}}\n'
    lines, _ = rejected(invoke("prospects", "import", "-", input=text))
    assert lines == ["row 1: name {'x': 1} must be text"]


def test_json_tags_holding_no_text_name_the_value(invoke, sales):
    text = '{"email": "ada@example.com", "tags": ["vip", ["nested"]]}\n'
    lines, _ = rejected(invoke("prospects", "import", "-", input=text))
    assert lines == ["row 1: tags ['vip', ['nested']] must be a list of tags (text)"]


def test_an_address_with_a_control_character_is_rejected(invoke, sales, tmp_path):
    # a NUL past the first 8 KiB (where a file is judged binary) reaches the address check
    head = b"email,name\na@example.com,"
    text = head + b"N" * (8192 - len(head) - 1) + b"\n" + b"\x00b@example.com,B\n"
    lines, _ = rejected(invoke("prospects", "import", write(tmp_path, "n.csv", text)))
    assert lines == ["row 3: email '\\x00b@example.com' is not a valid email address"]
    for bad in ("c\u0007d@example.com", "e\u007ff@example.com"):
        lines, _ = rejected(invoke("prospects", "import", "-",
                                   input=json.dumps({"email": bad}) + "\n"))
        assert lines == [f"row 1: email {bad!r} is not a valid email address"]
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0

def test_nl_json_from_stdin_reports_bad_lines_by_number(invoke, sales):
    text = ('{"email": "ada@example.com", "name": "Ada"}\n\n'
            '{"email": "bob@example.org", "value": "lots"}\n'
            '{"email": "cy@example.net"\n'
            '["not", "an", "object"]\n')
    lines, last = rejected(invoke("prospects", "import", "-", input=text))
    assert lines == ["row 3: value 'lots' is not a number",
                     "row 4: is not valid JSON: Expecting ',' delimiter",
                     "row 5: is not a JSON object (got list)"]
    assert last.startswith("Error: 3 of 4 rows in stdin rejected; nothing imported")
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0
    out = ok(invoke("prospects", "import", "-", "--format", "json", "--skip-invalid",
                    input=text))
    assert out == "stdin: 4 rows, 1 inserted, 0 updated, 3 rejected\n"
    assert list(people(sales)) == ["ada@example.com"]


def test_csv_from_stdin_with_semicolons_bom_and_name_parts(invoke, sales):
    text = "\ufeffFirst Name;Last Name;EMAIL;Company\nAda;Lovelace;ada@example.com;AE\n"
    ok(invoke("prospects", "import", "-", input=text.encode("utf-8")))
    p = people(sales)["ada@example.com"]
    assert (p["name"], p["company"]) == ("Ada Lovelace", "AE")


def test_formula_guard_from_export_is_stripped(invoke, sales, tmp_path):
    text = "email,name,notes\nada@example.com,'=HYPERLINK(\"x\"),'@home\n"
    ok(invoke("prospects", "import", write(tmp_path, "x.csv", text)))
    p = people(sales)["ada@example.com"]
    assert (p["name"], p["notes"]) == ('=HYPERLINK("x")', "@home")


def test_export_then_import_round_trips(invoke, three, tmp_path):
    exported = ok(invoke("prospects", "export", "--format", "csv"))
    path = write(tmp_path, "export.csv", exported)
    other = tmp_path / "other.db"
    result = invoke("--db", other, "prospects", "import", path)
    ok(result)
    assert "ignored columns set by salescli: id" in result.stderr
    fields = ("email", "name", "company", "owner", "value", "tags", "notes", "stage")
    before = {e: {f: r[f] for f in fields} for e, r in people(three).items()}
    after = {e: {f: r[f] for f in fields} for e, r in people(other).items()}
    assert after == before


# ------------------------------------------------------------------ file-level errors


@pytest.mark.parametrize("name, content, needles", [
    # Latin-1, Windows-1252 and UTF-16 are read: tests/pipeline/test_import_files.py
    ("mixed.csv", "email,name\nzoe@example.com,Zoë\n".encode() + b"a@example.com,it\x92s\n",
     ["mixed.csv", "mixes encodings", "byte 0x92 at offset 48 (line 3)", "Windows-1252"]),
    ("book.xlsx", b"PK\x03\x04rest-of-a-zip", ["book.xlsx", "ZIP", "CSV"]),
    ("sheet.ods", b"email\na@example.com\n", ["sheet.ods", "not CSV, JSON or .xlsx"]),
    ("blob.dat", b"\x00\x01\x02binary", ["blob.dat", "binary"]),
    ("broken.json", '[{"email": "a@example.com"},', ["broken.json", "not valid JSON"]),
    ("scalar.json", '"just a string"', ["scalar.json", "not a JSON array"]),
    ("quotes.csv", 'email,name\na@example.com,"Ada "the" L"\n', ["quotes.csv", "line 2"]),
    ("empty.csv", b"", ["empty.csv", "is empty"]),
    ("blank.csv", "\n  \n", ["blank.csv", "is empty"]),
    ("noemail.csv", "name,company\nAda,AE\n", ["noemail.csv", "no email column", "'name'"]),
    ("twice.csv", "email,E-mail\na@example.com,b@example.com\n", ["E-mail", "maps to email"]),
    ("unknown.csv", "email,favourite colour\na@example.com,blue\n",
     ["favourite colour", "not a prospect field", "--ignore-unknown"]),
])
def test_bad_files_are_refused_whole(invoke, sales, tmp_path, name, content, needles):
    before = db_state(sales)
    fails(invoke("prospects", "import", write(tmp_path, name, content)), *needles)
    assert db_state(sales) == before


def test_missing_file_is_a_clear_error(invoke, sales, tmp_path):
    fails(invoke("prospects", "import", tmp_path / "nope.csv"), "nope.csv", "does not exist")


def test_unknown_columns_can_be_ignored_with_a_note(invoke, sales, tmp_path):
    path = write(tmp_path, "x.csv", "email,favourite colour,updated_at\na@example.com,blue,x\n")
    result = invoke("prospects", "import", path, "--ignore-unknown")
    ok(result)
    assert "note: ignored columns set by salescli: updated_at" in result.stderr
    assert "note: ignored unknown columns: favourite colour" in result.stderr
    assert list(people(sales)) == ["a@example.com"]


def test_header_only_file_imports_nothing(invoke, sales, tmp_path):
    before = db_state(sales)
    out = ok(invoke("prospects", "import", write(tmp_path, "h.csv", "email,name\n")))
    assert out == "h.csv: 0 rows, 0 inserted, 0 updated\n"
    assert db_state(sales) == before
    assert ok(invoke("prospects", "import", write(tmp_path, "e.json", "[]"))).startswith(
        "e.json: 0 rows")


def test_header_mapping_aliases():
    cols, notes = import_map.map_columns(
        ["EMAIL ADDRESS", "full_name", "Organization", "amount", "Labels", "Deal Stage", "id"],
        "f.csv", ignore_unknown=False)
    assert cols == {"email": 0, "name": 1, "company": 2, "value": 3, "tags": 4, "stage": 5}
    assert notes == ["ignored columns set by salescli: id"]
    with pytest.raises(InvalidValue, match="maps to company"):
        import_map.map_columns(["email", "organisation", "company"], "f.csv", False)


# ------------------------------------------------------------------ row-level errors

BAD_ROWS = ("email,name,value,stage,tags\n"
            "ok@example.com,Ok,10,lead,a\n"
            "not-an-email,Bad,10,lead,\n"
            "v@example.com,Val,-5,lead,\n"
            "s@example.com,Stage,1,nirvana,\n"
            "t@example.com,Tags,1,lead," + "x" * 65 + "\n"
            ",No email,1,lead,\n"
            "w@example.com,Wide,1,lead,,surplus\n"
            "two@example.com,Two,abc,nowhere,\n")


def test_every_rejected_row_is_reported_and_nothing_written(invoke, sales, tmp_path):
    before = db_state(sales)
    lines, last = rejected(invoke("prospects", "import", write(tmp_path, "bad.csv", BAD_ROWS)))
    assert lines == [
        "row 3: email 'not-an-email' is not a valid email address",
        "row 4: value '-5' must be a number ≥ 0",
        "row 5: stage 'nirvana' is not a stage (stages: lead, contacted, replied, meeting,"
        " proposal, won, lost)",
        f"row 6: tag '{'x' * 65}' is longer than 64 characters",
        "row 7: email '' is required",
        "row 8: has 6 cells, the header has 5",
        "row 9: stage 'nowhere' is not a stage (stages: lead, contacted, replied, meeting,"
        " proposal, won, lost)",
        "row 9: value 'abc' is not a number",
    ]
    assert last == ("Error: 7 of 8 rows in bad.csv rejected; nothing imported (fix them, or "
                    "use --skip-invalid to import the other 1)")
    assert db_state(sales) == before


def test_skip_invalid_imports_the_good_rows(invoke, sales, tmp_path):
    result = invoke("prospects", "import", write(tmp_path, "bad.csv", BAD_ROWS),
                    "--skip-invalid")
    assert ok(result) == "bad.csv: 8 rows, 1 inserted, 0 updated, 7 rejected\n"
    assert result.stderr.count("\nrow ") + result.stderr.startswith("row ") == 8
    assert list(people(sales)) == ["ok@example.com"]
    assert activities(sales)[0]["after"]["rejected_rows"] == 7


def test_dry_run_writes_nothing_and_reports_counts(invoke, three, tmp_path):
    path = write(tmp_path, "d.csv", "email,company\nnew@example.com,N\n"
                                    "ada@example.com,Changed\nbob@example.org,Initech\n")
    before = db_state(three)
    out = ok(invoke("prospects", "import", path, "--dry-run", "--on-duplicate", "update"))
    assert out == ("dry run, nothing written: d.csv: 3 rows, 1 to insert, 1 to update, "
                   "1 unchanged\n")
    assert db_state(three) == before
    lines, last = rejected(invoke("prospects", "import", path, "--dry-run"))
    assert len(lines) == 2 and "dry run, nothing written" in last
    assert db_state(three) == before


# ------------------------------------------------------------------ duplicates

IN_FILE = ("email,name,company,value\n"
           "ada@example.com,Ada,,100\n"
           "x@example.com,X,,\n"
           " ADA@Example.COM ,,Analytical,200\n")


def test_duplicate_in_file_is_an_error_by_default(invoke, sales, tmp_path):
    lines, _ = rejected(invoke("prospects", "import", write(tmp_path, "d.csv", IN_FILE)))
    assert lines == ["row 4: email 'ada@example.com' is a duplicate of row 2"]
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0


def test_duplicate_in_file_skip_keeps_the_first(invoke, sales, tmp_path):
    out = ok(invoke("prospects", "import", write(tmp_path, "d.csv", IN_FILE),
                    "--on-duplicate", "skip"))
    assert out == "d.csv: 3 rows, 2 inserted, 0 updated, 1 skipped as duplicates\n"
    ada = people(sales)["ada@example.com"]
    assert (ada["name"], ada["company"], ada["value"]) == ("Ada", None, 100.0)


def test_duplicate_in_file_update_merges_non_empty_fields(invoke, sales, tmp_path):
    out = ok(invoke("prospects", "import", write(tmp_path, "d.csv", IN_FILE),
                    "--on-duplicate", "update"))
    assert "2 inserted" in out and "1 merged into an earlier row" in out
    ada = people(sales)["ada@example.com"]
    assert (ada["name"], ada["company"], ada["value"]) == ("Ada", "Analytical", 200.0)



def test_each_duplicate_merged_is_counted(invoke, sales, tmp_path):
    out = ok(invoke("prospects", "import", write(tmp_path, "d.csv", IN_FILE + (
        "ada@example.com,,,300\nbob@example.com,Bob B,,\n")), "--on-duplicate", "update"))
    assert out == "d.csv: 5 rows, 3 inserted, 0 updated, 2 merged into an earlier row\n"
    assert people(sales)["ada@example.com"]["value"] == 300.0


AGAINST_DB = ("email,name,company,stage,tags,value,notes\n"
              "ADA@example.com,,Babbage & Co,proposal,\"new,vip\",,\n"
              "new@example.com,New,,,,,\n")


def test_duplicate_of_database_is_an_error_by_default(invoke, three, tmp_path):
    before = db_state(three)
    lines, _ = rejected(invoke("prospects", "import", write(tmp_path, "d.csv", AGAINST_DB)))
    assert lines == ["row 2: email 'ada@example.com' already exists (prospect #1)"]
    assert db_state(three) == before


def test_duplicate_of_database_skip_leaves_it_alone(invoke, three, tmp_path):
    before = people(three)["ada@example.com"]
    out = ok(invoke("prospects", "import", write(tmp_path, "d.csv", AGAINST_DB),
                    "--on-duplicate", "skip"))
    assert out == "d.csv: 2 rows, 1 inserted, 0 updated, 1 skipped as duplicates\n"
    assert people(three)["ada@example.com"] == before
    assert activities(three)[-1]["after"]["inserted_ids"] == [[4, 4]]


def test_duplicate_of_database_update_changes_only_given_fields(invoke, three, tmp_path):
    before = people(three)["ada@example.com"]
    out = ok(invoke("prospects", "import", write(tmp_path, "d.csv", AGAINST_DB),
                    "--on-duplicate", "update"))
    assert out == "d.csv: 2 rows, 1 inserted, 1 updated\n"
    after = people(three)["ada@example.com"]
    assert (after["company"], after["stage"], json.loads(after["tags"])) == \
        ("Babbage & Co", "proposal", ["new", "vip"])
    # empty cells did not clear anything
    for field in ("name", "owner", "value", "notes", "created_at"):
        assert after[field] == before[field]
    assert after["updated_at"] >= before["updated_at"]
    # the move is in the history, the tag table and the search index follow
    moves = query(three, "SELECT f.name AS f, t.name AS t, note FROM stage_changes c"
                         " JOIN stages f ON f.id = c.from_stage_id"
                         " JOIN stages t ON t.id = c.to_stage_id WHERE prospect_id = 1")
    assert moves == [{"f": "lead", "t": "proposal", "note": "import"}]
    assert search(invoke, "babbage") == ["ada@example.com", "bob@example.org"]
    assert search(invoke, "analytical") == []
    tags = ok(invoke("prospects", "list", "--tag", "new", "--format", "json"))
    assert [p["email"] for p in json.loads(tags)] == ["ada@example.com"]
    act = activities(three)[-1]
    assert act["action"] == "import" and act["after"]["updated_ids"] == [[1, 1]]
    assert "babbage" not in json.dumps(act).lower()
    # the same file again changes nothing and records nothing
    n = len(activities(three))
    out = ok(invoke("prospects", "import", write(tmp_path, "e.csv", AGAINST_DB),
                    "--on-duplicate", "update"))
    assert out == "e.csv: 2 rows, 0 inserted, 0 updated, 2 unchanged\n"
    assert len(activities(three)) == n


def test_the_import_activity_counts_the_unchanged_rows(invoke, three, tmp_path):
    ok(invoke("prospects", "import", write(tmp_path, "d.csv", AGAINST_DB),
              "--on-duplicate", "update"))
    out = ok(invoke("prospects", "import", write(tmp_path, "f.csv", AGAINST_DB
                                                 + "dee@example.com,Dee,,,,,\n"),
                    "--on-duplicate", "update"))
    assert out == "f.csv: 3 rows, 1 inserted, 0 updated, 2 unchanged\n"
    after = activities(three)[-1]["after"]
    assert (after["inserted"], after["updated"], after["unchanged"]) == (1, 0, 2)


# ------------------------------------------------------------------ the bulk path


def schema(db_file) -> list[tuple]:
    return [tuple(r.values()) for r in query(
        db_file, "SELECT type, name, sql FROM sqlite_master ORDER BY type, name")]


def many(n: int, start: int = 0) -> str:
    lines = ["email,name,company,tags,notes"]
    lines += [f"p{i}@example.com,Person {i},Co{i % 7},\"t{i % 3},all\",note {i}"
              for i in range(start, start + n)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("existing", [0, 5])
def test_bulk_path_fills_indexes_in_one_pass_and_restores_the_schema(
        invoke, sales, tmp_path, monkeypatch, existing):
    monkeypatch.setattr(import_write, "_BULK_MIN", 10)
    if existing:
        ok(invoke("prospects", "import", write(tmp_path, "a.csv", many(existing, 1000))))
    before = schema(sales)
    ok(invoke("prospects", "import", write(tmp_path, "b.csv", many(30))))
    assert schema(sales) == before  # triggers and indexes back, byte for byte
    assert scalar(sales, "SELECT count(*) FROM prospect_tags WHERE tag = 'all'") == 30 + existing
    assert scalar(sales, "SELECT count(*) FROM prospect_tags WHERE tag = 't1'") == \
        10 + sum(1 for i in range(1000, 1000 + existing) if i % 3 == 1)
    assert search(invoke, "p17") == ["p17@example.com"]
    assert search(invoke, "note") and len(search(invoke, "note")) == 30 + existing
    conn = sqlite3.connect(sales)  # FTS5's own check against the prospects table
    conn.execute("INSERT INTO prospects_fts(prospects_fts, rank) VALUES ('integrity-check', 1)")
    conn.close()
    # the triggers work again for the next writer
    ok(invoke("prospects", "add", "later@example.com", "--company", "Zebracorp", "--tag", "z"))
    assert search(invoke, "zebracorp") == ["later@example.com"]
    assert scalar(sales, "SELECT count(*) FROM prospect_tags WHERE tag = 'z'") == 1


def test_a_failure_midway_rolls_back_schema_and_rows(invoke, sales, tmp_path, monkeypatch):
    monkeypatch.setattr(import_write, "_BULK_MIN", 10)
    before_schema, before = schema(sales), db_state(sales)

    def broken(*args, **kwargs):  # a fault we cannot cause for real: the audit write fails
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importer.audit, "record", broken)
    with pytest.raises(RuntimeError):
        invoke("prospects", "import", write(tmp_path, "b.csv", many(30)))
    assert schema(sales) == before_schema
    assert db_state(sales) == before


@pytest.mark.parametrize("existing", [0, 5])
def test_batches_written_while_reading_match_a_one_pass_import(
        invoke, sales, tmp_path, small_batches, existing):
    if existing:
        ok(invoke("prospects", "import", write(tmp_path, "a.csv", many(existing, 1000))))
    before, switch = schema(sales), sys.getswitchinterval()
    text = many(30).replace("p0@example.com,", "p0@example.com ,")  # the whole check runs
    out = ok(invoke("prospects", "import", write(tmp_path, "b.csv", text)))
    assert out == "b.csv: 30 rows, 30 inserted, 0 updated\n"
    assert schema(sales) == before and sys.getswitchinterval() == switch
    rows = query(sales, "SELECT id, email FROM prospects WHERE id > ? ORDER BY id", (existing,))
    assert [r["email"] for r in rows] == [f"p{i}@example.com" for i in range(30)]  # file order
    assert [r["id"] for r in rows] == list(range(existing + 1, existing + 31))
    assert scalar(sales, "SELECT count(*) FROM stage_changes") == 30 + existing
    assert scalar(sales, "SELECT count(*) FROM prospect_tags WHERE tag = 'all'") == 30 + existing
    assert_fts_in_sync(sales)
    assert search(invoke, "p29") == ["p29@example.com"]
    assert activities(sales)[-1]["after"]["inserted_ids"] == [[existing + 1, existing + 30]]


@pytest.mark.parametrize("late, needle", [
    ("not-an-email,Late,Co,,", "row 32: email 'not-an-email' is not a valid email address"),
    ("p3@example.com,Again,Co,,", "row 32: email 'p3@example.com' is a duplicate of row 5"),
    ("old@example.com,Old,Co,,", "row 32: email 'old@example.com' already exists"),
])
def test_a_bad_row_after_batches_were_written_leaves_nothing(
        invoke, sales, tmp_path, small_batches, late, needle):
    ok(invoke("prospects", "add", "old@example.com"))
    before_schema, before = schema(sales), db_state(sales)
    lines, last = rejected(invoke("prospects", "import",
                                  write(tmp_path, "b.csv", many(30) + late + "\n")))
    assert lines[0].startswith(needle) and "nothing imported" in last
    assert schema(sales) == before_schema and db_state(sales) == before
    out = ok(invoke("prospects", "import", write(tmp_path, "b.csv", many(30) + late + "\n"),
                    "--skip-invalid"))
    assert out == "b.csv: 31 rows, 30 inserted, 0 updated, 1 rejected\n"
    assert_fts_in_sync(sales)


def test_a_database_error_in_a_batch_rolls_everything_back(sales, tmp_path, small_batches):
    conn = db.open_write(sales)
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON stage_changes WHEN new.prospect_id = 25"
                 " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")  # a real SQLite error
    before_schema, before = schema(sales), db_state(sales)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
            importer.import_file(conn, "lib", write(tmp_path, "b.csv", many(30)))
        assert not conn.in_transaction
        assert conn.execute("SELECT count(*) FROM prospects").fetchone()[0] == 0
    finally:
        conn.close()
    assert schema(sales) == before_schema and db_state(sales) == before


def test_a_connection_bound_to_its_thread_imports_without_a_worker(sales, tmp_path,
                                                                   small_batches):
    conn = sqlite3.connect(sales, isolation_level=None)  # check_same_thread=True
    conn.row_factory = sqlite3.Row
    try:
        result = importer.import_file(conn, "lib", write(tmp_path, "b.csv", many(30)))
    finally:
        conn.close()
    assert result.inserted == 30 and scalar(sales, "SELECT count(*) FROM stage_changes") == 30
    assert_fts_in_sync(sales)


def test_ids_of_deleted_prospects_are_not_reused(invoke, sales, tmp_path):
    ok(invoke("prospects", "import", write(tmp_path, "a.csv", many(3))))
    ok(invoke("prospects", "archive", "3", "--hard", "--yes"))
    ok(invoke("prospects", "import", write(tmp_path, "b.csv", many(1, 10))))
    assert query(sales, "SELECT id, email FROM prospects WHERE id > 2") == \
        [{"id": 4, "email": "p10@example.com"}]  # #3 stays the deleted person's


def test_blank_rows_are_skipped_but_keep_their_row_numbers(invoke, sales, tmp_path):
    text = "email,name\n\na@example.com,A\n,\n , \nnot-an-email,B\n"
    lines, _ = rejected(invoke("prospects", "import", write(tmp_path, "b.csv", text)))
    assert lines == ["row 6: email 'not-an-email' is not a valid email address"]
    out = ok(invoke("prospects", "import", write(tmp_path, "b.csv", text), "--skip-invalid"))
    assert out == "b.csv: 2 rows, 1 inserted, 0 updated, 1 rejected\n"


def test_the_import_audit_lists_updated_ids_as_runs_with_their_gaps(invoke, three):
    ok(invoke("prospects", "add", "dee@example.com"))  # #4; cy (#3) is left out
    f = write(three.parent, "upd.csv", "email,company\nada@example.com,A1\n"
              "dee@example.com,D1\nbob@example.org,B1\n")
    ok(invoke("prospects", "import", f, "--on-duplicate", "update"))
    assert activities(three)[-1]["after"]["updated_ids"] == [[1, 2], [4, 4]]
