"""Owners of another CRM's export (issue 16): matched to users by username, email or full
name ignoring case and accents; unknown ones are one error; --owner-map and
--create-owners (operators without a password, audited, in the import's transaction)."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.crm_plan.support import PEOPLE, PEOPLE_HEAD, add_user, crm_schema, write
from tests.support.cli import fails, ok, query, scalar


def row(n: int, email: str, owner: str, stage: str = "Subscriber") -> str:
    return f"{n},F{n},L{n},{email},,Co {n},{owner},{stage},,2024-01-0{n} 10:00,,,,,,\n"


FILE = PEOPLE_HEAD + row(1, "a@x.example", "LUCIA FERNANDEZ") + \
    row(2, "b@x.example", "Ana@Team.Example") + row(3, "c@x.example", "dev") + \
    row(4, "d@x.example", "Zoë Quinn") + row(5, "e@x.example", "zoe quinn") + \
    row(6, "f@x.example", "Max Mustermann")


@pytest.fixture
def crm(sales):
    crm_schema(sales)
    add_user(sales, "lucia", None, "Lucía Fernández")
    add_user(sales, "ana", "ana@team.example", None)
    add_user(sales, "dev", None, None)
    return sales


def owners(db_file) -> dict[str, str | None]:
    return {r["email"]: r["owner"] for r in query(db_file, "SELECT email, owner FROM prospects")}


def test_unknown_owners_are_one_error_listing_each_and_nothing_is_written(invoke, crm,
                                                                          tmp_path):
    f = write(tmp_path, "c.csv", FILE)
    line = fails(invoke("prospects", "import", f, "--mapping", PEOPLE))
    # accents and case ignored: "Zoë Quinn" and "zoe quinn" are one owner (first spelling)
    assert line == ("Error: 2 owners in c.csv are no user: 'Zoë Quinn' (2 rows: --owner-map "
                    "'Zoë Quinn=USER'), 'Max Mustermann' (1 row: --owner-map 'Max "
                    "Mustermann=USER'); or --create-owners to create them")
    assert "'Max Mustermann' (1 row: --owner-map 'Max Mustermann=USER')" in line
    assert "--create-owners" in line
    assert scalar(crm, "SELECT count(*) FROM prospects") == 0


def test_owners_match_by_username_email_or_full_name(invoke, crm, tmp_path):
    f = write(tmp_path, "c.csv", FILE)
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--owner-map", "zoë quinn=dev",
              "--owner-map", "Max Mustermann=ana"))
    assert owners(crm) == {"a@x.example": "lucia", "b@x.example": "ana", "c@x.example": "dev",
                           "d@x.example": "dev", "e@x.example": "dev", "f@x.example": "ana"}


def test_an_owner_map_to_no_user_is_still_an_error(invoke, crm, tmp_path):
    f = write(tmp_path, "c.csv", FILE)
    line = fails(invoke("prospects", "import", f, "--mapping", PEOPLE, "--owner-map",
                        "Zoë Quinn=nobody", "--owner-map", "Max Mustermann=ana"))
    assert line.startswith("Error: 1 owner in c.csv is no user: 'Zoë Quinn' (2 rows")


def test_create_owners_makes_audited_operators_without_a_password(invoke, crm, tmp_path):
    f = write(tmp_path, "c.csv", FILE)
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners",
                    "--dry-run"))
    assert "  Max Mustermann → max.mustermann (created) (1 row)" in out.splitlines()
    assert "  Zoë Quinn → zoe.quinn (created) (2 rows)" in out.splitlines()
    assert scalar(crm, "SELECT count(*) FROM users") == 3  # a dry run creates nobody
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners"))
    assert out.splitlines()[-1] == "c.csv: 6 rows, 6 inserted, 0 updated, 2 owners created"
    users = query(crm, "SELECT id, username, email, role, full_name, disabled FROM users"
                       " WHERE username NOT IN ('lucia', 'ana', 'dev') ORDER BY id")
    assert [(u["username"], u["email"], u["role"], u["full_name"], u["disabled"])
            for u in users] == [("zoe.quinn", None, "operator", "Zoë Quinn", 0),
                                ("max.mustermann", None, "operator", "Max Mustermann", 0)]
    got = owners(crm)
    assert (got["d@x.example"], got["e@x.example"], got["f@x.example"]) == \
        ("zoe.quinn", "zoe.quinn", "max.mustermann")
    audits = query(crm, "SELECT actor, entity_id, after FROM activities WHERE entity = 'user'"
                        " AND action = 'create' ORDER BY id")
    assert [(a["actor"], a["entity_id"], json.loads(a["after"])["username"]) for a in audits] \
        == [("tester", users[0]["id"], "zoe.quinn"), ("tester", users[1]["id"],
                                                      "max.mustermann")]
    assert json.loads(audits[0]["after"]) == {
        "username": "zoe.quinn", "email": None, "role": "operator", "disabled": False,
        "created_by": "import --create-owners", "full_name": "Zoë Quinn"}
    # and they can sign in to nothing: no password was stored anywhere
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--on-duplicate", "skip"))


def test_owners_named_in_no_latin_letters_get_the_username_owner(invoke, crm, tmp_path):
    f = write(tmp_path, "c.csv", PEOPLE_HEAD + row(1, "a@x.example", "王芳")
              + row(2, "b@x.example", "Σοφία"))
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners",
                    "--dry-run"))
    assert "  王芳 → owner (created) (1 row)" in out.splitlines()
    assert "  Σοφία → owner2 (created) (1 row)" in out.splitlines()
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners"))
    assert owners(crm) == {"a@x.example": "owner", "b@x.example": "owner2"}


def test_owners_are_not_created_when_the_import_fails(invoke, crm, tmp_path):
    f = write(tmp_path, "c.csv", FILE + "7,No,Mail,,,,New Person,Subscriber,,,,,,,,\n")
    result = invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners")
    assert result.exit_code == 1 and "row 8: email '' is required" in result.stderr
    assert scalar(crm, "SELECT count(*) FROM users") == 3
    assert scalar(crm, "SELECT count(*) FROM activities WHERE entity = 'user'") == 0


def test_a_username_wins_over_another_users_full_name(invoke, crm, tmp_path):
    add_user(crm, "max.mustermann", None, None)
    add_user(crm, "maxi", None, "max.mustermann")  # a later user whose name is that username
    f = write(tmp_path, "c.csv", PEOPLE_HEAD + row(1, "a@x.example", "Max.Mustermann"))
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE))
    assert owners(crm) == {"a@x.example": "max.mustermann"}


def test_an_owner_map_may_name_a_users_full_name_or_email(invoke, crm, tmp_path):
    f = write(tmp_path, "c.csv", FILE)
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--owner-map",
              "Zoë Quinn=lucia fernandez", "--owner-map", "Max Mustermann=ANA@team.example"))
    got = owners(crm)
    assert (got["d@x.example"], got["f@x.example"]) == ("lucia", "ana")


def test_a_dry_run_prints_the_plan_before_the_owners_error(invoke, crm, tmp_path):
    f = write(tmp_path, "c.csv", FILE + "7,No,Mail,,,,New Person,Subscriber,,,,,,,,\n")
    result = invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "recognised: Test CRM (people) export (mapping people.toml)"
    assert "  Max Mustermann → no user: --owner-map 'Max Mustermann=USER' or --create-owners" \
           " (1 row)" in lines
    assert lines[-2:] == ["rows to reject: 1",
                          "  row 8: email '' is required (no address in any email column)"]
    assert result.stderr.startswith("Error: 3 owners in c.csv are no user: ")


def test_an_owner_given_as_an_address_gets_the_address_as_username(invoke, crm, tmp_path):
    f = write(tmp_path, "c.csv", PEOPLE_HEAD + row(1, "a@x.example", "Max@New.Example"))
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners",
                    "--dry-run"))
    assert "  Max@New.Example → max@new.example (created) (1 row)" in out.splitlines()
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners"))
    assert owners(crm) == {"a@x.example": "max@new.example"}


def test_a_dry_run_naming_owners_to_create_runs_beside_a_writer(invoke, crm, tmp_path,
                                                               monkeypatch):
    """A dry run only reads: another process holding the write lock does not stop it."""
    import sqlite3

    f = write(tmp_path, "c.csv", FILE)
    monkeypatch.setenv("SALESCLI_BUSY_TIMEOUT_MS", "200")
    writer = sqlite3.connect(crm)
    writer.execute("BEGIN IMMEDIATE")
    try:
        out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners",
                        "--dry-run"))
    finally:
        writer.rollback()
        writer.close()
    assert "  Max Mustermann → max.mustermann (created) (1 row)" in out.splitlines()
    assert out.splitlines()[-1].endswith("2 owners to create")
