"""Bad input never costs the machine: the import streams, and size and nesting limits end it
with one ``Error:`` line naming the row and field, exit 1 and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.cli import db_state, fails, ok, query, scalar
from tests.support.cli import write_file as write


@pytest.mark.parametrize("fmt", [[], ["--format", "json"], ["--format", "csv"]])
def test_dev_zero_fails_on_the_first_read(invoke, sales, fmt):
    before = db_state(sales)
    fails(invoke("prospects", "import", "/dev/zero", *fmt), "/dev/zero", "binary")
    assert db_state(sales) == before


def test_endless_input_without_a_newline_fails_within_bounded_memory(sales, tmp_path):
    """An endless stream of text with no line end (a real pipe from a real process) ends
    with one error line, long before memory grows: the process is capped at 400 MB."""
    code = ("import resource, subprocess, sys;"
            "resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20));"
            "from salescli.cli import main; sys.argv = ['salescli', 'prospects', 'import',"
            " '-', '--format', 'csv']; main()")
    feeder = subprocess.Popen([sys.executable, "-c",
                               "import sys\nsys.stdout.write('email\\n')\n"
                               "while True: sys.stdout.write('a' * 65536)"],
                              stdout=subprocess.PIPE)
    try:
        run = subprocess.run([sys.executable, "-c", code], stdin=feeder.stdout,
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "SALESCLI_DB": str(sales)})
    finally:
        feeder.kill()
        feeder.wait()
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines() == [
        "Error: row 2 in stdin has a line longer than 1048576 characters"
        " (SALESCLI_IMPORT_MAX_FIELD × 16)"]
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0


NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("name, text, where", [
    ("deep.json", "[" + NESTED + "]", "row 1 in"),
    ("deep.json", '[{"email": "a@example.com"}, {"email": "b@example.com", "tags": '
     + NESTED + "}]", "row 2, field 'tags', in"),
    ("deep.jsonl", '{"email": "a@example.com"}\n{"email": "b@example.com", "tags": '
     + "[" * 17 + "]" * 17 + "}\n", "row 2, field 'tags', in"),
    ("bare.json", "[" * 1_000_000, "row 1 in"),
])
def test_deep_nesting_is_one_error_and_nothing_written(invoke, sales, tmp_path, name, text,
                                                       where):
    before = db_state(sales)
    fails(invoke("prospects", "import", write(tmp_path, name, text), "--skip-invalid"),
          where, "nests arrays or objects more than 16 deep")
    assert db_state(sales) == before


def test_sixteen_levels_are_still_read(invoke, sales, tmp_path):
    text = '[{"email": "a@example.com", "tags": ' + "[" * 15 + "]" * 15 + "}]"
    lines = invoke("prospects", "import", write(tmp_path, "ok.json", text)).stderr
    assert "row 1: tags" in lines and "nests" not in lines  # a row error, not the limit


@pytest.mark.parametrize("name, text", [
    ("big.json", '[{"email": "a@example.com", "value": ' + "7" * 100_000 + "}]"),
    ("big.jsonl", '{"email": "a@example.com", "value": ' + "7" * 100_000 + "}\n"),
    ("bigf.json", '[{"email": "a@example.com", "value": 1.' + "7" * 100_000 + "}]"),
])
def test_a_100000_digit_number_is_a_rejected_row(invoke, sales, tmp_path, name, text):
    before = db_state(sales)
    result = invoke("prospects", "import", write(tmp_path, name, text))
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "row 1: value 777777777777… (100000 characters) has too many digits" \
        or lines[0] == "row 1: value 1.7777777777… (100002 characters) has too many digits"
    assert lines[1].startswith("Error: 1 of 1 rows") and len(lines) == 2
    assert db_state(sales) == before


def test_a_100000_digit_cell_in_csv_is_over_the_cell_limit(invoke, sales, tmp_path):
    path = write(tmp_path, "big.csv", "email,value\na@example.com," + "7" * 100_000 + "\n")
    fails(invoke("prospects", "import", path), "row 2, field 'value',",
          "longer than 65536 characters (SALESCLI_IMPORT_MAX_FIELD)")


X41, X40 = "x" * 41, "x" * 40


@pytest.mark.parametrize("name, text, needle", [
    ("c.csv", "email,name,notes\na@example.com,A,short\nb@example.com,B,{x}\n",
     "row 3, field 'notes', in"),
    ("c.csv", 'email,notes\na@example.com,"short"\nb@example.com,"multi\n{x}"\n',
     "row 3, field 'notes', in"),
    ("j.json", '[{{"email": "a@example.com"}}, {{"email": "b@example.com", "notes": "{x}"}}]',
     "row 2, field 'notes', in"),
    ("j.jsonl", '{{"email": "a@example.com"}}\n\n{{"email": "b@example.com", "name": "{x}"}}\n',
     "row 3, field 'name', in"),
])
def test_a_cell_over_the_limit_names_row_and_field(invoke, sales, tmp_path, name, text,
                                                    needle):
    before = db_state(sales)
    fails(invoke("prospects", "import", write(tmp_path, name, text.format(x=X41)),
                 "--skip-invalid", env={"SALESCLI_IMPORT_MAX_FIELD": "40"}),
          needle, "longer than 40 characters")
    assert db_state(sales) == before
    # 40 is the limit, not 39
    if "multi" not in text:
        ok(invoke("prospects", "import", write(tmp_path, name, text.format(x=X40)),
                  env={"SALESCLI_IMPORT_MAX_FIELD": "40"}))


def test_a_json_record_longer_than_the_record_limit(invoke, sales, tmp_path):
    cells = ", ".join(f'"k{i}": "{"x" * 30}"' for i in range(30))  # 30 short cells, 1.2 kB
    path = write(tmp_path, "r.json", '[{"email": "a@example.com", ' + cells + "}]")
    fails(invoke("prospects", "import", path, "--ignore-unknown",
                 env={"SALESCLI_IMPORT_MAX_FIELD": "40"}), "row 1 in", "is longer than")


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_a_bad_limit_setting_is_an_error(invoke, sales, tmp_path, value):
    path = write(tmp_path, "a.csv", "email\na@example.com\n")
    fails(invoke("prospects", "import", path, env={"SALESCLI_IMPORT_MAX_FIELD": value}),
          "SALESCLI_IMPORT_MAX_FIELD", repr(value))


def test_rejections_are_counted_all_but_reported_up_to_a_thousand(invoke, sales, tmp_path):
    text = "email\n" + "".join(f"bad{i}\n" for i in range(1500))
    result = invoke("prospects", "import", write(tmp_path, "b.csv", text))
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1
    assert len([ln for ln in lines if ln.startswith("row ")]) == 1000
    assert lines[0] == "row 2: email 'bad0' is not a valid email address"
    assert lines[-2] == "… and 500 more rejected rows"
    assert lines[-1].startswith("Error: 1500 of 1500 rows in b.csv rejected")


def test_big_files_stream_through_every_batch(invoke, sales, tmp_path, monkeypatch):
    """Many more rows than one read of the file and than one batch (both made small here),
    in each format: every row arrives, once, in order, duplicates found across batches."""
    from salescli.pipeline import import_read

    monkeypatch.setattr(import_read, "_CHUNK", 4096)
    monkeypatch.setattr(import_read, "_FIRST", 100)
    monkeypatch.setattr(import_read, "_BATCH", 700)
    n = 3000
    people = [{"email": f"p{i}@example.com", "name": f"P {i}", "notes": "n" * 20}
              for i in range(n)]
    csv_text = "email,name,notes\n" + "".join(f"{p['email']},{p['name']},{p['notes']}\n"
                                              for p in people)
    files = {"a.csv": csv_text, "a.json": json.dumps(people),
             "a.jsonl": "".join(json.dumps(p) + "\n" for p in people)}
    for name, text in files.items():
        assert len(text) > 30 * 4096
        db = tmp_path / f"{name}.db"
        out = ok(invoke("--db", db, "prospects", "import", write(tmp_path, name, text)))
        assert out == f"{name}: {n} rows, {n} inserted, 0 updated\n"
        rows = query(db, "SELECT id, email FROM prospects ORDER BY id")
        assert [r["email"] for r in rows] == [p["email"] for p in people]
        # the first row again at the very end: a duplicate of row 1, 2,999 rows earlier
        again = {"a.csv": csv_text + "P0@example.com,,\n",
                 "a.json": json.dumps(people + [{"email": "P0@example.com"}]),
                 "a.jsonl": files["a.jsonl"] + '{"email": "P0@example.com"}\n'}[name]
        first, last = (2, n + 2) if name == "a.csv" else (1, n + 1)
        result = invoke("--db", tmp_path / f"{name}.2.db", "prospects", "import",
                        write(tmp_path, "again-" + name, again))
        assert result.exit_code == 1
        assert result.stderr.splitlines()[0] == \
            f"row {last}: email 'p0@example.com' is a duplicate of row {first}"


def test_ever_new_json_keys_cost_nothing_per_row(invoke, sales, tmp_path):
    """100,000 distinct ignored keys over 2,000 rows: read as fast as a plain file (each
    row's cells are those of mapped keys only), and the note lists the first 20."""
    rows = [{"email": f"p{i}@example.com", **{f"k{i}_{j}": j for j in range(50)}}
            for i in range(2000)]
    path = write(tmp_path, "keys.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("prospects", "import", path, "--ignore-unknown")
    assert ok(result) == "keys.jsonl: 2000 rows, 2000 inserted, 0 updated\n"
    note = result.stderr.strip()
    assert note.startswith("note: ignored unknown columns: k0_0, k0_1,")
    assert note.endswith(" and 99980 more") and len(note) < 400


@pytest.mark.parametrize("mode, summary", [
    ("error", None),
    ("skip", "t.csv: 1201 rows, 1200 inserted, 0 updated, 1 skipped as duplicates\n"),
    ("update", "t.csv: 1201 rows, 1200 inserted, 0 updated, 1 merged into an earlier row\n"),
])
def test_a_filter_that_always_says_maybe_changes_nothing(invoke, sales, tmp_path, monkeypatch,
                                                         mode, summary):
    """With a 64-bit filter nearly every email is a false "maybe": each is looked up in
    the staged rows and only the true duplicate is one."""
    from salescli.pipeline import import_read, importer

    monkeypatch.setattr(importer, "_BLOOM_BITS", 64)
    monkeypatch.setattr(import_read, "_FIRST", 100)
    monkeypatch.setattr(import_read, "_BATCH", 300)
    text = "email,company\n" + "".join(f"p{i}@example.com,\n" for i in range(1200)) \
        + "p7@example.com,Late Co\n"
    result = invoke("prospects", "import", write(tmp_path, "t.csv", text),
                    "--on-duplicate", mode)
    if summary is None:
        assert result.exit_code == 1
        assert result.stderr.splitlines()[0] == \
            "row 1202: email 'p7@example.com' is a duplicate of row 9"
        assert scalar(sales, "SELECT count(*) FROM prospects") == 0
        return
    assert ok(result) == summary
    rows = query(sales, "SELECT email, company FROM prospects ORDER BY id")
    assert [r["email"] for r in rows] == [f"p{i}@example.com" for i in range(1200)]
    assert rows[7]["company"] == ("Late Co" if mode == "update" else None)
