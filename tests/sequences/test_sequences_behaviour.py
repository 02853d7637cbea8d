"""Sequence behaviour found unchecked by ``./dev mutants``: load errors that name the step,
the audit row of a reload, sender-table errors, exit reasons (deleted prospect, hard bounce
without a diagnostic), a task template failing for one prospect, the digest's layout."""

from __future__ import annotations

from datetime import timedelta

from salescli.pipeline import prospects
from salescli.sequences import enroll, store
from salescli.sequences.send import send_due
from tests.sequences.conftest import THREE_STEPS, write_plan
from tests.support.cli import query


def _enrollment(db_file, email: str) -> dict:
    return query(db_file, "SELECT e.* FROM enrollments e JOIN prospects p ON"
                          " p.id = e.prospect_id WHERE p.email = ?", (email,))[0]


def test_a_task_template_failing_for_one_prospect_stops_only_that_one(
        conn, db_file, team, smtp_server, tmp_path, t0):
    plan = THREE_STEPS.replace('body = "Just bumping this up, {{ prospect.first_name }}."',
                               'task = "call"\ntext = "Call Mr/Ms {{ prospect.name.split()[1] }}"')
    plan = plan.replace("Quick question, {{ prospect.first_name }}", "Quick question")
    plan = plan.replace("Hi {{ prospect.first_name }},", "Hi,")
    store.load(conn, "t", write_plan(tmp_path, plan))
    prospects.add(conn, "tester", "anon@example.com", owner="maria")  # no name
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "anon@example.com"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 2}
    # The run's counts (its job_runs row and summary line) say what happened: one task,
    # one template error, as for a mail step whose template fails.
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"tasks": 1, "template_errors": 1}
    assert query(db_file, "SELECT text FROM tasks") == [{"text": "Call Mr/Ms Lovelace"}]
    row = _enrollment(db_file, "anon@example.com")
    assert row["state"] == "stopped" and row["reason"].startswith("template error: ")
    assert "step 2 text" in row["reason"]
