"""Sequence behaviour found unchecked by ``./dev mutants``: load errors that name the step,
the audit row of a reload, sender-table errors, exit reasons (deleted prospect, hard bounce
without a diagnostic), a task template failing for one prospect, the digest's layout."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.pipeline import interactions, prospects
from salescli.sequences import enroll, senders, store
from salescli.sequences.send import send_due
from salescli.tasks import store as tasks
from tests.sequences.conftest import ME, THREE_STEPS, cy_replied, write_plan
from tests.support.cli import activities, fails, ok, query


def _enrollment(db_file, email: str) -> dict:
    return query(db_file, "SELECT e.* FROM enrollments e JOIN prospects p ON"
                          " p.id = e.prospect_id WHERE p.email = ?", (email,))[0]


@pytest.mark.parametrize("plan, line", [
    ('name = "x"\nsteps = ["hello"]\n', "Error: step 1 'hello' must be a table"),
    (THREE_STEPS.replace('body = "Just bumping this up, {{ prospect.first_name }}."', ""),
     'Error: step 2 body None is required (or set task = "call")'),
])
def test_a_malformed_step_is_named_in_the_error(invoke, team, tmp_path, plan, line):
    assert fails(invoke("sequences", "load", write_plan(tmp_path, plan))) == line


def test_a_reload_records_the_steps_before_and_after(invoke, team, tmp_path, db_file):
    path = write_plan(tmp_path)
    ok(invoke("sequences", "load", path))
    write_plan(tmp_path, THREE_STEPS.replace("Last note from me.", "Final note."))
    ok(invoke("sequences", "load", path))
    [load, update] = activities(db_file, entity="sequence")
    assert load["before"] is None and len(load["after"]["steps"]) == 3
    assert update["before"]["steps"][2]["body"].startswith("Last note from me.")
    assert update["after"]["steps"][2]["body"].startswith("Final note.")


def test_an_unknown_sender_key_lists_the_known_ones(invoke, team, tmp_path, monkeypatch):
    config = tmp_path / "salescli.toml"
    config.write_text('[[senders]]\naddress = "me@ours.example"\ncolour = "red"\n')
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    fails(invoke("send"), "senders[0] key 'colour' is not a sender setting (address, "
                          "daily_cap, imap_account, min_gap, smtp_ca, smtp_host, "
                          "smtp_password_env, smtp_port, smtp_ssl, smtp_user)")


@pytest.mark.parametrize("table, shown", [
    ('smtp_host = "127.0.0.1"', "{'smtp_host': '127.0.0.1'}"),
    ('address = "  "', "{'address': '  '}")])
def test_a_sender_table_without_an_address_is_one_error_line(invoke, team, tmp_path,
                                                             monkeypatch, table, shown):
    config = tmp_path / "salescli.toml"
    config.write_text(f"[[senders]]\n{table}\n")
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    assert fails(invoke("send")) == f"Error: senders[0].address {shown} is required"


def test_a_sender_table_without_smtp_host_stops_the_run(conn, intro, team, smtp_server, t0,
                                                        tmp_path, monkeypatch):
    config = tmp_path / "salescli.toml"
    config.write_text(f'[[senders]]\naddress = "{ME}"\ndaily_cap = 5\n')
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    with pytest.raises(InvalidValue) as err:
        send_due(conn, now=t0)
    assert str(err.value) == f"senders.{ME}.smtp_host None is required"
    assert smtp_server.messages == []


def test_sender_limits_are_read_from_the_environment_given(monkeypatch):
    monkeypatch.setenv("SALESCLI_SEND_DAILY_CAP", "10")
    with pytest.raises(InvalidValue, match="SALESCLI_SEND_DAILY_CAP 'lots'"):
        senders.load({"SALESCLI_SEND_DAILY_CAP": "lots"})
    assert senders.load({})["env"] == {}


def test_a_prospect_deleted_behind_our_back_stops_its_enrollment(conn, db_file, intro, team,
                                                                 smtp_server, t0):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 2}
    raw = sqlite3.connect(db_file)  # the sqlite3 shell: foreign keys off, no cascade
    with raw:
        raw.execute("DELETE FROM prospects WHERE email = 'ada@example.com'")
    raw.close()
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"stopped": 1, "sent": 1}
    assert [m.rcpt_tos for m in smtp_server.messages[2:]] == [["bob@example.org"]]
    [row] = query(db_file, "SELECT state, reason FROM enrollments WHERE prospect_id = ?",
                  (team["ada"]["id"],))
    assert row == {"state": "stopped", "reason": "prospect deleted"}


def test_a_hard_bounce_without_diagnostic_ends_with_a_plain_reason(conn, db_file, intro, team,
                                                                    smtp_server, t0):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    interactions.record(conn, "monitor", team["ada"]["id"], "bounce",
                        iso(t0 + timedelta(hours=1)), detail={"bounce": "hard"})
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"bounced": 1}
    row = _enrollment(db_file, "ada@example.com")
    assert (row["state"], row["reason"]) == ("bounced", "hard bounce")


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


def test_the_morning_digest_separates_its_sections_by_a_blank_line(
        conn, intro, team, smtp_server, t0, invoke):
    today = date.today()
    overdue = (today - timedelta(days=2)).isoformat()
    a = tasks.add(conn, "tester", "ada@example.com", "Call Ada", kind="call", due=overdue)
    b = tasks.add(conn, "tester", "bob@example.org", "Send the deck", kind="email",
                  due="today")
    replied = cy_replied(conn, team, t0)
    before = len(smtp_server.messages)
    ok(invoke("notify", "--morning"))
    [got] = smtp_server.wait_for(before + 1)[before:]
    text = got.message.get_content().replace("\r\n", "\n")
    assert text.startswith(f"Good morning maria, here is {today.isoformat()}.\n\n"
                           f"Overdue tasks (1):\n"
                           f"  #{a['id']} call: Call Ada (ada@example.com, due {overdue})\n\n"
                           f"Due today (1):\n"
                           f"  #{b['id']} email: Send the deck (bob@example.org)\n\n"
                           "Sequence replies waiting for you (1):\n"
                           f"  Cy Young <cy@example.net> replied {replied} (intro)\n\n"
                           "salescli tasks list --owner maria\n"), text
