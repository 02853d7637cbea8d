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


def test_a_scanned_mail_shows_its_message_id_and_thread(invoke, three, conn):
    from salescli.pipeline import interactions

    pid = conn.execute("SELECT id FROM prospects WHERE email = 'cy@example.net'").fetchone()[0]
    interactions.record(conn, "scan", pid, "email_in", "2025-03-01T10:00:00Z",
                        subject="Re: hello", message_id="<m1@example.net>",
                        thread_key="<t0@example.org>")
    shown = json.loads(ok(invoke("prospects", "show", str(pid), "--format", "json")))
    (mail,) = [e for e in shown["timeline"] if e["type"] == "interaction"]
    assert (mail["message_id"], mail["thread_key"]) == ("<m1@example.net>", "<t0@example.org>")


def test_mail_recorded_in_a_batch_shows_its_message_id_and_thread(invoke, three, conn):
    """record_many (the scanner's batch) keeps every field ``record`` keeps."""
    from salescli.pipeline import interactions

    pid = conn.execute("SELECT id FROM prospects WHERE email = 'cy@example.net'").fetchone()[0]
    interactions.record_many(conn, "scan", [dict(
        prospect_id=pid, kind="email_in", occurred_at="2025-03-01T10:00:00Z",
        subject="Re: hello", body="thanks", message_id="<m1@example.net>",
        thread_key="<t0@example.org>", account="sales", folder="INBOX", uid=7)])
    shown = json.loads(ok(invoke("prospects", "show", str(pid), "--format", "json")))
    (mail,) = [e for e in shown["timeline"] if e["type"] == "interaction"]
    assert (mail["subject"], mail["message_id"], mail["thread_key"]) == (
        "Re: hello", "<m1@example.net>", "<t0@example.org>")


def test_an_update_shows_its_fields_before_and_after(invoke, three, db_file):
    ok(invoke("--as", "boss", "prospects", "update", "cy@example.net", "--company", "Initech"))
    shown = json.loads(ok(invoke("prospects", "show", "cy@example.net", "--format", "json")))
    (update,) = [e for e in shown["timeline"] if e["type"] == "activity"
                 and e["action"] == "update"]
    row_id = scalar(db_file, "SELECT max(id) FROM activities WHERE action = 'update'")
    assert update == {"at": update["at"], "type": "activity", "id": row_id, "actor": "boss",
                      "action": "update", "entity": "prospect",
                      "before": {"company": update["before"]["company"]},
                      "after": {"company": "Initech"}}
    assert update["before"]["company"] != "Initech"
