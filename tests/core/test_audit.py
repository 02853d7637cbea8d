"""Every write leaves exactly the expected activity rows; ``salescli activity`` lists them."""

from __future__ import annotations

import getpass
import json

import pytest

from tests.support.cli import activities, last_activity_id, new_activities, ok, query


def brief(rows):
    return [(a["action"], a["entity"], a["entity_id"], a["prospect_id"], a["actor"],
             a["before"], a["after"]) for a in rows]


# (command, expected new activities as (action, entity, entity_id, prospect_id, before, after))
WRITES = [
    (("prospects", "add", "dan@example.com", "--name", "Dan", "--owner", "dev"),
     [("create", "prospect", 4, 4, None,
       {"email": "dan@example.com", "name": "Dan", "owner": "dev", "stage": "lead",
        "email_status": "ok"})]),
    (("prospects", "update", "cy@example.net", "--owner", "maria", "--notes", "met twice"),
     [("update", "prospect", 3, 3, {"owner": None, "notes": None},
       {"owner": "maria", "notes": "met twice"})]),
    (("prospects", "update", "cy@example.net", "--name", ""),
     [("update", "prospect", 3, 3, {"name": "Cy Young"}, {"name": None})]),
    (("prospects", "update", "bob@example.org", "--email", "Robert@Example.org"),
     [("update", "prospect", 2, 2, {"email": "bob@example.org"},
       {"email": "robert@example.org"})]),
    (("prospects", "move", "cy@example.net", "proposal", "--note", "fast"),
     [("move", "prospect", 3, 3, {"stage": "lead"}, {"stage": "proposal", "note": "fast"})]),
    (("prospects", "archive", "3"),
     [("archive", "prospect", 3, 3, {"archived_at": None}, "*")]),
    (("log", "cy@example.net", "--kind", "meeting", "--subject", "Kick-off",
      "--at", "2024-03-01T09:30:00+01:00"),
     [("create", "interaction", 1, 3, None,
       {"kind": "meeting", "occurred_at": "2024-03-01T08:30:00Z", "subject": "Kick-off"})]),
    (("stages", "add", "trial", "--position", "2"),
     [("create", "stage", 8, None, None, {"name": "trial", "position": 2, "kind": "open"})]),
    (("stages", "rename", "replied", "answered"),
     [("rename", "stage", 3, None, {"name": "replied"}, {"name": "answered"})]),
    (("stages", "reorder", "meeting", "lead"),
     [("reorder", "stage", None, None,
       {"order": ["lead", "contacted", "replied", "meeting", "proposal", "won", "lost"]},
       {"order": ["meeting", "lead", "contacted", "replied", "proposal", "won", "lost"]})]),
    (("stages", "remove", "replied"),
     [("remove", "stage", 3, None, {"name": "replied", "position": 2, "kind": "open"},
       None)]),
    (("users", "add", "zoe", "--role", "analyst", "--email", "Zoe@Example.com",
      "--no-password"),
     [("create", "user", 1, None, None,
       {"username": "zoe", "email": "zoe@example.com", "role": "analyst",
        "disabled": False})]),
]


@pytest.mark.parametrize("args, expected", WRITES, ids=[" ".join(a[:3]) for a, _ in WRITES])
def test_each_write_records_exactly_its_activity(invoke, three, args, expected):
    since = last_activity_id(three)
    ok(invoke("--as", "auditor", *args))
    got = brief(new_activities(three, since))
    want = [(a, e, i, p, "auditor", b, x) for a, e, i, p, b, x in expected]
    assert len(got) == len(want), got
    for g, w in zip(got, want, strict=True):
        if w[-1] == "*":  # a timestamp we cannot know
            assert g[:-1] == w[:-1] and g[-1] is not None
        else:
            assert g == w


def test_stage_remove_with_move_to_records_each_move_and_the_removal(invoke, three):
    since = last_activity_id(three)
    ok(invoke("stages", "remove", "lead", "--move-to", "contacted"))
    got = brief(new_activities(three, since))
    assert got == [
        ("move", "prospect", 1, 1, "tester", {"stage": "lead"},
         {"stage": "contacted", "note": "stage lead removed"}),
        ("move", "prospect", 3, 3, "tester", {"stage": "lead"},
         {"stage": "contacted", "note": "stage lead removed"}),
        ("remove", "stage", 1, None, "tester", {"name": "lead", "position": 0, "kind": "open"},
         {"moved_to": "contacted", "moved": 2}),
    ]


def test_users_writes_record_activity_without_secrets(invoke, sales):
    ok(invoke("users", "add", "maria", "--role", "operator", "--password-stdin",
              input="correct horse battery\n"))
    since = last_activity_id(sales)
    ok(invoke("users", "set-role", "maria", "manager"))
    ok(invoke("users", "set-email", "maria", "maria@example.com"))
    ok(invoke("users", "disable", "maria"))
    ok(invoke("users", "disable", "maria", "--enable"))
    ok(invoke("users", "passwd", "maria", "--password-stdin", input="another good one\n"))
    got = [(a["action"], a["before"], a["after"]) for a in new_activities(sales, since)]
    assert got == [
        ("set-role", {"role": "operator"}, {"role": "manager"}),
        ("update", {"email": None}, {"email": "maria@example.com"}),
        ("disable", {"disabled": False}, {"disabled": True}),
        ("enable", {"disabled": True}, {"disabled": False}),
        ("passwd", None, {"password": "changed"}),
    ]
    assert "horse" not in json.dumps(activities(sales))
    assert "another good" not in json.dumps(activities(sales))


def test_actor_precedence(invoke, sales, monkeypatch):
    ok(invoke("--as", "cli-flag", "prospects", "add", "a@example.com"))
    ok(invoke("prospects", "add", "b@example.com"))  # SALESCLI_USER=tester
    monkeypatch.delenv("SALESCLI_USER")
    ok(invoke("prospects", "add", "c@example.com"))
    ok(invoke("--as", "  ", "prospects", "add", "d@example.com"))
    actors = [a["actor"] for a in activities(sales)]
    # a blank --as falls back like no --as at all (here: the OS user)
    assert actors == ["cli-flag", "tester", getpass.getuser(), getpass.getuser()]


def test_actor_is_recorded_in_stage_history_and_interactions(invoke, three):
    ok(invoke("--as", "maria", "prospects", "move", "1", "meeting"))
    ok(invoke("--as", "maria", "log", "1", "--kind", "note", "--body", "b"))
    from tests.support.cli import query

    assert query(three, "SELECT actor FROM stage_changes ORDER BY id DESC LIMIT 1") == \
        [{"actor": "maria"}]
    assert query(three, "SELECT actor, owner FROM interactions") == \
        [{"actor": "maria", "owner": "maria"}]


def test_failed_write_leaves_no_activity(invoke, three):
    n = len(activities(three))
    invoke("prospects", "move", "1", "won")  # needs --reason
    invoke("prospects", "add", "bob@example.org")  # duplicate
    assert len(activities(three)) == n


def test_activity_command_filters(invoke, three):
    ok(invoke("--as", "maria", "prospects", "move", "1", "contacted"))
    ok(invoke("--as", "maria", "stages", "add", "trial"))
    rows = json.loads(ok(invoke("activity", "--format", "json")))
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # oldest first
    assert len(rows) == 5
    assert all(isinstance(r["after"], dict) for r in rows)

    mine = json.loads(ok(invoke("activity", "--actor", "maria", "--format", "json")))
    assert [(r["action"], r["entity"]) for r in mine] == [("move", "prospect"),
                                                          ("create", "stage")]
    ada = json.loads(ok(invoke("activity", "--prospect", "ada@example.com", "--format",
                               "json")))
    assert [r["action"] for r in ada] == ["create", "move"]
    assert json.loads(ok(invoke("activity", "--prospect", "1", "--format", "json"))) == ada
    stages = json.loads(ok(invoke("activity", "--entity", "stage", "--format", "json")))
    assert [r["after"]["name"] for r in stages] == ["trial"]
    both = json.loads(ok(invoke("activity", "--actor", "maria", "--entity", "stage",
                                "--format", "json")))  # filters combine: both must hold
    assert [(r["action"], r["after"]["name"]) for r in both] == [("create", "trial")]
    newest = json.loads(ok(invoke("activity", "--limit", "2", "--format", "json")))
    assert [r["id"] for r in newest] == [rows[-2]["id"], rows[-1]["id"]]
    assert json.loads(ok(invoke("activity", "--since", "2999-01-01", "--format", "json"))) == []
    assert len(json.loads(ok(invoke("activity", "--since", "1d", "--format", "json")))) == 5
    nl = ok(invoke("activity", "--format", "nl")).splitlines()
    assert [json.loads(x)["id"] for x in nl] == [r["id"] for r in rows]
    table = ok(invoke("activity"))
    assert table.splitlines()[0].split()[:4] == ["id", "at", "actor", "action"]



def test_unsuppressing_records_what_the_entry_was_for_each_prospect_it_covered(
        invoke, three, db_file):
    ok(invoke("suppress", "@example.org", "--reason", "asked us to stop"))
    since = last_activity_id(db_file)
    ok(invoke("unsuppress", "@example.org"))
    bob = query(db_file, "SELECT id FROM prospects WHERE email = 'bob@example.org'")[0]["id"]
    assert [(a["action"], a["prospect_id"], a["before"], a["after"])
            for a in new_activities(db_file, since)] == [
        ("unsuppress", bob, {"address": "@example.org", "reason": "asked us to stop",
                             "source": "manual"}, None)]
