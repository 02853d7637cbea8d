"""A prospect's other addresses (issue 16): the library API, the migration, the one-owner
rule, and what ``show``, ``export``, ``update``, ``merge`` and ``forget`` do with them."""

from __future__ import annotations

import csv
import io
import json

import pytest

from salescli.core import db
from salescli.core.errors import Conflict, InvalidValue, NotFound
from salescli.pipeline import addresses
from salescli.pipeline import prospects as lib
from tests.support.cli import activities, database_before, fails, ok, query, scalar


def test_add_normalises_dedupes_skips_primary_and_audits(conn):
    ada = lib.add(conn, "t", "ada@example.com")
    added = addresses.add(conn, "ana", ada["id"], [" Ada@Home.Example ", "ada@home.example",
                                                   "ADA@example.com", "", "a2@work.example"])
    assert added == ["ada@home.example", "a2@work.example"]
    assert addresses.of(conn, ada["id"]) == ["ada@home.example", "a2@work.example"]
    act = conn.execute("SELECT actor, action, entity, entity_id, prospect_id, before, after"
                       " FROM activities WHERE action = 'add-email'").fetchall()
    assert [(*a[:6], json.loads(a[6])) for a in act] == \
        [("ana", "add-email", "prospect", ada["id"], ada["id"], None, {"other_emails": added})]
    # adding them again changes nothing and writes no activity
    assert addresses.add(conn, "ana", ada["id"], ["ada@home.example"]) == []
    assert scalar_conn(conn, "SELECT count(*) FROM activities WHERE action = 'add-email'") == 1


def scalar_conn(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


def test_an_address_belongs_to_one_prospect_only(conn):
    ada = lib.add(conn, "t", "ada@example.com")
    bob = lib.add(conn, "t", "bob@example.com")
    addresses.add(conn, "t", ada["id"], ["shared@example.com"])
    # another prospect's primary or other address is skipped, or a Conflict when strict
    assert addresses.add(conn, "t", bob["id"], ["ada@example.com", "shared@example.com",
                                                "free@example.com"]) == ["free@example.com"]
    with pytest.raises(Conflict, match=f"'shared@example.com' already belongs to prospect "
                                       f"#{ada['id']}"):
        addresses.add(conn, "t", bob["id"], ["new@example.com", "shared@example.com"],
                      strict=True)
    assert addresses.of(conn, bob["id"]) == ["free@example.com"]  # nothing half-written
    # an other address cannot become a primary one, by add or by update
    with pytest.raises(Conflict, match="other address of prospect"):
        lib.add(conn, "t", "Shared@example.com")
    with pytest.raises(Conflict, match="other address of prospect"):
        lib.update(conn, "t", bob["id"], {"email": "shared@example.com"})
    assert lib.resolve(conn, bob["id"])["email"] == "bob@example.com"


def test_promoting_an_own_other_address_takes_it_off_the_list(conn):
    ada = lib.add(conn, "t", "ada@example.com")
    addresses.add(conn, "t", ada["id"], ["ada@home.example", "ada@work.example"])
    lib.update(conn, "t", ada["id"], {"email": "ada@home.example"})
    assert lib.resolve(conn, ada["id"])["email"] == "ada@home.example"
    assert addresses.of(conn, ada["id"]) == ["ada@work.example"]


def test_bad_address_is_an_error_and_writes_nothing(conn):
    ada = lib.add(conn, "t", "ada@example.com")
    with pytest.raises(InvalidValue, match="'not an address' is not a valid email"):
        addresses.add(conn, "t", ada["id"], ["ok@example.com", "not an address"])
    assert addresses.of(conn, ada["id"]) == []
    with pytest.raises(NotFound, match="^prospect 999 not found"):
        addresses.add(conn, "t", 999, ["x@example.com"])


def test_add_at_a_given_time_dates_the_rows_and_the_audit(conn):
    ada = lib.add(conn, "t", "ada@example.com")
    addresses.add(conn, "import", ada["id"], ["a1@example.com"], at="2024-01-02T03:04:05Z")
    assert conn.execute("SELECT created_at FROM prospect_addresses").fetchone()[0] == \
        "2024-01-02T03:04:05Z"
    assert conn.execute("SELECT at FROM activities WHERE action = 'add-email'"
                        ).fetchone()[0] == "2024-01-02T03:04:05Z"


def test_prospect_for_finds_primary_and_other_addresses(conn):
    ada = lib.add(conn, "t", "ada@example.com")
    bob = lib.add(conn, "t", "bob@example.com")
    addresses.add(conn, "t", ada["id"], ["ada@home.example", "zz@home.example"])
    many = [f"nobody{i}@example.com" for i in range(900)]  # more than one chunk
    found = addresses.prospect_for(conn, ["ada@example.com", "ada@home.example",
                                          "bob@example.com", *many, "zz@home.example"])
    assert found == {"ada@example.com": ada["id"], "ada@home.example": ada["id"],
                     "bob@example.com": bob["id"], "zz@home.example": ada["id"]}


def test_remove_is_audited_and_strict_about_unknown_addresses(conn):
    ada = lib.add(conn, "t", "ada@example.com")
    addresses.add(conn, "t", ada["id"], ["a1@example.com", "a2@example.com"])
    with pytest.raises(NotFound, match=f"other address of prospect #{ada['id']} "
                                       "'a9@example.com' not found"):
        addresses.remove(conn, "t", ada["id"], ["a1@example.com", "a9@example.com"])
    assert addresses.of(conn, ada["id"]) == ["a1@example.com", "a2@example.com"]
    assert addresses.remove(conn, "u", ada["id"], ["A1@example.com"]) == ["a1@example.com"]
    assert addresses.of(conn, ada["id"]) == ["a2@example.com"]
    row = conn.execute("SELECT actor, entity, entity_id, prospect_id, after, before"
                       " FROM activities WHERE action = 'remove-email'").fetchone()
    assert (*row[:5], json.loads(row[5])) == \
        ("u", "prospect", ada["id"], ada["id"], None, {"other_emails": ["a1@example.com"]})


def test_deleting_a_prospect_deletes_its_addresses(conn):
    ada = lib.add(conn, "t", "ada@example.com")
    addresses.add(conn, "t", ada["id"], ["a1@example.com"])
    lib.delete(conn, "t", ada["id"])
    assert scalar_conn(conn, "SELECT count(*) FROM prospect_addresses") == 0


def test_m008_upgrades_a_version_7_database(tmp_path):
    path = tmp_path / "old.db"
    conn = database_before(path, "m008_crm")
    ts = "2024-01-02T03:04:05Z"
    conn.execute("INSERT INTO stages(name, position, kind, created_at)"
                 " VALUES ('lead', 0, 'open', ?)", (ts,))
    conn.execute("INSERT INTO prospects(email, stage_id, value, stage_entered_at, created_at,"
                 " updated_at) VALUES ('old@example.com', 1, 10, ?, ?, ?)", (ts, ts, ts))
    conn.execute("INSERT INTO users(username, role, created_at, updated_at)"
                 " VALUES ('ana', 'admin', ?, ?)", (ts, ts))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    conn.close()
    conn = db.open_write(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    assert conn.execute("SELECT currency FROM prospects").fetchone()[0] is None
    assert conn.execute("SELECT full_name FROM users").fetchone()[0] is None
    assert lib.resolve(conn, "old@example.com")["currency"] == "USD"
    addresses.add(conn, "t", 1, ["old@home.example"])
    assert addresses.prospect_for(conn, ["old@home.example"]) == {"old@home.example": 1}
    with pytest.raises(Exception, match="CHECK"):
        conn.execute("UPDATE prospects SET currency = 'eur'")
    conn.close()


# --- the CLI -----------------------------------------------------------------------------


def test_update_adds_and_removes_addresses_and_show_lists_them(invoke, three):
    ok(invoke("prospects", "update", "ada@example.com", "--add-email", "Ada@Home.Example",
              "--add-email", "ada@work.example"))
    shown = json.loads(ok(invoke("prospects", "show", "1", "--format", "json")))
    assert shown["other_emails"] == ["ada@home.example", "ada@work.example"]
    text = ok(invoke("prospects", "show", "1"))
    assert "ada@home.example, ada@work.example" in text
    # show, move and log find the prospect by an other address too
    assert json.loads(ok(invoke("prospects", "show", "ada@work.example", "--format",
                                "json")))["id"] == 1
    ok(invoke("prospects", "update", "1", "--remove-email", "ada@home.example"))
    assert json.loads(ok(invoke("prospects", "show", "1", "--format", "json"))
                      )["other_emails"] == ["ada@work.example"]
    actions = [a["action"] for a in activities(three) if a["prospect_id"] == 1]
    assert actions[-2:] == ["add-email", "remove-email"]


def test_update_address_errors_are_one_line_and_write_nothing(invoke, three):
    before = query(three, "SELECT * FROM activities")
    fails(invoke("prospects", "update", "1", "--add-email", "bob@example.org"),
          "'bob@example.org' already belongs to prospect #2")
    fails(invoke("prospects", "update", "1", "--add-email", "nope"),
          "email 'nope' is not a valid email address")
    fails(invoke("prospects", "update", "1", "--remove-email", "x@example.com"),
          "x@example.com", "not found")
    # a field change with a bad address is not half-done either
    fails(invoke("prospects", "update", "1", "--name", "Changed", "--add-email", "nope"),
          "nope")
    assert scalar(three, "SELECT name FROM prospects WHERE id = 1") == "Ada Lovelace"
    assert query(three, "SELECT * FROM activities") == before
    assert scalar(three, "SELECT count(*) FROM prospect_addresses") == 0


def test_export_has_other_emails_csv_joined_json_list(invoke, three):
    ok(invoke("prospects", "update", "1", "--add-email", "a1@example.com", "--add-email",
              "a2@example.com"))
    rows = list(csv.DictReader(io.StringIO(ok(invoke("prospects", "export")))))
    assert rows[0]["other_emails"] == "a1@example.com;a2@example.com"
    assert rows[1]["other_emails"] == ""
    data = json.loads(ok(invoke("prospects", "export", "--format", "json")))
    assert data[0]["other_emails"] == ["a1@example.com", "a2@example.com"]
    assert data[1]["other_emails"] == []
    header = ok(invoke("prospects", "export")).splitlines()[0].split(",")
    assert "other_emails" in header and "currency" in header


def test_merge_moves_addresses(invoke, three):
    ok(invoke("prospects", "update", "1", "--add-email", "ada@home.example"))
    ok(invoke("prospects", "update", "2", "--add-email", "bob@home.example"))
    ok(invoke("prospects", "merge", "1", "2"))
    assert json.loads(ok(invoke("prospects", "show", "1", "--format", "json"))
                      )["other_emails"] == ["ada@home.example", "bob@home.example"]
    assert scalar(three, "SELECT prospect_id FROM prospect_addresses"
                         " WHERE email = 'bob@home.example'") == 1
    merge = [a for a in activities(three) if a["action"] == "merge"][0]
    assert merge["after"]["other_emails_moved"] == ["bob@home.example"]
    # OTHER's primary address is free again (a mistaken merge is undone by adding it)
    ok(invoke("prospects", "add", "bob@example.org"))


def test_forget_removes_other_addresses_and_their_traces(invoke, three):
    ok(invoke("prospects", "update", "1", "--add-email", "ada@home.example"))
    ok(invoke("prospects", "update", "2", "--notes", "knows ada@home.example"))
    ok(invoke("prospects", "forget", "ada@example.com", "--yes"))
    assert scalar(three, "SELECT count(*) FROM prospect_addresses") == 0
    assert scalar(three, "SELECT count(*) FROM prospects WHERE id = 1") == 0
    dump = json.dumps(query(three, "SELECT before, after FROM activities"))
    assert "ada@home.example" not in dump and "ada@example.com" not in dump


def test_forget_by_an_other_address_erases_the_person(invoke, three):
    ok(invoke("prospects", "update", "1", "--add-email", "ada@home.example"))
    ok(invoke("prospects", "forget", "ada@home.example", "--yes"))
    assert scalar(three, "SELECT count(*) FROM prospects WHERE id = 1") == 0
    assert scalar(three, "SELECT count(*) FROM prospect_addresses") == 0
    dump = json.dumps(query(three, "SELECT before, after FROM activities"))
    assert "ada@home.example" not in dump and "ada@example.com" not in dump
    assert "Ada Lovelace" not in dump
