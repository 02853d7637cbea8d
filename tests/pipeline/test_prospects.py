"""``salescli prospects add|list|show|update|move|archive`` through the CLI."""

from __future__ import annotations

import json

import pytest

from salescli.core import db, timeutil
from salescli.pipeline import prospects
from tests.support.cli import (
    activities,
    assert_fts_in_sync,
    db_state,
    fails,
    ok,
    query,
    scalar,
)


def emails(invoke, *args) -> list[str]:
    out = ok(invoke("prospects", "list", "--format", "json", *args))
    return [p["email"] for p in json.loads(out)]


def test_add_normalises_email_and_fills_fields(invoke, three):
    p = query(three, "SELECT p.*, s.name AS stage FROM prospects p JOIN stages s"
                     " ON s.id = p.stage_id WHERE p.id = 1")[0]
    assert p["email"] == "ada@example.com"
    assert (p["name"], p["company"], p["owner"], p["value"]) == \
        ("Ada Lovelace", "Analytical Engines", "maria", 5000.0)
    assert json.loads(p["tags"]) == ["vip", "q4"]
    assert p["stage"] == "lead"
    assert p["email_status"] == "ok"
    assert p["created_at"].endswith("Z") and len(p["created_at"]) == 20
    # each add wrote its first stage change
    changes = query(three, "SELECT prospect_id, from_stage_id, to_stage_id, actor"
                           " FROM stage_changes ORDER BY id")
    assert [(c["prospect_id"], c["from_stage_id"], c["actor"]) for c in changes] == \
        [(1, None, "tester"), (2, None, "tester"), (3, None, "tester")]
    # and its audit row: the prospect created, by whom, with what
    [created] = activities(three, action="create", entity="prospect", entity_id=1)
    assert (created["actor"], created["prospect_id"], created["before"]) == ("tester", 1, None)
    assert created["after"]["email"] == "ada@example.com"


def test_add_prints_a_line_or_the_object(invoke, sales):
    assert ok(invoke("prospects", "add", "a@example.com")) == "added #1 a@example.com (lead)\n"
    obj = json.loads(ok(invoke("prospects", "add", "b@example.com", "--format", "json")))
    assert obj["email"] == "b@example.com" and obj["stage"] == "lead" and obj["tags"] == []


def test_list_table_shows_people(invoke, three):
    out = ok(invoke("prospects", "list"))
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "email", "name"]
    assert len(lines) == 2 + 3
    assert "ada@example.com" in out and "Initech" in out


def test_list_empty_says_so_on_stderr(invoke, sales):
    result = invoke("prospects", "list")
    assert ok(result) == ""
    assert "No prospects match" in result.stderr


@pytest.mark.parametrize("args, expected", [
    ((), ["ada@example.com", "bob@example.org", "cy@example.net"]),
    (("--stage", "lead"), ["ada@example.com", "cy@example.net"]),
    (("--stage", "CONTACTED"), ["bob@example.org"]),
    (("--stage", "won"), []),
    (("--owner", "maria"), ["ada@example.com"]),
    (("--owner", "nobody"), []),
    (("--tag", "vip"), ["ada@example.com"]),
    (("--tag", "VIP"), ["ada@example.com"]),
    (("--tag", "inbound"), ["bob@example.org"]),
    (("--email-status", "ok"), ["ada@example.com", "bob@example.org", "cy@example.net"]),
    (("--email-status", "bounced_hard"), []),
    (("--search", "lovelace"), ["ada@example.com"]),
    (("--search", "initech"), ["bob@example.org"]),
    (("--search", "difference"), ["ada@example.com"]),  # notes
    (("--search", "example.net"), ["cy@example.net"]),
    (("--search", "bab"), ["bob@example.org"]),  # prefix
    (("--search", 'ada" OR "bob'), []),  # user input is never FTS syntax
    (("--sort", "-value"), ["ada@example.com", "bob@example.org", "cy@example.net"]),
    (("--sort", "value"), ["cy@example.net", "bob@example.org", "ada@example.com"]),
    (("--sort", "name"), ["ada@example.com", "bob@example.org", "cy@example.net"]),
    (("--sort", "-id"), ["cy@example.net", "bob@example.org", "ada@example.com"]),
    (("--sort", "stage"), ["ada@example.com", "cy@example.net", "bob@example.org"]),
    (("--limit", "2"), ["ada@example.com", "bob@example.org"]),
    (("--limit", "2", "--offset", "1"), ["bob@example.org", "cy@example.net"]),
    (("--offset", "2"), ["cy@example.net"]),
    (("--limit", "0"), []),
    (("--stage", "lead", "--owner", "maria", "--tag", "q4"), ["ada@example.com"]),
    (("--archived",), []),
])
def test_list_filters(invoke, three, args, expected):
    assert emails(invoke, *args) == expected


def test_an_unknown_sort_key_names_the_option_and_the_keys(invoke, three):
    line = fails(invoke("prospects", "list", "--sort", "shoe-size"))
    assert line.startswith("Error: --sort 'shoe-size' is not a sort key (")
    assert "value" in line and "name" in line


def test_list_email_status_after_bounce(invoke, three):
    ok(invoke("prospects", "update", "bob@example.org", "--email-status", "bounced_hard"))
    assert emails(invoke, "--email-status", "bounced_hard") == ["bob@example.org"]
    assert emails(invoke, "--email-status", "ok") == ["ada@example.com", "cy@example.net"]


def test_list_stale(invoke, sales):
    conn = db.open_write(sales)
    old = "2020-01-01T00:00:00Z"
    prospects.add(conn, "t", "old@example.com", at=old)
    prospects.add(conn, "t", "talked@example.com", at=old)
    prospects.add(conn, "t", "closed@example.com", at=old)
    conn.close()
    ok(invoke("prospects", "add", "new@example.com"))
    ok(invoke("log", "talked@example.com", "--kind", "call", "--at", "2d"))
    ok(invoke("prospects", "move", "closed@example.com", "lost", "--reason", "no budget"))
    assert emails(invoke, "--stale", "30") == ["old@example.com"]
    assert emails(invoke, "--stale", "1") == ["old@example.com", "talked@example.com"]


def test_search_follows_update_and_delete(invoke, three):
    assert emails(invoke, "--search", "lovelace") == ["ada@example.com"]
    ok(invoke("prospects", "update", "ada@example.com", "--name", "Ada Byron",
              "--company", "Engines Ltd"))
    assert emails(invoke, "--search", "lovelace") == []
    assert emails(invoke, "--search", "analytical") == []
    assert emails(invoke, "--search", "byron") == ["ada@example.com"]
    ok(invoke("prospects", "update", "ada@example.com", "--email", "countess@example.com"))
    assert emails(invoke, "--search", "ada@example.com") == []
    assert emails(invoke, "--search", "countess") == ["countess@example.com"]
    assert emails(invoke, "--search", "countess@example.com") == ["countess@example.com"]
    ok(invoke("prospects", "archive", "countess@example.com", "--hard", "--yes"))
    assert emails(invoke, "--search", "byron") == []
    assert emails(invoke, "--search", "byron", "--archived") == []
    assert query(three, "SELECT rowid FROM prospects_fts WHERE prospects_fts MATCH 'byron'") \
        == []
    assert scalar(three, "SELECT count(*) FROM prospects_fts") == 2
    assert_fts_in_sync(three)


def test_show_json_shape(invoke, three):
    ok(invoke("prospects", "move", "ada@example.com", "contacted", "--note", "sent intro"))
    ok(invoke("log", "ada@example.com", "--kind", "call", "--body", "liked it",
              "--at", "2030-01-01T10:00:00Z"))
    ok(invoke("log", "ada@example.com", "--kind", "note", "--body", "early",
              "--at", "2001-01-01"))
    obj = json.loads(ok(invoke("prospects", "show", "ada@example.com", "--format", "json")))
    assert isinstance(obj, dict)
    assert obj["id"] == 1 and obj["email"] == "ada@example.com"
    assert obj["stage"] == "contacted"
    assert obj["email_status"] == "ok"
    assert obj["tags"] == ["vip", "q4"]
    assert obj["value"] == 5000
    timeline = obj["timeline"]
    assert isinstance(timeline, list)
    stamps = [e["at"] for e in timeline]
    assert stamps == sorted(stamps)
    assert timeline[0]["type"] == "interaction" and timeline[0]["body"] == "early"
    assert timeline[-1]["type"] == "interaction" and timeline[-1]["kind"] == "call"
    moves = [e for e in timeline if e["type"] == "stage_change"]
    assert [(e["from"], e["to"]) for e in moves] == [(None, "lead"), ("lead", "contacted")]
    assert moves[1]["note"] == "sent intro" and moves[1]["actor"] == "tester"
    assert {e["type"] for e in timeline} == {"stage_change", "interaction", "activity"}
    # the same prospect by id
    same = json.loads(ok(invoke("prospects", "show", "1", "--format", "json")))
    assert same == obj


def test_show_table_and_csv(invoke, three):
    ok(invoke("prospects", "move", "2", "meeting", "--note", "booked"))
    out = ok(invoke("prospects", "show", "bob@example.org"))
    assert "Bob Babbage" in out and "contacted → meeting (note: booked)" in out
    csv_out = ok(invoke("prospects", "show", "2", "--format", "csv"))
    assert csv_out.splitlines()[0] == "at,type,what,actor"
    assert "contacted → meeting (note: booked)" in csv_out


def test_list_json_has_no_timeline_and_nl_is_one_object_a_line(invoke, three):
    rows = json.loads(ok(invoke("prospects", "list", "--format", "json")))
    assert isinstance(rows, list) and len(rows) == 3
    for row in rows:
        assert "timeline" not in row
        assert isinstance(row["tags"], list)
        assert row["stage"] in ("lead", "contacted")
    lines = ok(invoke("prospects", "list", "--format", "nl")).splitlines()
    assert [json.loads(line) for line in lines] == rows
    assert json.loads(ok(invoke("prospects", "list", "--format", "json", "--stage", "won"))) \
        == []


def test_update_records_only_changed_fields(invoke, three):
    out = ok(invoke("prospects", "update", "cy@example.net", "--company", "Young & Co",
                    "--owner", "dev", "--value", "", "--tag", "hot", "--source", "event"))
    assert out == "updated #3 cy@example.net (lead)\n"
    p = query(three, "SELECT * FROM prospects WHERE id = 3")[0]
    assert (p["company"], p["owner"], p["value"], p["source"]) == \
        ("Young & Co", "dev", None, "event")
    assert json.loads(p["tags"]) == ["hot"]
    last = activities(three)[-1]
    assert (last["action"], last["entity"], last["entity_id"], last["actor"]) == \
        ("update", "prospect", 3, "tester")
    # empty → value is a change as much as value → empty
    assert last["before"] == {"company": None, "owner": None, "value": 300.0, "tags": [],
                              "source": None}
    assert last["after"] == {"company": "Young & Co", "owner": "dev", "value": None,
                             "tags": ["hot"], "source": "event"}



def test_update_sets_a_value_and_currency(invoke, three):
    ok(invoke("prospects", "update", "bob@example.org", "--value", "2,500.50",
              "--currency", "eur"))
    p = query(three, "SELECT value, currency FROM prospects WHERE email = 'bob@example.org'")[0]
    assert (p["value"], p["currency"]) == (2500.5, "EUR")
    last = activities(three)[-1]
    assert (last["before"], last["after"]) == ({"value": 1200.0, "currency": "USD"},
                                               {"value": 2500.5, "currency": "EUR"})

def test_update_untag_and_no_op(invoke, three):
    ok(invoke("prospects", "update", "1", "--untag", "VIP"))
    assert json.loads(scalar(three, "SELECT tags FROM prospects WHERE id = 1")) == ["q4"]
    assert emails(invoke, "--tag", "vip") == []
    n = len(activities(three))
    before = db_state(three)
    ok(invoke("prospects", "update", "1", "--name", "Ada Lovelace"))  # same value
    assert db_state(three) == before
    assert len(activities(three)) == n


def test_update_email_status_ok_clears_bounce_reason(invoke, three, conn):
    prospects.set_fields(conn, "monitor", 2, {"email_status": "bounced_hard",
                                              "bounce_reason": "550 no such user"})
    ok(invoke("prospects", "update", "2", "--email-status", "ok"))
    row = query(three, "SELECT email_status, bounce_reason FROM prospects WHERE id = 2")[0]
    assert row == {"email_status": "ok", "bounce_reason": None}
    last = activities(three)[-1]
    assert last["before"] == {"email_status": "bounced_hard", "bounce_reason": "550 no such user"}
    assert last["after"] == {"email_status": "ok", "bounce_reason": None}


def test_move_writes_history_and_audit(invoke, three):
    out = ok(invoke("--as", "maria", "prospects", "move", "ada@example.com", "Contacted",
                    "--note", "intro sent"))
    assert out == "ada@example.com: lead → contacted\n"
    change = query(three, "SELECT * FROM stage_changes ORDER BY id DESC LIMIT 1")[0]
    assert (change["prospect_id"], change["from_stage_id"], change["to_stage_id"]) == (1, 1, 2)
    assert (change["actor"], change["owner"], change["note"], change["value"]) == \
        ("maria", "maria", "intro sent", 5000.0)
    p = query(three, "SELECT stage_entered_at, updated_at FROM prospects WHERE id = 1")[0]
    assert p["stage_entered_at"] == change["at"]
    last = activities(three)[-1]
    assert (last["actor"], last["action"], last["before"], last["after"]) == \
        ("maria", "move", {"stage": "lead"}, {"stage": "contacted", "note": "intro sent"})


def test_move_to_same_stage_writes_nothing(invoke, three):
    before = db_state(three)
    assert "already in lead" in ok(invoke("prospects", "move", "1", "lead"))
    assert db_state(three) == before


@pytest.mark.parametrize("stage", ["won", "lost"])
def test_won_and_lost_need_a_reason(invoke, three, stage):
    before = db_state(three)
    fails(invoke("prospects", "move", "1", stage), "--reason", stage)
    fails(invoke("prospects", "move", "1", stage, "--reason", "  "), "--reason")
    assert db_state(three) == before
    ok(invoke("prospects", "move", "1", stage, "--reason", "budget signed"))
    change = query(three, "SELECT * FROM stage_changes ORDER BY id DESC LIMIT 1")[0]
    assert change["reason"] == "budget signed"
    assert activities(three)[-1]["after"] == {"stage": stage, "reason": "budget signed"}
    # closed prospects are not stale and show in the stage list
    assert emails(invoke, "--stage", stage) == ["ada@example.com"]


def test_archive_and_restore(invoke, three):
    assert ok(invoke("prospects", "archive", "bob@example.org")) == \
        "archived bob@example.org\n"
    assert emails(invoke) == ["ada@example.com", "cy@example.net"]
    assert emails(invoke, "--archived") == ["bob@example.org"]
    stage_counts = {s["name"]: s["prospects"]
                    for s in json.loads(ok(invoke("stages", "list", "--format", "json")))}
    assert stage_counts["contacted"] == 0
    n = len(activities(three))
    ok(invoke("prospects", "archive", "bob@example.org"))  # already archived: nothing new
    assert len(activities(three)) == n
    assert ok(invoke("prospects", "archive", "2", "--restore")) == "restored bob@example.org\n"
    assert emails(invoke) == ["ada@example.com", "bob@example.org", "cy@example.net"]
    acts = activities(three, entity_id=2, entity="prospect")
    assert [(a["action"], a["after"]["archived_at"] is None) for a in acts[-2:]] == \
        [("archive", False), ("restore", True)]
    # the archived prospect kept its history and can still be shown
    show = json.loads(ok(invoke("prospects", "show", "2", "--format", "json")))
    assert show["archived_at"] is None
    assert any(e.get("action") == "archive" for e in show["timeline"])


def test_hard_archive_asks_then_deletes_everything_but_the_audit(invoke, three):
    ok(invoke("log", "1", "--kind", "note", "--body", "x"))
    before = db_state(three)
    result = invoke("prospects", "archive", "1", "--hard", input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert db_state(three) == before
    result = invoke("prospects", "archive", "1", "--hard", input="y\n")
    assert ok(result).endswith("deleted ada@example.com\n")
    for table in ("prospects", "interactions", "stage_changes", "prospect_tags"):
        assert scalar(three, f"SELECT count(*) FROM {table} WHERE"
                             f" {'id' if table == 'prospects' else 'prospect_id'} = 1") == 0
    last = activities(three)[-1]
    assert (last["action"], last["entity_id"], last["before"]["email"], last["after"]) == \
        ("delete", 1, "ada@example.com", None)
    fails(invoke("prospects", "show", "1"), "prospect '1' not found")
    assert_fts_in_sync(three)


def test_log_interactions_appear_in_show_and_touch_the_prospect(invoke, three):
    out = ok(invoke("log", "bob@example.org", "--kind", "email", "--subject", "Proposal v2",
                    "--body", "attached", "--at", "2024-06-01T12:00:00Z"))
    assert out == "logged email_out #1 at 2024-06-01T12:00:00Z\n"
    ok(invoke("log", "2", "--kind", "note", "--body", "internal only", "--at", "2024-06-05"))
    row = query(three, "SELECT last_contacted_at, last_interaction_at FROM prospects"
                       " WHERE id = 2")[0]
    # a note is an interaction but not a contact
    assert row == {"last_contacted_at": "2024-06-01T12:00:00Z",
                   "last_interaction_at": "2024-06-05T00:00:00Z"}
    got = query(three, "SELECT kind, subject, body, owner, actor FROM interactions ORDER BY id")
    assert got == [
        {"kind": "email_out", "subject": "Proposal v2", "body": "attached", "owner": "dev",
         "actor": "tester"},
        {"kind": "note", "subject": None, "body": "internal only", "owner": "dev",
         "actor": "tester"},
    ]
    # each logged interaction is audited in bob's history
    created = activities(three, entity="interaction", action="create")
    assert [(a["prospect_id"], a["after"]["kind"]) for a in created] == \
        [(2, "email_out"), (2, "note")]
    show = ok(invoke("prospects", "show", "2"))
    assert "email_out: Proposal v2" in show and "note: internal only" in show
    nl = ok(invoke("prospects", "show", "2", "--format", "nl"))
    assert nl.count("\n") == 1
    assert json.loads(nl) == json.loads(ok(invoke("prospects", "show", "2", "--format",
                                                  "json")))
    started = timeutil.now()
    ok(invoke("log", "2", "--kind", "call"))  # default time: now
    assert started <= scalar(three, "SELECT occurred_at FROM interactions WHERE id = 3") \
        <= timeutil.now()


@pytest.mark.parametrize("limit, offset, shown", [(-1, 0, "-1"), (5, -2, "5")])
def test_the_library_refuses_a_negative_limit_or_offset_naming_the_option(three, limit,
                                                                         offset, shown):
    from salescli.core.errors import InvalidValue

    conn = db.connect(three)
    with pytest.raises(InvalidValue) as refused:
        list(prospects.list_prospects(conn, limit=limit, offset=offset))
    conn.close()
    assert str(refused.value) == f"--limit {shown} and --offset must be ≥ 0"
