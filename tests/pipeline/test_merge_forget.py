"""``prospects merge`` keeps history; ``prospects forget`` erases a person everywhere."""

from __future__ import annotations

import gc
import json

import pytest

from tests.support.cli import (
    activities,
    assert_fts_in_sync,
    cli_process,
    connect,
    db_state,
    fails,
    ok,
    query,
    scalar,
)


@pytest.fixture
def twins(invoke, three):
    """Ada again under a second address (#4), with her own interactions and moves."""
    ok(invoke("prospects", "add", "ada.lovelace@home.example", "--name", "Ada L.",
              "--company", "Home Office", "--tag", "vip", "--tag", "event",
              "--source", "conference"))
    ok(invoke("prospects", "move", "4", "contacted", "--note", "met at the show"))
    ok(invoke("log", "4", "--kind", "email", "--subject", "slides", "--at", "2024-05-01"))
    ok(invoke("log", "4", "--kind", "meeting", "--body", "coffee", "--at", "2024-05-03"))
    ok(invoke("log", "1", "--kind", "call", "--body", "intro call", "--at", "2024-04-01"))
    return three


def test_merge_moves_history_to_keep_and_leaves_old_audit_alone(invoke, twins):
    old_activities = query(twins, "SELECT * FROM activities ORDER BY id")
    other_changes = scalar(twins, "SELECT count(*) FROM stage_changes WHERE prospect_id = 4")
    assert other_changes == 2
    out = ok(invoke("--as", "boss", "prospects", "merge", "ada@example.com",
                    "ada.lovelace@home.example"))
    assert out == "merged into #1 ada@example.com (lead)\n"

    assert scalar(twins, "SELECT count(*) FROM prospects WHERE id = 4") == 0
    assert scalar(twins, "SELECT count(*) FROM interactions WHERE prospect_id = 4") == 0
    assert scalar(twins, "SELECT count(*) FROM stage_changes WHERE prospect_id = 4") == 0
    assert scalar(twins, "SELECT count(*) FROM interactions WHERE prospect_id = 1") == 3
    assert scalar(twins, "SELECT count(*) FROM stage_changes WHERE prospect_id = 1") == 1 + 2

    # existing audit rows are not rewritten, exactly one new one names both
    assert query(twins, "SELECT * FROM activities ORDER BY id")[:len(old_activities)] \
        == old_activities
    new = activities(twins)[len(old_activities):]
    assert len(new) == 1
    merge = new[0]
    assert (merge["action"], merge["entity"], merge["entity_id"], merge["actor"]) == \
        ("merge", "prospect", 1, "boss")
    assert merge["before"]["keep"]["email"] == "ada@example.com"
    assert merge["before"]["other"]["email"] == "ada.lovelace@home.example"
    assert merge["before"]["other"]["id"] == 4
    assert merge["after"]["merged_id"] == 4
    assert merge["after"]["interactions_moved"] == 2
    assert merge["after"]["stage_changes_moved"] == 2

    # KEEP keeps its own fields, fills empty ones, unions tags
    show = json.loads(ok(invoke("prospects", "show", "1", "--format", "json")))
    assert show["name"] == "Ada Lovelace" and show["company"] == "Analytical Engines"
    assert show["source"] == "conference"
    assert show["tags"] == ["vip", "q4", "event"]
    assert show["stage"] == "lead"
    kinds = [e.get("kind") for e in show["timeline"] if e["type"] == "interaction"]
    assert kinds == ["call", "email_out", "meeting"]  # oldest first, both people's
    notes = [e["note"] for e in show["timeline"] if e["type"] == "stage_change"]
    assert "met at the show" in notes
    assert emails_tagged(invoke, "event") == ["ada@example.com"]
    assert json.loads(ok(invoke("prospects", "list", "--search", "home.example", "--format",
                                "json"))) == []
    assert_fts_in_sync(twins)


def emails_tagged(invoke, tag):
    return [p["email"] for p in json.loads(ok(invoke("prospects", "list", "--tag", tag,
                                                     "--format", "json")))]


def test_merge_keeps_the_newest_contact_stamps(invoke, twins):
    ok(invoke("prospects", "merge", "1", "4"))
    p = query(twins, "SELECT last_interaction_at, last_contacted_at FROM prospects"
                     " WHERE id = 1")[0]
    assert p["last_interaction_at"] == "2024-05-03T00:00:00Z"
    assert p["last_contacted_at"] == "2024-05-03T00:00:00Z"


def test_merge_json_output(invoke, twins):
    obj = json.loads(ok(invoke("prospects", "merge", "1", "4", "--format", "json")))
    assert obj["id"] == 1 and obj["tags"] == ["vip", "q4", "event"]


def _all_bytes(db_file) -> bytes:
    gc.collect()  # close connections the in-process CLI runs left behind
    data = b""
    for suffix in ("", "-wal", "-journal"):
        side = db_file.with_name(db_file.name + suffix)
        if side.exists():
            data += side.read_bytes()
    return data


def test_forget_erases_the_person_everywhere(invoke, twins):
    # Ada was once merged into Bob's record by mistake and added again: Bob's merge
    # activity carries her old record, which must go too.
    ok(invoke("prospects", "update", "bob@example.org", "--notes", "budget in Q3"))
    ok(invoke("prospects", "merge", "bob@example.org", "ada@example.com"))
    ok(invoke("prospects", "add", "ada@example.com", "--name", "Ada Lovelace", "--company",
              "Analytical Engines", "--notes", "prefers Quillfeather ink", "--tag", "vip"))
    ok(invoke("log", "ada@example.com", "--kind", "call", "--body", "asked about Quillfeather"))
    ok(invoke("prospects", "move", "ada@example.com", "contacted"))
    pid = scalar(twins, "SELECT id FROM prospects WHERE email = 'ada@example.com'")
    assert pid == 5
    assert b"ada@example.com" in _all_bytes(twins)
    untouched = "SELECT * FROM activities WHERE coalesce(prospect_id, 0) NOT IN (1, 5)" \
        " AND action NOT IN ('merge', 'forget') ORDER BY id"
    others_before = query(twins, untouched)
    bob_before = query(twins, "SELECT * FROM prospects WHERE id = 2")[0]
    twin_before = query(twins, "SELECT * FROM prospects WHERE id = 4")[0]

    result = invoke("--as", "dpo", "prospects", "forget", "ADA@example.com", input="y\n")
    assert "forgot ADA@example.com" in ok(result)

    for table, col in (("prospects", "id"), ("interactions", "prospect_id"),
                       ("stage_changes", "prospect_id"), ("prospect_tags", "prospect_id"),
                       ("notifications", "prospect_id")):
        assert scalar(twins, f"SELECT count(*) FROM {table} WHERE {col} = 5") == 0, table
    for word in ("lovelace", "ada", "quillfeather", "analytical", "difference"):
        hits = {r["rowid"] for r in query(
            twins, "SELECT rowid FROM prospects_fts WHERE prospects_fts MATCH ?", (word,))}
        assert hits <= {4}, (word, hits)  # #4 is another record (ada.lovelace@home…)
    fails(invoke("prospects", "show", "ada@example.com"), "not found")
    assert json.loads(ok(invoke("prospects", "list", "--search", "quillfeather", "--format",
                                "json"))) == []
    dump = json.dumps(query(twins, "SELECT * FROM activities")).lower()
    for needle in ("ada@example.com", "ada lovelace", "quillfeather", "analytical engines",
                   "difference engines"):
        assert needle not in dump, needle
    # Bob's merge activity keeps Bob, loses her
    merge = activities(twins, action="merge")[0]
    assert merge["prospect_id"] == 2
    assert merge["before"]["keep"]["email"] == "bob@example.org"
    assert merge["before"]["other"]["id"] == 1
    assert merge["after"]["email"] == "bob@example.org"
    # everything about other people is untouched
    assert query(twins, untouched) == others_before
    assert query(twins, "SELECT * FROM prospects WHERE id = 2")[0] == bob_before
    assert query(twins, "SELECT * FROM prospects WHERE id = 4")[0] == twin_before
    assert_fts_in_sync(twins)

    # a tombstone records that it happened, without personal data
    tomb = activities(twins)[-1]
    assert (tomb["action"], tomb["entity"], tomb["entity_id"], tomb["actor"]) == \
        ("forget", "prospect", 5, "dpo")
    assert tomb["prospect_id"] is None and tomb["before"] is None
    assert "ada" not in json.dumps(tomb).lower()

    # and no copy is left in the file or its write-ahead log
    raw = _all_bytes(twins).lower()
    for needle in (b"ada@example.com", b"ada lovelace", b"quillfeather", b"analytical engines",
                   b"difference engines"):
        assert needle not in raw, needle


def test_forget_asks_first(invoke, twins):
    before = db_state(twins)
    result = invoke("prospects", "forget", "ada@example.com", input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert db_state(twins) == before


def test_forget_a_prospect_that_was_merged_away(invoke, twins):
    """The person asks by an address that only lives on in a merge activity."""
    ok(invoke("prospects", "merge", "1", "4"))
    assert b"ada.lovelace@home.example" in _all_bytes(twins)
    ok(invoke("prospects", "forget", "ada.lovelace@home.example", "--yes"))
    assert "ada.lovelace@home.example" not in json.dumps(query(twins, "SELECT * FROM activities"))
    assert b"ada.lovelace@home.example" not in _all_bytes(twins)
    assert scalar(twins, "SELECT count(*) FROM prospects WHERE id = 1") == 1


def test_forget_a_hard_deleted_prospect(invoke, twins):
    ok(invoke("prospects", "archive", "cy@example.net", "--hard", "--yes"))
    assert b"cy@example.net" in _all_bytes(twins)
    ok(invoke("prospects", "forget", "cy@example.net", "--yes"))
    dump = json.dumps(query(twins, "SELECT * FROM activities")).lower()
    assert "cy@example.net" not in dump and "cy young" not in dump
    assert b"cy@example.net" not in _all_bytes(twins)


def test_activity_of_a_deleted_prospect_stays_reachable_by_id(invoke, twins):
    pid = json.loads(ok(invoke("prospects", "show", "cy@example.net", "--format", "json")))["id"]
    ok(invoke("prospects", "archive", "cy@example.net", "--hard", "--yes"))
    rows = json.loads(ok(invoke("activity", "--prospect", pid, "--format", "json")))
    assert [r["action"] for r in rows][-1] == "delete"


def test_forget_an_address_with_underscore_and_accents_merged_away(invoke, twins):
    """LIKE wildcards and JSON's \\u escapes must not hide the address from forget."""
    def audit_text() -> str:
        return "\n".join(f"{r['before']} {r['after']}"
                         for r in query(twins, "SELECT before, after FROM activities"))

    ok(invoke("prospects", "add", "zoë_ada@example.com", "--name", "Zoë Ada"))
    ok(invoke("prospects", "merge", "bob@example.org", "zoë_ada@example.com"))
    assert "zo\\u00eb_ada@example.com" in audit_text()  # as JSON stores it
    ok(invoke("prospects", "forget", "ZOË_ADA@example.com", "--yes"))
    text = audit_text().lower()
    assert "zo\\u00eb" not in text and "zoë" not in text
    raw = _all_bytes(twins)
    assert b"zo\\u00eb" not in raw and "zoë".encode() not in raw


def test_forget_redacts_only_the_mention_in_someone_elses_deleted_record(invoke, twins):
    ok(invoke("prospects", "add", "ref@example.com", "--notes", "referred by cy@example.net"))
    ok(invoke("prospects", "update", "ref@example.com", "--name", "Referrer Rex"))
    ok(invoke("prospects", "archive", "ref@example.com", "--hard", "--yes"))
    ok(invoke("prospects", "forget", "cy@example.net", "--yes"))
    create, update, delete = activities(twins, prospect_id=5)
    assert create["after"]["email"] == "ref@example.com"
    assert create["after"]["notes"] == "[forgotten]"
    assert update["after"] == {"name": "Referrer Rex"}
    assert delete["before"]["email"] == "ref@example.com"
    assert delete["before"]["notes"] == "[forgotten]"


def test_forget_beside_a_reader_of_an_old_snapshot_ends_at_once_and_says_so(twins):
    # `db replicate`'s Litestream keeps a read transaction open for as long as it runs.
    # forget used to wait the whole busy timeout (30 s by default) for it to end, holding
    # every other writer back, before it gave up emptying the WAL without a word.
    reader = connect(twins)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM prospects").fetchone()
    try:
        proc = cli_process(twins, "prospects", "forget", "ada@example.com", "--yes",
                           env={"SALESCLI_BUSY_TIMEOUT_MS": "600000"})
        out, err = proc.communicate(timeout=60)
        assert b"ada@example.com" in _all_bytes(twins)  # what the note is about
    finally:
        reader.close()
    assert proc.returncode == 0, err
    assert out.startswith("forgot ada@example.com: ")
    assert err.startswith("note: another process is reading an older snapshot of the"
                          " database (a replicator keeps one), so the erased pages leave"
                          " its write-ahead log at the next checkpoint, not now")
    assert scalar(twins, "SELECT count(*) FROM prospects WHERE email = 'ada@example.com'") == 0
    # The reader gone, the next erasure empties the WAL and says nothing more.
    proc = cli_process(twins, "prospects", "forget", "bob@example.org", "--yes")
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, "")
    assert b"ada@example.com" not in _all_bytes(twins)


def test_forgetting_someone_never_recorded_names_the_address_and_changes_nothing(invoke,
                                                                                twins):
    before = db_state(twins)
    assert fails(invoke("prospects", "forget", "Nobody@Example.com", "--yes")) == \
        "Error: prospect 'Nobody@Example.com' not found"
    assert db_state(twins) == before
