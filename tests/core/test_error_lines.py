"""Core settings and output files a user gets wrong: one whole ``Error:`` line naming the
option or variable and the value, exit 1, and no file or row written."""

from __future__ import annotations

import csv

import pytest

from tests.support.cli import fails, ok, query

CODE = "is not a currency code (three letters, e.g. USD, EUR)"


@pytest.mark.parametrize("args, env, line", [
    (("prospects", "add", "a@b.example", "--currency", "EURO"), {}, f"currency 'EURO' {CODE}"),
    (("prospects", "add", "a@b.example", "--currency", "E1R"), {}, f"currency 'E1R' {CODE}"),
    (("prospects", "add", "a@b.example", "--value", "10"), {"SALESCLI_CURRENCY": "eu"},
     f"SALESCLI_CURRENCY 'eu' {CODE}"),
    (("metrics",), {"SALESCLI_CURRENCY": "dollars"}, f"SALESCLI_CURRENCY 'dollars' {CODE}"),
], ids=["four-letters", "digit", "setting-on-add", "setting-on-metrics"])
def test_a_bad_currency_is_one_error_line(invoke, conn, db_file, monkeypatch, args, env, line):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert fails(invoke(*args)) == f"Error: {line}"
    assert query(db_file, "SELECT count(*) AS n FROM prospects") == [{"n": 0}]


def test_a_currency_code_is_upper_cased(invoke, conn, db_file):
    ok(invoke("prospects", "add", "a@b.example", "--value", "10", "--currency", " chf "))
    assert query(db_file, "SELECT currency FROM prospects") == [{"currency": "CHF"}]


@pytest.mark.parametrize("command", [("export", "prospects"), ("prospects", "export")])
def test_an_output_in_a_missing_directory_is_named(invoke, conn, tmp_path, command):
    target = tmp_path / "nowhere" / "out.csv"
    assert fails(invoke(*command, "--output", target)) == (
        f"Error: --output '{target}' cannot be written: its directory"
        f" '{target.parent}' does not exist")
    assert not target.parent.exists()


def test_an_output_that_is_a_directory_is_named(invoke, conn, tmp_path):
    assert fails(invoke("export", "prospects", "--output", tmp_path)) == (
        f"Error: --output '{tmp_path}' is a directory")


def test_an_unknown_table_lists_what_can_be_exported(invoke, conn):
    line = fails(invoke("export", "nosuch"))
    head, _, names = line.partition("; choose one of: ")
    assert head == ("Error: TABLE_OR_VIEW 'nosuch' is not a table or view of the sales"
                    " database")
    assert {"prospects", "stage_changes", "funnel", "win_rate"} <= set(names.split(", "))
    assert not any(n.startswith("sqlite_") for n in names.split(", "))


def test_an_export_to_a_file_keeps_formula_cells_only_when_raw(invoke, conn, tmp_path):
    ok(invoke("prospects", "add", "eve@example.com", "--name", "=HYPERLINK(\"x\")"))
    for extra, name in (((), "'=HYPERLINK(\"x\")"), (("--raw",), "=HYPERLINK(\"x\")")):
        target = tmp_path / "out.csv"
        ok(invoke("prospects", "export", "--output", target, *extra))
        assert oct(target.stat().st_mode & 0o777) == "0o600"
        [row] = list(csv.DictReader(target.open(encoding="utf-8")))
        assert row["name"] == name


def test_an_import_names_each_rejected_value_and_why(invoke, conn, db_file, tmp_path):
    """The reason an InvalidValue carries reaches the user's rejection lines."""
    path = tmp_path / "bad.csv"
    path.write_text("email,value\nnope,10\nb@c.example,ten\n")
    result = invoke("prospects", "import", path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "row 2: email 'nope' is not a valid email address",
        "row 3: value 'ten' is not a number",
        "Error: 2 of 2 rows in bad.csv rejected; nothing imported (fix them, or use"
        " --skip-invalid to import the other 0)"]
    assert query(db_file, "SELECT count(*) AS n FROM prospects") == [{"n": 0}]
