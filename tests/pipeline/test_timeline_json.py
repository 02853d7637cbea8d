"""The timeline in ``prospects show --format json`` (pinned by mutants that survived)."""

from __future__ import annotations

import json

from tests.support.cli import ok, scalar


def test_a_logged_call_shows_who_logged_it_and_its_thread(invoke, three):
    ok(invoke("log", "cy@example.net", "--kind", "call", "--subject", "first call"))
    shown = json.loads(ok(invoke("prospects", "show", "cy@example.net", "--format", "json")))
    (call,) = [e for e in shown["timeline"] if e["type"] == "interaction"]
    assert call["actor"] == "tester" and call["subject"] == "first call"
    assert "thread_key" in call and call["thread_key"] is None


def test_a_done_task_shows_when_it_was_done(invoke, three, db_file):
    ok(invoke("tasks", "add", "cy@example.net", "send the deck"))
    tid = scalar(db_file, "SELECT id FROM tasks")
    ok(invoke("tasks", "done", tid))
    shown = json.loads(ok(invoke("prospects", "show", "cy@example.net", "--format", "json")))
    (task,) = [e for e in shown["timeline"] if e["type"] == "task"]
    assert task["done_at"] == scalar(db_file, "SELECT done_at FROM tasks")
    assert task["done_at"].endswith("Z")
