"""What the audit trail and the ledger say about a sequence (issue 17's seed-31 survivors):
the enrolment's first due time, a delay and its reason, the task a task step made, the
step each sent mail records, the reason a finished enrollment gives, and an ended
enrollment's own row (its states and the run's moment)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.pipeline import interactions
from salescli.sequences import enroll, store
from salescli.sequences.send import send_due
from tests.sequences.conftest import ME, write_plan
from tests.support.cli import activities, fails, ok, query

TASK_THEN_MAIL = """
name = "call-first"
window = "00:00-24:00"
days = "daily"
[[steps]]
wait = "0d"
task = "call"
[[steps]]
wait = "1d"
subject = "After our call"
body = "Hi {{ prospect.first_name }}, as promised."
"""


def _enrollment(db_file, email: str) -> dict:
    return query(db_file, "SELECT e.* FROM enrollments e JOIN prospects p ON"
                          " p.id = e.prospect_id WHERE p.email = ?", (email,))[0]


def test_the_enrolment_is_audited_with_its_first_due_time(conn, db_file, intro, team, t0):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    [row] = activities(db_file, entity="enrollment", action="enroll")
    assert row["actor"] == "tester" and row["before"] is None
    assert row["after"] == {"sequence": "intro", "sender": ME,
                            "next_due_at": _enrollment(db_file, "ada@example.com")
                            ["next_due_at"]}
    assert row["after"]["next_due_at"] == iso(t0)


def test_a_delay_is_audited_with_its_reason(conn, db_file, intro, team, smtp_server, t0,
                                            invoke):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    ooo_at = t0 + timedelta(days=2)
    interactions.record(conn, "monitor", team["ada"]["id"], "auto_reply", iso(ooo_at),
                        subject="Automatic reply: Quick question, Ada")
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"delayed": 1}
    [row] = activities(db_file, entity="enrollment", action="delay")
    assert row["actor"] == "send"
    assert row["before"] == {"next_due_at": iso(t0 + timedelta(days=3))}
    assert row["after"] == {"next_due_at": iso(ooo_at + timedelta(days=3)),
                            "reason": "out of office"}
    # and it is in Ada's history
    shown = json.loads(ok(invoke("activity", "--prospect", "ada@example.com", "--format",
                                 "json")))
    assert [(r["action"], r["entity"]) for r in shown if r["actor"] == "send"][-1] == \
        ("delay", "enrollment")


def test_each_sent_mail_records_its_step_and_the_last_one_finishes(conn, db_file, intro, team,
                                                                   smtp_server, t0, invoke):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    for days in (0, 3, 5):
        assert send_due(conn, now=t0 + timedelta(days=days)) == {"sent": 1}
    e = _enrollment(db_file, "ada@example.com")
    assert (e["state"], e["reason"]) == ("finished", "all steps done")
    # Ada's timeline names the sequence, step and enrollment of each mail.
    shown = json.loads(ok(invoke("prospects", "show", "ada@example.com", "--format", "json")))
    assert [ev["detail"] for ev in shown["timeline"] if ev.get("kind") == "email_out"] == \
        [{"sequence": "intro", "step": n, "enrollment": e["id"]} for n in (1, 2, 3)]


def test_a_task_step_is_audited_as_the_task_it_made(conn, db_file, team, tmp_path, t0):
    store.load(conn, "tester", write_plan(tmp_path, TASK_THEN_MAIL))
    enroll.enroll(conn, "tester", "call-first", ["bob@example.org"], now_=t0)
    assert send_due(conn, now=t0) == {"tasks": 1}
    [task] = query(db_file, "SELECT * FROM tasks")
    [row] = activities(db_file, entity="task", action="create")
    assert row["entity_id"] == task["id"]
    assert row["after"]["kind"] == "call" and row["after"]["owner"] == "maria"


def test_a_run_counts_every_task_it_made(conn, db_file, team, tmp_path, t0):
    store.load(conn, "tester", write_plan(tmp_path, TASK_THEN_MAIL))
    enroll.enroll(conn, "tester", "call-first", ["ada@example.com", "bob@example.org"],
                  now_=t0)
    assert send_due(conn, now=t0) == {"tasks": 2}
    assert len(query(db_file, "SELECT * FROM tasks")) == 2


def test_preview_shows_a_task_step_and_the_mail_after_it(invoke, team, tmp_path):
    ok(invoke("sequences", "load", write_plan(tmp_path, TASK_THEN_MAIL)))
    out = ok(invoke("sequences", "preview", "call-first", "bob@example.org"))
    assert out.splitlines() == ["--- step 1 (task, wait 0d)",
                                "call Bob Babbage (call-first, step 1)",
                                "--- step 2 (email, wait 1d)",
                                "Subject: After our call", "",
                                "Hi Bob, as promised."]


def test_a_task_texts_last_newline_is_not_kept(conn, db_file, team, tmp_path, t0):
    plan = TASK_THEN_MAIL.replace('task = "call"\n',
                                  'task = "call"\ntext = """Call {{ prospect.first_name }}\n"""\n')
    store.load(conn, "tester", write_plan(tmp_path, plan))
    enroll.enroll(conn, "tester", "call-first", ["bob@example.org"], now_=t0)
    assert send_due(conn, now=t0) == {"tasks": 1}
    assert [r["text"] for r in query(db_file, "SELECT text FROM tasks")] == ["Call Bob"]


def test_an_enrollment_ended_by_a_run_is_audited_at_the_runs_moment(conn, db_file, intro,
                                                                    team, t0, invoke):
    """The end of an enrollment is audited with the state it left and the one it took,
    dated the moment the send run acted for (not the clock of the machine)."""
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    ok(invoke("prospects", "archive", "ada@example.com"))
    assert send_due(conn, now=t0) == {"stopped": 1}
    [row] = activities(db_file, entity="enrollment", action="end")
    assert (row["at"], row["actor"], row["before"], row["after"]) == (
        iso(t0), "send", {"state": "active"}, {"state": "stopped", "reason": "archived"})


def test_unenrolling_nobody_is_refused_and_naming_a_prospect_with_a_filter_too(
        conn, invoke, intro, team, db_file):
    with pytest.raises(InvalidValue, match=r"^ID\|EMAIL '' name at least one prospect$"):
        enroll.unenroll(conn, "tester", "intro", [])
    line = fails(invoke("sequences", "enroll", "intro", "ada@example.com", "--tag", "vip"))
    assert line == ("Error: ID|EMAIL 'ada@example.com' cannot be combined with --stage, "
                    "--tag or --search")
    assert query(db_file, "SELECT count(*) AS n FROM enrollments") == [{"n": 0}]


def test_a_sequence_ending_with_a_task_finishes_once_the_task_is_made(conn, db_file, team,
                                                                     tmp_path, t0):
    plan = TASK_THEN_MAIL.split("[[steps]]\nwait = \"1d\"")[0]  # the call alone
    store.load(conn, "tester", write_plan(tmp_path, plan))
    enroll.enroll(conn, "tester", "call-first", ["ada@example.com"], now_=t0)
    assert send_due(conn, now=t0) == {"tasks": 1}
    assert [r["text"] for r in query(db_file, "SELECT text FROM tasks")] == [
        "call Ada Lovelace (call-first, step 1)"]
    row = _enrollment(db_file, "ada@example.com")
    assert (row["state"], row["reason"], row["step"], row["next_due_at"]) == (
        "finished", "all steps done", 1, None)
    assert send_due(conn, now=t0 + timedelta(days=1)) == {}


def test_pause_and_resume_are_audited_with_the_moment_before_and_after(invoke, db_file,
                                                                       intro):
    ok(invoke("--as", "boss", "sequences", "pause", "intro"))
    ok(invoke("--as", "boss", "sequences", "resume", "intro"))
    paused, resumed = activities(db_file, entity="sequence", action="pause") + activities(
        db_file, entity="sequence", action="resume")
    at = paused["after"]["paused_at"]
    assert at is not None and at == paused["at"]
    assert (paused["actor"], paused["before"]) == ("boss", {"paused_at": None})
    assert (resumed["before"], resumed["after"]) == ({"paused_at": at}, {"paused_at": None})


def test_a_naive_moment_from_a_library_caller_is_taken_as_utc(conn, db_file, intro, team,
                                                              smtp_server, t0):
    naive = t0.replace(tzinfo=None)
    assert naive.tzinfo is None and t0.utcoffset() == timedelta(0)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=naive)
    assert _enrollment(db_file, "ada@example.com")["next_due_at"] == iso(t0)
    assert send_due(conn, now=naive) == {"sent": 1}
    assert query(db_file, "SELECT sent_at FROM sends")[0]["sent_at"] == iso(t0)
    # A second run measures the gap since the sender's last mail against its moment.
    later = naive + timedelta(hours=1)
    enroll.enroll(conn, "tester", "intro", ["bob@example.org"], now_=later)
    assert send_due(conn, now=later) == {"sent": 1}
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ada@example.com"],
                                                          ["bob@example.org"]]
