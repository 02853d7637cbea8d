"""Task errors word for word (``./dev mutants`` found the looser checks let a wrong field
name or a garbled hint through)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.tasks import store
from tests.support.cli import activities, fails, ok, scalar


def test_a_bad_due_day_lists_the_forms_accepted(invoke, three, db_file):
    line = fails(invoke("tasks", "add", "ada@example.com", "x", "--due", "someday"))
    assert line == ("Error: --due 'someday' is not a day "
                    "(YYYY-MM-DD, today, tomorrow, +3d, +2w)")
    assert scalar(db_file, "SELECT count(*) FROM tasks") == 0


@pytest.mark.parametrize("due", ["+99999999999d", "+3000000w"])
def test_a_due_day_past_the_year_9999_is_an_error_line(invoke, three, db_file, due):
    line = fails(invoke("tasks", "add", "ada@example.com", "x", "--due", due))
    assert line == f"Error: --due '{due}' is too far ahead"
    assert scalar(db_file, "SELECT count(*) FROM tasks") == 0


def test_snoozing_to_today_names_the_until_option(invoke, three, db_file):
    ok(invoke("tasks", "add", "ada@example.com", "call her", "--due", "today"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    line = fails(invoke("tasks", "snooze", tid, "--until", "today"))
    assert line == "Error: --until 'today' must be a day after today"


# ---- found by a fresh sample: ./dev mutants salescli/tasks --tests tests/tasks
#      --sample 40 --seed 2


def test_empty_text_and_a_bad_until_day_are_exact_errors(invoke, three, db_file):
    for empty in ("  ", ""):
        assert fails(invoke("tasks", "add", "ada@example.com", empty)) == \
            "Error: TEXT '' must not be empty"
    assert scalar(db_file, "SELECT count(*) FROM tasks") == 0
    ok(invoke("tasks", "add", "ada@example.com", "call her", "--due", "today"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    assert fails(invoke("tasks", "snooze", tid, "--until", "someday")) == \
        "Error: --until 'someday' is not a day (YYYY-MM-DD, today, tomorrow, +3d, +2w)"
    assert fails(invoke("tasks", "reopen", tid)) == f"Error: task '{tid}' is not done"


def test_task_changes_are_audited_on_the_prospect_with_before_and_after(today, invoke, three,
                                                                        db_file):
    ok(invoke("tasks", "add", "bob@example.org", "send the deck", "--due", "+2d"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    ok(invoke("tasks", "snooze", tid, "--until", "+5d"))
    ok(invoke("tasks", "done", tid, "--note", "sent"))
    create, snooze, done = activities(db_file, entity="task")
    bob = scalar(db_file, "SELECT id FROM prospects WHERE email = 'bob@example.org'")
    assert {create["prospect_id"], snooze["prospect_id"], done["prospect_id"]} == {bob}
    assert create["after"]["due_on"] == (today + timedelta(days=2)).isoformat()
    five = (today + timedelta(days=5)).isoformat()
    assert snooze["after"] == {"due_on": five, "snoozed_until": five}
    assert done["after"]["note"] == "sent" and done["after"]["done_at"]


def test_an_unknown_due_filter_lists_the_known_ones(conn, three):
    with pytest.raises(InvalidValue) as err:
        store.list_tasks(conn, due="someday")
    assert str(err.value) == "--due 'someday' must be one of overdue, today, week"


def test_the_week_filter_shows_the_next_seven_days_only(invoke, three, db_file):
    for due in ("+7d", "+8d", "today"):
        ok(invoke("tasks", "add", "ada@example.com", f"due {due}", "--due", due))
    week = json.loads(ok(invoke("tasks", "list", "--due", "week", "--format", "json")))
    assert sorted(t["text"] for t in week) == ["due +7d", "due today"]


def test_overdue_is_judged_against_the_day_given(today, conn, three):
    store.add(conn, "tester", "ada@example.com", "call", due="+1d")
    later = today + timedelta(days=3)
    assert [t["text"] for t in store.list_tasks(conn, due="overdue", today=later)] == ["call"]
    assert store.list_tasks(conn, due="overdue") == []


def test_snoozing_a_done_task_says_to_reopen_it(invoke, three, db_file):
    ok(invoke("tasks", "add", "ada@example.com", "call her"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    ok(invoke("tasks", "done", tid))
    assert fails(invoke("tasks", "snooze", tid, "--until", "+2d")) == \
        f"Error: task '{tid}' is done; reopen it to snooze it"
