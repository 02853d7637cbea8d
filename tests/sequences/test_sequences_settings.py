"""Settings a user leaves out or gets wrong, and the headers a prospect sees (issue 17's
seed-31 survivors): a sequence file without a window or days sends in office hours on
weekdays, pausing twice names the sequence, a bad minimum gap stops even a dry run, and the
mail is addressed to the prospect by name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from salescli.core.timeutil import iso
from salescli.pipeline import interactions
from salescli.sequences import enroll
from salescli.sequences.send import send_due
from tests.sequences.conftest import THREE_STEPS, cy_replied, write_plan
from tests.support.cli import fails, ok, query


def _enrollment(db_file, email: str) -> dict:
    return query(db_file, "SELECT e.* FROM enrollments e JOIN prospects p ON"
                          " p.id = e.prospect_id WHERE p.email = ?", (email,))[0]


def test_a_file_without_window_or_days_gets_office_hours_on_weekdays(invoke, team,
                                                                     tmp_path):
    plan = THREE_STEPS.replace('window = "00:00-24:00"\n', "").replace('days = "daily"\n', "")
    ok(invoke("sequences", "load", write_plan(tmp_path, plan)))
    shown = json.loads(ok(invoke("sequences", "show", "intro", "--format", "json")))
    assert (shown["window"], shown["days"]) == ("09:00-17:00", "mon-fri")


def test_a_window_may_start_at_minute_59_and_days_name_one_range_each(invoke, team,
                                                                       tmp_path):
    plan = THREE_STEPS.replace('window = "00:00-24:00"', 'window = "08:59-17:59"')
    ok(invoke("sequences", "load", write_plan(tmp_path, plan)))
    shown = json.loads(ok(invoke("sequences", "show", "intro", "--format", "json")))
    assert shown["window"] == "08:59-17:59"
    # "mon-wed-fri" is no range: refused, not read as mon-fri.
    bad = write_plan(tmp_path, plan.replace('days = "daily"', 'days = "mon-wed-fri"'))
    fails(invoke("sequences", "load", bad), "days 'mon-wed-fri'", "is not days like mon-fri")


def test_pausing_twice_names_the_sequence(invoke, intro, team):
    ok(invoke("sequences", "pause", "intro"))
    fails(invoke("sequences", "pause", "intro"), "sequence 'intro'", "already paused")


def test_a_bad_minimum_gap_stops_even_a_dry_run(conn, invoke, intro, team, t0, monkeypatch):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    monkeypatch.setenv("SALESCLI_SEND_MIN_GAP", "-5")
    fails(invoke("send", "--dry-run"), "SALESCLI_SEND_MIN_GAP '-5'", "must be 0")
    monkeypatch.setenv("SALESCLI_SEND_MIN_GAP", "soon")
    fails(invoke("send", "--dry-run"), "SALESCLI_SEND_MIN_GAP 'soon'", "is not a number")


def test_the_mail_is_addressed_to_the_prospect_by_name(conn, intro, team, smtp_server):
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 1}
    [got] = smtp_server.messages
    assert got.message["To"] == "Ada Lovelace <ada@example.com>"


@pytest.mark.parametrize("subject, back", [
    ("Abwesend: bis 14.12.26 nicht im Büro", "2026-12-14T00:00:00Z"),
    ("Out of office until 15.12.2026", "2026-12-15T00:00:00Z"),
])
def test_a_numeric_return_date_with_its_year_delays_the_next_step(conn, db_file, intro, team,
                                                                  smtp_server, subject, back):
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    interactions.record(conn, "monitor", team["ada"]["id"], "auto_reply",
                        iso(t0 + timedelta(hours=2)), subject=subject)
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"delayed": 1}
    assert _enrollment(db_file, "ada@example.com")["next_due_at"] == back


def test_a_mailbox_that_keeps_deferring_ends_the_enrollment_after_five_tries(
        conn, db_file, intro, team, smtp_server, t0):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    smtp_server.fail_next(5, 451)
    assert send_due(conn, now=t0) == {"deferred": 1}
    for _ in range(3):
        due = _enrollment(db_file, "ada@example.com")["next_due_at"]
        assert send_due(conn, now=due) == {"resent": 1, "deferred": 1}
    due = _enrollment(db_file, "ada@example.com")["next_due_at"]
    assert due == iso(t0 + timedelta(minutes=10 + 20 + 40 + 80))
    assert send_due(conn, now=due) == {"resent": 1, "failed": 1}
    e = _enrollment(db_file, "ada@example.com")
    assert e["state"] == "stopped" and e["reason"].startswith("gave up after 5 tries: SMTP server")
    assert "451 4.3.0" in e["reason"]
    assert smtp_server.messages == []
    (send,) = query(db_file, "SELECT state, smtp_reply FROM sends")
    assert send["state"] == "failed"
    assert f"gave up after 5 tries: {send['smtp_reply']}" == e["reason"]  # tried, not unsent


def test_the_digest_names_a_replier_without_a_name_by_address(conn, intro, team, smtp_server,
                                                              t0, invoke):
    conn.execute("UPDATE prospects SET name = NULL WHERE email = 'cy@example.net'")
    replied = cy_replied(conn, team, t0)
    before = len(smtp_server.messages)
    ok(invoke("notify", "--morning"))
    [got] = smtp_server.wait_for(before + 1)[before:]
    text = got.message.get_content().replace("\r\n", "\n")
    assert f"  cy@example.net <cy@example.net> replied {replied} (intro)\n" in text
