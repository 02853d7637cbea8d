"""Task behaviour a fresh mutation sample found unchecked (``./dev mutants salescli/tasks
--sample 40 --seed 31``): exact errors for a bad task id and a bad kind, the library's
defaults (open tasks only; the injected day for relative due days)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.tasks import store
from tests.support.cli import activities, fails, ok, scalar


def test_a_task_id_that_is_no_number_is_one_exact_error(invoke, three, db_file):
    assert fails(invoke("tasks", "done", "abc")) == "Error: task 'abc' is not a task id"
    assert fails(invoke("tasks", "reopen", " x1 ")) == "Error: task ' x1 ' is not a task id"


def test_a_kind_that_is_no_task_kind_is_refused_and_nothing_written(conn, three, db_file):
    with pytest.raises(InvalidValue) as err:
        store.add(conn, "tester", "ada@example.com", "lunch", kind="lunch")
    assert str(err.value) == "--kind 'lunch' must be one of call, email, meeting, todo"
    assert scalar(db_file, "SELECT count(*) FROM tasks") == 0
    assert activities(db_file, entity="task") == []


def test_listing_without_options_shows_open_tasks_only(conn, three):
    store.add(conn, "tester", "ada@example.com", "open one")
    done = store.add(conn, "tester", "bob@example.org", "done one")
    store.done(conn, "tester", done["id"])
    assert [t["text"] for t in store.list_tasks(conn)] == ["open one"]
    assert [t["text"] for t in store.list_tasks(conn, include_done=True)] == [
        "open one", "done one"]


def test_a_relative_due_day_counts_from_the_injected_day(conn, three):
    day = date(2030, 1, 30)
    t = store.add(conn, "tester", "ada@example.com", "call", due="+3d", today=day)
    assert t["due_on"] == "2030-02-02"
    assert store.snooze(conn, "tester", t["id"], "+1w", today=day)["due_on"] == "2030-02-06"


def test_the_state_of_a_listed_task_is_judged_on_the_day_given(conn, three):
    store.add(conn, "tester", "ada@example.com", "call", due="+1d")
    later = date.today() + timedelta(days=3)
    [task] = store.list_tasks(conn, today=later)
    assert task["state"] == "overdue"
    assert store.list_tasks(conn)[0]["state"] == "open"


# ---- found by a fresh sample: --sample 40 --seed 41 (same --tests)


def test_the_create_row_names_the_task_and_all_it_was_made_with(invoke, three, db_file):
    ok(invoke("tasks", "add", "ada@example.com", "call her", "--kind", "call"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    [row] = activities(db_file, entity="task", action="create")
    assert row["entity_id"] == tid
    assert row["after"] == {"kind": "call", "text": "call her", "owner": "maria",
                            "source": "manual"}


def test_done_twice_is_one_exact_error(invoke, three, db_file):
    ok(invoke("tasks", "add", "ada@example.com", "call her"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    ok(invoke("tasks", "done", tid))
    assert fails(invoke("tasks", "done", tid)) == \
        f"Error: task '{tid}' is already done (reopen it first)"


def test_snooze_judges_after_today_on_the_day_given(conn, three):
    t = store.add(conn, "tester", "ada@example.com", "call")
    with pytest.raises(InvalidValue, match="must be a day after today"):
        store.snooze(conn, "tester", t["id"], "2030-01-05", today=date(2030, 1, 10))


def test_a_snooze_activity_says_what_the_due_day_was(conn, three, db_file):
    t = store.add(conn, "tester", "ada@example.com", "call", due="2030-01-12",
                  today=date(2030, 1, 10))
    store.snooze(conn, "tester", t["id"], "2030-01-20", today=date(2030, 1, 10))
    [row] = activities(db_file, entity="task", action="snooze")
    assert (row["entity_id"], row["before"], row["after"]) == (
        t["id"], {"due_on": "2030-01-12", "snoozed_until": None},
        {"due_on": "2030-01-20", "snoozed_until": "2030-01-20"})
