"""What an unsubscribe does to the database, whoever calls it (the one-click link, the
scanner, the sender): the address suppressed, its active enrollments ended as unsubscribed
with the reason, each audited; a second call changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import query

AT = "2026-03-02T10:00:00Z"


@pytest.fixture
def enrolled(conn, tmp_path):
    """ann and ben (sam's, who has an address to send from), both enrolled in ``hello``."""
    from salescli.pipeline import prospects
    from salescli.sequences import enroll, store

    conn.execute("INSERT INTO users(username, email, role, created_at, updated_at) VALUES"
                 " ('sam', 'sam@ours.example', 'operator', ?, ?)", (AT, AT))
    for email in ("ann@client.example", "ben@client.example"):
        prospects.add(conn, "setup", email, name=email[:3].title(), owner="sam")
    plan = tmp_path / "hello.toml"
    plan.write_text('name = "hello"\n[[steps]]\nsubject = "Hi"\nbody = "Hello"\n')
    store.load(conn, "setup", plan)
    got = enroll.enroll(conn, "setup", "hello", ["ann@client.example", "ben@client.example"])
    assert got["enrolled"] == 2
    return conn


def test_an_unsubscribe_suppresses_and_ends_the_enrollment_audited(enrolled, db_file):
    from salescli.pipeline.unsubscribe import unsubscribe

    [ben] = query(db_file, "SELECT e.next_due_at, e.updated_at FROM enrollments e JOIN"
                           " prospects p ON p.id = e.prospect_id WHERE p.email ="
                           " 'ben@client.example'")
    assert ben["next_due_at"] is not None
    got = unsubscribe(enrolled, "scanner", " Ann@Client.Example ", reason="replied STOP", at=AT)
    assert got == {"address": "ann@client.example", "suppressed": True, "ended": 1}
    assert query(db_file, "SELECT p.email, e.state, e.reason, e.ended_at, e.next_due_at,"
                          " e.updated_at FROM enrollments e JOIN prospects p"
                          " ON p.id = e.prospect_id ORDER BY p.email") == [
        {"email": "ann@client.example", "state": "unsubscribed", "reason": "replied STOP",
         "ended_at": AT, "next_due_at": None, "updated_at": AT},
        {"email": "ben@client.example", "state": "active", "reason": None, "ended_at": None,
         "next_due_at": ben["next_due_at"], "updated_at": ben["updated_at"]}]
    assert query(db_file, "SELECT address, source FROM suppressions") == [
        {"address": "ann@client.example", "source": "unsubscribe"}]
    [end] = query(db_file, "SELECT a.actor, a.at, a.prospect_id, a.before, a.after,"
                           " p.email FROM activities a JOIN prospects p"
                           " ON p.id = a.prospect_id WHERE a.action = 'end'"
                           " AND a.entity = 'enrollment'")
    assert (end["actor"], end["at"], end["email"]) == ("scanner", AT, "ann@client.example")
    assert json.loads(end["before"]) == {"state": "active"}
    assert json.loads(end["after"]) == {"state": "unsubscribed", "reason": "replied STOP"}

    n = len(query(db_file, "SELECT id FROM activities"))
    again = unsubscribe(enrolled, "scanner", "ann@client.example", reason="again", at=AT)
    assert again == {"address": "ann@client.example", "suppressed": False, "ended": 0}
    assert len(query(db_file, "SELECT id FROM activities")) == n


def test_a_one_click_token_names_its_enrollment_for_its_address_only(enrolled):
    from salescli.pipeline.unsubscribe import key_from_secret, make_token, resolve

    key = key_from_secret(b"k" * 32)
    (ann, ann_pid), (ben, _) = (enrolled.execute(
        "SELECT e.id, p.id FROM enrollments e JOIN prospects p ON p.id = e.prospect_id"
        " WHERE p.email = ?", (email,)).fetchone()
        for email in ("ann@client.example", "ben@client.example"))
    token = make_token(key, ann, " Ann@Client.Example")
    assert resolve(enrolled, key, token) == {"enrollment_id": ann, "prospect_id": ann_pid,
                                             "email": "ann@client.example",
                                             "sequence": "hello"}
    assert resolve(enrolled, key, make_token(key, ann, "ben@client.example")) is None
    assert resolve(enrolled, key, make_token(key, ben, "ann@client.example")) is None
    assert resolve(enrolled, key_from_secret(b"j" * 32), token) is None
