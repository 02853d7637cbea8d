"""Task errors word for word (``./dev mutants`` found the looser checks let a wrong field
name or a garbled hint through)."""

from __future__ import annotations

from tests.support.cli import fails, ok, scalar


def test_a_bad_due_day_lists_the_forms_accepted(invoke, three, db_file):
    line = fails(invoke("tasks", "add", "ada@example.com", "x", "--due", "someday"))
    assert line == ("Error: --due 'someday' is not a day "
                    "(YYYY-MM-DD, today, tomorrow, +3d, +2w)")
    assert scalar(db_file, "SELECT count(*) FROM tasks") == 0


def test_snoozing_to_today_names_the_until_option(invoke, three, db_file):
    ok(invoke("tasks", "add", "ada@example.com", "call her", "--due", "today"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    line = fails(invoke("tasks", "snooze", tid, "--until", "today"))
    assert line == "Error: --until 'today' must be a day after today"
