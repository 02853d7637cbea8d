"""Sequences from the shell: load (and its errors), list, show, pause, resume, enroll with
skip reasons, unenroll, status, preview."""

from __future__ import annotations

import json

import pytest

from tests.sequences.conftest import THREE_STEPS, write_plan
from tests.support.cli import activities, db_state, fails, ok, query


def test_load_list_show_and_reload_updates(invoke, team, tmp_path, db_file):
    path = write_plan(tmp_path)
    assert ok(invoke("sequences", "load", path)).strip() == "created sequence intro (3 steps)"
    assert "unchanged" in ok(invoke("sequences", "load", path))
    rows = json.loads(ok(invoke("sequences", "list", "--format", "json")))
    assert rows == [{"name": "intro", "steps": 3, "window": "00:00-24:00", "days": "daily",
                     "timezone": None, "paused_at": None, "active": 0, "finished": 0,
                     "replied": 0, "bounced": 0, "unsubscribed": 0, "stopped": 0}]
    shown = json.loads(ok(invoke("sequences", "show", "INTRO", "--format", "json")))
    assert [s["wait"] for s in shown["steps"]] == ["0d", "3d", "2d"]
    assert "Quick question" in ok(invoke("sequences", "show", "intro"))
    write_plan(tmp_path, THREE_STEPS.replace('wait = "3d"', 'wait = "4d"'))
    assert "updated" in ok(invoke("sequences", "load", path))
    assert [a["action"] for a in activities(db_file, entity="sequence")] == ["load", "update"]
    fails(invoke("sequences", "show", "nope"), "sequence", "nope")


@pytest.mark.parametrize("change, needles", [
    (('{{ prospect.first_name }},\nwould', '{{ prospect.frist_name }},\nwould'),
     ["step 1 body", "prospect.frist_name"]),
    (('Just bumping this up', '{{ budget }} bumping'), ["step 2 body", "'budget'"]),
    (('Last note from me.', '{% if %}'), ["step 3 body", "syntax error"]),
    (('wait = "3d"', 'wait = "3 days"'), ["step 2 wait", "3 days"]),
    (('window = "00:00-24:00"', 'window = "17:00-09:00"'), ["window", "17:00-09:00"]),
    (('days = "daily"', 'days = "mon-fry"'), ["days", "mon-fry"]),
    (('days = "daily"', 'days = "daily"\ntimezone = "Mars/Olympus"'),
     ["timezone 'Mars/Olympus' is not a known time zone (e.g. Europe/Berlin)"]),
    (('name = "intro"', 'name = "intro"\ncolour = "red"'),
     ["key 'colour' is not a sequence setting (days, name, steps, timezone, window)"]),
    (('wait = "3d"', 'wait = "3d"\ndelay = "1d"'),
     ["step 2 key 'delay' is not a step setting (body, subject, task, text, wait)"]),
    (('subject = "Quick question, {{ prospect.first_name }}"', ''),
     ["step 1 subject", "required"]),
    (('{{ owner.name }}', '{{ owner.__class__ }}'), ["step 1 body", "__class__"]),
])
def test_a_bad_file_is_one_error_line_and_changes_nothing(invoke, team, tmp_path, db_file,
                                                          change, needles):
    path = write_plan(tmp_path, THREE_STEPS.replace(*change))
    before = db_state(db_file)
    fails(invoke("sequences", "load", path), *needles)
    assert db_state(db_file) == before


def test_unreadable_and_invalid_toml(invoke, team, tmp_path):
    line = fails(invoke("sequences", "load", tmp_path / "missing.toml"))
    assert line == (f"Error: FILE '{tmp_path / 'missing.toml'}' cannot be read "
                    "(No such file or directory)")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    fails(invoke("sequences", "load", bad), "bad.toml", "not valid TOML")


def test_enroll_skips_with_reasons_and_status(invoke, conn, intro, team, db_file):
    ok(invoke("prospects", "add", "dee@example.com", "--owner", "maria"))
    ok(invoke("prospects", "add", "eve@example.com", "--owner", "maria"))
    ok(invoke("prospects", "add", "fay@example.com", "--owner", "maria"))
    ok(invoke("prospects", "add", "gus@example.com", "--owner", "ghost"))
    ok(invoke("suppress", "dee@example.com"))
    ok(invoke("prospects", "archive", "eve@example.com"))
    ok(invoke("prospects", "move", "fay@example.com", "won", "--reason", "signed"))
    conn.execute("UPDATE prospects SET email_status = 'bounced_hard' WHERE email = ?",
                 ("cy@example.net",))
    out = ok(invoke("sequences", "enroll", "intro", "ada@example.com", "bob@example.org",
                    "cy@example.net", "dee@example.com", "eve@example.com", "fay@example.com",
                    "gus@example.com"))
    assert out.splitlines() == ["enrolled 2", "skipped 1: archived", "skipped 1: bounced",
                                "skipped 1: owner has no email address",
                                "skipped 1: suppressed", "skipped 1: won"]
    assert ok(invoke("sequences", "enroll", "intro", "ada@example.com")).splitlines() == \
        ["enrolled 0", "skipped 1: already enrolled"]
    rows = json.loads(ok(invoke("sequences", "status", "intro", "--format", "json")))
    assert [(r["email"], r["state"], r["step"]) for r in rows] == [
        ("ada@example.com", "active", "0/3"), ("bob@example.org", "active", "0/3")]
    assert len(activities(db_file, entity="enrollment", action="enroll")) == 2
    ok(invoke("sequences", "unenroll", "intro", "bob@example.org"))
    rows = json.loads(ok(invoke("sequences", "status", "intro", "--format", "json")))
    assert rows[1]["state"] == "stopped" and rows[1]["reason"] == "unenrolled by tester"
    fails(invoke("sequences", "unenroll", "intro", "dee@example.com"), "dee@example.com")
    fails(invoke("sequences", "enroll", "intro"), "--stage")
    fails(invoke("sequences", "enroll", "nope", "ada@example.com"), "sequence", "nope")


def test_enroll_by_tag_and_stage(invoke, intro, team):
    ok(invoke("prospects", "update", "cy@example.net", "--tag", "webinar"))
    assert ok(invoke("sequences", "enroll", "intro", "--tag", "webinar")).splitlines() == \
        ["enrolled 1"]
    assert ok(invoke("sequences", "enroll", "intro", "--stage", "lead")).splitlines() == \
        ["enrolled 2", "skipped 1: already enrolled"]


def test_preview_renders_every_step(invoke, intro, team):
    out = ok(invoke("sequences", "preview", "intro", "ada@example.com"))
    assert "Subject: Quick question, Ada" in out
    assert "would Lovelace Ltd like a demo?" in out
    assert "Subject: Re: Quick question, Ada" in out
    assert "Last note from me. me@ours.example" in out
    steps = json.loads(ok(invoke("sequences", "preview", "intro", "2", "--format", "json")))
    assert [s["subject"] for s in steps] == ["Quick question, Bob", "Re: Quick question, Bob",
                                             "Re: Quick question, Bob"]


def test_pause_and_resume(invoke, intro, team, db_file):
    ok(invoke("sequences", "pause", "intro"))
    fails(invoke("sequences", "pause", "intro"), "already paused")
    assert json.loads(ok(invoke("sequences", "list", "--format", "json")))[0]["paused_at"]
    ok(invoke("sequences", "resume", "intro"))
    fails(invoke("sequences", "resume", "intro"), "not paused")
    assert query(db_file, "SELECT paused_at FROM sequences") == [{"paused_at": None}]


def test_reload_may_not_drop_a_step_someone_reached(invoke, conn, intro, team, tmp_path):
    ok(invoke("sequences", "enroll", "intro", "ada@example.com"))
    conn.execute("UPDATE enrollments SET step = 3")
    two = THREE_STEPS[:THREE_STEPS.rindex("[[steps]]")]
    fails(invoke("sequences", "load", write_plan(tmp_path, two, "two.toml")),
          "intro", "3 step(s)", "cannot be removed")


def test_an_owner_without_a_user_account_is_still_named_in_the_mail(invoke, conn, tmp_path):
    # 'zed' owns a prospect but has no user (an imported owner name): the templates still
    # get the name as the owner's username and name, not an empty value.
    from salescli.pipeline import prospects

    prospects.add(conn, "tester", "ivy@example.com", name="Ivy Ng", owner="zed")
    plan = THREE_STEPS.replace("{{ owner.name }}", "{{ owner.username }} ({{ owner.name }})")
    ok(invoke("sequences", "load", write_plan(tmp_path, plan)))
    out = ok(invoke("sequences", "preview", "intro", "ivy@example.com"))
    assert "\nzed (zed)" in out


def test_a_variable_missing_only_for_one_prospect_is_named_with_its_scope(invoke, team,
                                                                          tmp_path):
    # The load renders each template for a sample prospect; a branch taken only for Bob
    # reaches an undefined owner field when his mail is rendered: the error names it whole.
    plan = THREE_STEPS.replace(
        "{{ owner.name }}",
        "{% if prospect.first_name == 'Bob' %}{{ owner.phone }}{% endif %}")
    ok(invoke("sequences", "load", write_plan(tmp_path, plan)))
    assert "Hi Ada," in ok(invoke("sequences", "preview", "intro", "ada@example.com"))
    line = fails(invoke("sequences", "preview", "intro", "bob@example.org"))
    assert line == "Error: sequence 'intro' step 1 body: undefined variable 'owner.phone'"
