"""Tasks through the CLI: add, list (overdue first), done, snooze, reopen; audit, timeline,
forget and merge."""

from __future__ import annotations

import json
from datetime import date, timedelta

from salescli.tasks import store
from tests.support.cli import activities, fails, ok, query, scalar


def _ids(out: str) -> list[int]:
    return [t["id"] for t in json.loads(out)]


def test_add_defaults_owner_to_the_prospects_and_lists_overdue_first(today, invoke, three,
                                                                    db_file):
    ok(invoke("tasks", "add", "ada@example.com", "later", "--due", "+3d"))
    ok(invoke("tasks", "add", "bob@example.org", "no day"))
    ok(invoke("tasks", "add", "ada@example.com", "late", "--due",
              (today - timedelta(days=2)).isoformat(), "--kind", "call"))
    ok(invoke("tasks", "add", "1", "today", "--due", "today", "--owner", "dev"))
    rows = json.loads(ok(invoke("tasks", "list", "--format", "json")))
    assert [r["text"] for r in rows] == ["late", "today", "later", "no day"]
    assert [r["state"] for r in rows] == ["overdue", "due today", "open", "open"]
    assert rows[0]["owner"] == "maria" and rows[0]["kind"] == "call"
    assert rows[1]["owner"] == "dev"
    assert rows[2]["due_on"] == (today + timedelta(days=3)).isoformat()
    assert [r["text"] for r in json.loads(ok(invoke("tasks", "list", "--due", "overdue",
                                                    "--format", "json")))] == ["late"]
    assert [r["text"] for r in json.loads(ok(invoke("tasks", "list", "--due", "today",
                                                    "--format", "json")))] == ["late", "today"]
    assert [r["text"] for r in json.loads(ok(invoke(
        "tasks", "list", "--owner", "maria", "--format", "json")))] == ["late", "later"]
    assert [r["text"] for r in json.loads(ok(invoke(
        "tasks", "list", "--prospect", "bob@example.org", "--format", "json")))] == ["no day"]
    created = activities(db_file, entity="task", action="create")
    assert len(created) == 4 and created[0]["after"]["text"] == "later"


def test_done_snooze_reopen_are_audited_and_checked(today, invoke, three, db_file):
    ok(invoke("tasks", "add", "ada@example.com", "call her", "--due", "today"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    ok(invoke("tasks", "done", tid, "--note", "left a message"))
    assert json.loads(ok(invoke("tasks", "list", "--format", "json"))) == []
    fails(invoke("tasks", "done", tid), "already done")
    done = json.loads(ok(invoke("tasks", "list", "--all", "--format", "json")))
    assert done[0]["state"] == "done" and done[0]["note"] == "left a message"
    fails(invoke("tasks", "snooze", tid, "--until", "+2d"), "done")
    ok(invoke("tasks", "reopen", tid))
    fails(invoke("tasks", "reopen", tid), "is not done")
    fails(invoke("tasks", "snooze", tid, "--until", "today"), "--until", "after today")
    ok(invoke("tasks", "snooze", tid, "--until", "+2d"))
    row = query(db_file, "SELECT due_on, done_at FROM tasks")[0]
    assert row == {"due_on": (today + timedelta(days=2)).isoformat(), "done_at": None}
    actions = [a["action"] for a in activities(db_file, entity="task")]
    assert actions == ["create", "done", "reopen", "snooze"]


def test_bad_input_is_one_error_line_and_writes_nothing(invoke, three, db_file):
    fails(invoke("tasks", "add", "nobody@example.com", "x"), "nobody@example.com", "not found")
    fails(invoke("tasks", "add", "ada@example.com", "x", "--due", "someday"),
          "--due", "someday")
    fails(invoke("tasks", "add", "ada@example.com", "  "), "TEXT")
    fails(invoke("tasks", "done", "99"), "task", "99")
    fails(invoke("tasks", "done", "abc"), "abc")
    assert scalar(db_file, "SELECT count(*) FROM tasks") == 0
    assert activities(db_file, entity="task") == []


def test_tasks_show_in_the_prospect_timeline(invoke, three):
    ok(invoke("tasks", "add", "ada@example.com", "send the deck", "--kind", "email",
              "--due", "tomorrow"))
    shown = json.loads(ok(invoke("prospects", "show", "ada@example.com", "--format", "json")))
    tasks = [e for e in shown["timeline"] if e["type"] == "task"]
    assert len(tasks) == 1 and tasks[0]["text"] == "send the deck"
    assert tasks[0]["kind"] == "email" and tasks[0]["owner"] == "maria"
    # the create activity is not shown a second time
    assert not [e for e in shown["timeline"] if e.get("entity") == "task"]
    assert "task (email): send the deck" in ok(invoke("prospects", "show", "ada@example.com"))


def test_forget_removes_tasks_and_merge_moves_them(invoke, three, db_file):
    ok(invoke("tasks", "add", "bob@example.org", "bob's task"))
    ok(invoke("tasks", "add", "cy@example.net", "cy's task"))
    ok(invoke("prospects", "merge", "ada@example.com", "cy@example.net"))
    rows = query(db_file, "SELECT t.text, p.email FROM tasks t JOIN prospects p"
                 " ON p.id = t.prospect_id ORDER BY t.id")
    assert rows == [{"text": "bob's task", "email": "bob@example.org"},
                    {"text": "cy's task", "email": "ada@example.com"}]
    ok(invoke("prospects", "forget", "bob@example.org", input="y\n"))
    assert [r["text"] for r in query(db_file, "SELECT text FROM tasks")] == ["cy's task"]


def test_parse_due_forms():
    day = date(2026, 3, 30)
    assert store.parse_due("today", today=day) == "2026-03-30"
    assert store.parse_due("tomorrow", today=day) == "2026-03-31"
    assert store.parse_due("+3d", today=day) == "2026-04-02"
    assert store.parse_due("+2w", today=day) == "2026-04-13"
    assert store.parse_due("2026-05-01", today=day) == "2026-05-01"
    assert store.parse_due("", today=day) is None
