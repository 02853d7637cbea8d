"""Users' full names (issue 16: owners in an imported file are matched by them):
``users add --full-name``, ``users update``, shown by ``users list``, audited."""

from __future__ import annotations

import json

from tests.support.cli import activities, fails, ok, query


def test_add_with_full_name_is_listed_and_audited(invoke, sales):
    ok(invoke("users", "add", "ana", "--role", "operator", "--no-password",
              "--full-name", "  Ana   Souza "))
    ok(invoke("users", "add", "bo", "--role", "analyst", "--no-password"))
    rows = {u["username"]: u for u in json.loads(ok(invoke("users", "list", "--format",
                                                           "json")))}
    assert rows["ana"]["full_name"] == "Ana Souza" and rows["bo"]["full_name"] is None
    table = ok(invoke("users", "list"))
    assert "full_name" in table.splitlines()[0] and "Ana Souza" in table
    create = activities(sales, entity="user")[0]
    assert create["after"] == {"username": "ana", "email": None, "role": "operator",
                               "disabled": False, "full_name": "Ana Souza"}
    ok(invoke("users", "add", "cy", "--role", "analyst", "--no-password",
              "--email", "Cy@Example.com"))
    assert activities(sales, entity="user")[-1]["after"] == {
        "username": "cy", "email": "cy@example.com", "role": "analyst", "disabled": False}


def test_update_changes_full_name_and_email_in_one_audited_write(invoke, sales):
    ok(invoke("users", "add", "ana", "--role", "operator", "--no-password",
              "--email", "ana@ours.example"))
    out = ok(invoke("--as", "boss", "users", "update", "ana", "--full-name", "Ana Souza",
                    "--email", "Ana.Souza@Ours.Example"))
    assert out == "updated ana: Ana Souza <ana.souza@ours.example>\n"
    [row] = query(sales, "SELECT full_name, email FROM users")
    assert row == {"full_name": "Ana Souza", "email": "ana.souza@ours.example"}
    last = activities(sales, entity="user")[-1]
    assert (last["actor"], last["action"]) == ("boss", "update")
    assert last["before"] == {"full_name": None, "email": "ana@ours.example"}
    assert last["after"] == {"full_name": "Ana Souza", "email": "ana.souza@ours.example"}
    # '' clears; the same value again writes nothing
    ok(invoke("users", "update", "ana", "--email", ""))
    assert query(sales, "SELECT email FROM users")[0]["email"] is None
    n = len(activities(sales))
    ok(invoke("users", "update", "ana", "--full-name", "Ana Souza"))
    assert len(activities(sales)) == n


def test_update_errors(invoke, sales):
    ok(invoke("users", "add", "ana", "--role", "operator", "--no-password"))
    before = query(sales, "SELECT * FROM activities")
    fails(invoke("users", "update", "ana"), "--full-name or --email", code=2)
    fails(invoke("users", "update", "nobody", "--full-name", "X"), "user 'nobody' not found")
    fails(invoke("users", "update", "ana", "--full-name", "Ana\nSouza"),
          "--full-name", "one line")
    fails(invoke("users", "update", "ana", "--full-name", "Ana", "--email", "nope"),
          "--email 'nope'")
    assert query(sales, "SELECT full_name FROM users")[0]["full_name"] is None
    assert query(sales, "SELECT * FROM activities") == before


def test_role_and_disabled_changes_are_audited_under_their_command_names(invoke, sales):
    ok(invoke("users", "add", "maria", "--role", "operator", "--no-password"))
    ok(invoke("--as", "boss", "users", "set-role", "maria", "admin"))
    ok(invoke("--as", "boss", "users", "disable", "maria"))
    ok(invoke("--as", "boss", "users", "disable", "maria", "--enable"))
    rows = [(a["actor"], a["action"], a["before"], a["after"])
            for a in activities(sales, entity="user")[1:]]
    assert rows == [("boss", "set-role", {"role": "operator"}, {"role": "admin"}),
                    ("boss", "disable", {"disabled": False}, {"disabled": True}),
                    ("boss", "enable", {"disabled": True}, {"disabled": False})]


def test_a_new_user_is_audited_under_their_id_and_a_bad_name_is_named(invoke, sales):
    ok(invoke("users", "add", "bo", "--role", "analyst", "--no-password"))
    (bo,) = [u for u in json.loads(ok(invoke("users", "list", "--format", "json")))
             if u["username"] == "bo"]
    assert [a["entity_id"] for a in activities(sales, entity="user")] == [bo["id"]]
    assert fails(invoke("users", "add", "bad name!", "--role", "analyst", "--no-password")) == (
        "Error: username 'bad name!' must be 1-64 letters, digits, '.', '_', '@' or '-'")
