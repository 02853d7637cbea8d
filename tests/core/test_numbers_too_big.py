"""An id or a count no SQLite integer can hold (20 digits), or digits that are not ASCII
('²'), is an ``Error:`` line like any other unknown key or bad option — they used to end in
an OverflowError or ValueError traceback."""

from __future__ import annotations

import pytest

from tests.support.cli import fails, ok

HUGE = "99999999999999999999"  # > 2**63 - 1


@pytest.fixture
def ada(invoke, conn):
    ok(invoke("prospects", "add", "ada@example.com"))


@pytest.mark.parametrize("args, line", [
    (("prospects", "show", HUGE), f"prospect '{HUGE}' not found"),
    (("prospects", "show", "²"), "prospect '²' not found"),
    (("prospects", "move", HUGE, "won", "--reason", "x"), f"prospect '{HUGE}' not found"),
    (("activity", "--prospect", HUGE), f"prospect '{HUGE}' not found"),
    (("forecast", "--explain", HUGE), f"prospect '{HUGE}' not found"),
    (("tasks", "done", HUGE), f"task '{HUGE}' not found"),
    (("tasks", "done", "x1"), "task 'x1' is not a task id"),
], ids=["show", "show-superscript", "move", "activity", "explain", "task", "task-letters"])
def test_a_key_no_row_can_have_is_not_found(invoke, ada, args, line):
    assert fails(invoke(*args)) == f"Error: {line}"


@pytest.mark.parametrize("args, low", [
    (("prospects", "list", "--limit", HUGE), 0), (("prospects", "list", "--offset", HUGE), 0),
    (("jobs", "history", "--limit", HUGE), 1), (("activity", "--limit", HUGE), 1),
], ids=["limit", "offset", "jobs-limit", "activity-limit"])
def test_a_count_beyond_sqlite_is_a_usage_error(invoke, ada, args, low):
    assert fails(invoke(*args), code=2) == (
        f"Error: Invalid value for '{args[-2]}': {HUGE} is not in the range"
        f" {low}<=x<=9223372036854775807.")


def test_the_largest_count_sqlite_holds_is_accepted(invoke, ada):
    assert "ada@example.com" in ok(invoke("prospects", "list", "--limit",
                                          "9223372036854775807"))


@pytest.mark.parametrize("command", ["metrics", "notify"])
def test_stale_days_are_at_most_ten_years(invoke, ada, command):
    assert fails(invoke(command, "--stale-days", HUGE), code=2) == (
        f"Error: Invalid value for '--stale-days': {HUGE} is not in the range 1<=x<=3650.")


def test_a_retention_of_any_length_is_at_most_a_century(invoke, ada, monkeypatch):
    from salescli.ops.maintenance import retention_days

    assert "notifications" in ok(invoke("db", "cleanup", "--older-than", HUGE, "--dry-run"))
    assert retention_days(int(HUGE)) == retention_days(36501) == 36500
    assert retention_days(36499) == 36499
    for setting in ("36501", HUGE):
        monkeypatch.setenv("SALESCLI_RETENTION_DAYS", setting)
        ok(invoke("db", "cleanup", "--dry-run"))
        assert retention_days() == 36500
    monkeypatch.setenv("SALESCLI_RETENTION_DAYS", "٣")
    assert fails(invoke("db", "cleanup", "--dry-run")) == (
        "Error: SALESCLI_RETENTION_DAYS '٣' must be a whole number of days")


def test_the_largest_id_sqlite_holds_is_found(invoke, conn, db_file):
    conn.execute("INSERT INTO prospects(id, email, stage_id, created_at, updated_at,"
                 " stage_entered_at) VALUES (9223372036854775807, 'max@example.com', 1,"
                 " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
    conn.commit()
    assert "max@example.com" in ok(invoke("prospects", "show", "9223372036854775807"))
