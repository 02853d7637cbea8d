"""Commands given too little, or a setting every dated command reads set wrong: one whole
``Error:`` line saying what to give (exit 2 for usage, 1 for a setting), nothing done."""

from __future__ import annotations

import pytest

from tests.support.cli import fails, ok, query

ZONE = "is not a known time zone (e.g. UTC, Europe/Berlin)"


@pytest.fixture
def team(invoke, conn):
    ok(invoke("users", "add", "maria", "--role", "manager", "--no-password"))
    ok(invoke("prospects", "add", "ada@example.com", "--value", "100"))


@pytest.mark.parametrize("args, code, line", [
    (("users", "update", "maria"), 2, "give --full-name or --email (or both)"),
    (("prospects", "import", "{tmp}/x.csv", "--date-format", "dd/mm/yyyy"), 2,
     "Invalid value for --date-format: needs at least one % code, e.g. %d/%m/%Y"),
    (("forecast", "backtest"), 1, "--as-of '' is required unless --rolling"),
    (("metrics", "--stale-days", "0"), 2,
     "Invalid value for '--stale-days': 0 is not in the range 1<=x<=3650."),
], ids=["users-update-nothing", "date-format-without-code", "backtest-without-date",
        "stale-days-zero"])
def test_a_command_given_too_little_says_what_to_give(invoke, db_file, tmp_path, team, args,
                                                      code, line):
    (tmp_path / "x.csv").write_text("email\nz@y.example\n")
    result = invoke(*(a.format(tmp=tmp_path) for a in args))
    assert fails(result, code=code) == f"Error: {line}"
    assert [r["email"] for r in query(db_file, "SELECT email FROM prospects")] == [
        "ada@example.com"]


@pytest.mark.parametrize("command, value", [
    (("metrics",), "Mars/Base"), (("forecast",), "America"), (("tasks", "list"), "Nowhere"),
    (("metrics",), "../../etc/passwd"),
])
def test_a_bad_reporting_zone_is_named_by_every_dated_command(invoke, team, monkeypatch,
                                                              command, value):
    monkeypatch.setenv("SALESCLI_TZ", value)
    assert fails(invoke(*command)) == f"Error: SALESCLI_TZ '{value}' {ZONE}"


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_reporting_zone_is_utc(invoke, team, monkeypatch, value):
    from salescli.core.timeutil import zone

    monkeypatch.setenv("SALESCLI_TZ", value)
    ok(invoke("metrics"))
    assert zone().key == "UTC"
    assert zone(" Europe/Berlin ").key == "Europe/Berlin"
