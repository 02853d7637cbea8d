"""``salescli stages list|add|rename|reorder|remove``."""

from __future__ import annotations

import json

from tests.support.cli import db_state, fails, ok, query, scalar


def stage_list(invoke) -> list[dict]:
    return json.loads(ok(invoke("stages", "list", "--format", "json")))


def names(invoke) -> list[str]:
    return [s["name"] for s in stage_list(invoke)]


def test_list_counts_prospects_and_value(invoke, three):
    rows = stage_list(invoke)
    assert [r["name"] for r in rows] == ["lead", "contacted", "replied", "meeting",
                                         "proposal", "won", "lost"]
    by = {r["name"]: r for r in rows}
    assert (by["lead"]["prospects"], by["lead"]["value"]) == (2, 5300)
    assert (by["contacted"]["prospects"], by["contacted"]["value"]) == (1, 1200)
    assert by["won"]["kind"] == "won" and by["lost"]["kind"] == "lost"
    table = ok(invoke("stages", "list"))
    assert table.splitlines()[0].split() == ["position", "name", "kind", "prospects", "value"]


def test_add_open_stage_goes_after_last_open(invoke, sales):
    assert ok(invoke("stages", "add", "negotiation")) == "added stage negotiation\n"
    assert names(invoke) == ["lead", "contacted", "replied", "meeting", "proposal",
                             "negotiation", "won", "lost"]
    ok(invoke("stages", "add", "churned", "--kind", "lost"))
    ok(invoke("stages", "add", "qualified", "--position", "1"))
    assert names(invoke) == ["lead", "qualified", "contacted", "replied", "meeting",
                             "proposal", "negotiation", "won", "lost", "churned"]
    positions = [s["position"] for s in stage_list(invoke)]
    assert positions == list(range(10))
    ok(invoke("prospects", "add", "a@example.com", "--stage", "qualified"))
    ok(invoke("prospects", "move", "a@example.com", "churned", "--reason", "went bust"))


def test_rename_keeps_history_under_the_new_name(invoke, three):
    ok(invoke("prospects", "move", "1", "replied"))
    assert ok(invoke("stages", "rename", "replied", "answered")) == \
        "renamed replied → answered\n"
    show = json.loads(ok(invoke("prospects", "show", "1", "--format", "json")))
    assert show["stage"] == "answered"
    moves = [e for e in show["timeline"] if e["type"] == "stage_change"]
    assert [(e["from"], e["to"]) for e in moves] == [(None, "lead"), ("lead", "answered")]
    assert [p["email"] for p in json.loads(ok(invoke("prospects", "list", "--stage",
                                                     "answered", "--format", "json")))] \
        == ["ada@example.com"]
    fails(invoke("prospects", "list", "--stage", "replied"), "stage 'replied'")
    # a case-only rename is allowed
    ok(invoke("stages", "rename", "answered", "Answered"))
    assert "Answered" in names(invoke)


def test_reorder_puts_named_stages_first(invoke, sales):
    out = ok(invoke("stages", "reorder", "meeting", "lead", "--format", "json"))
    assert [s["name"] for s in json.loads(out)] == ["meeting", "lead", "contacted", "replied",
                                                    "proposal", "won", "lost"]
    assert names(invoke) == ["meeting", "lead", "contacted", "replied", "proposal", "won",
                             "lost"]
    ok(invoke("prospects", "add", "a@example.com"))  # first open stage is now meeting
    assert scalar(sales, "SELECT s.name FROM prospects p JOIN stages s ON s.id = p.stage_id") \
        == "meeting"


def test_remove_unused_stage_deletes_it(invoke, sales):
    assert ok(invoke("stages", "remove", "replied")) == "removed stage replied\n"
    assert "replied" not in names(invoke)
    assert scalar(sales, "SELECT count(*) FROM stages WHERE name = 'replied'") == 0
    assert [s["position"] for s in stage_list(invoke)] == list(range(6))
    ok(invoke("stages", "add", "replied"))  # the name is free again


def test_remove_stage_holding_prospects_needs_move_to(invoke, three):
    before = db_state(three)
    fails(invoke("stages", "remove", "lead"), "stage 'lead' holds 2 prospect(s)", "--move-to")
    assert db_state(three) == before
    changes = scalar(three, "SELECT count(*) FROM stage_changes")
    out = ok(invoke("stages", "remove", "lead", "--move-to", "contacted"))
    assert out == "removed stage lead, moved 2 prospect(s) to contacted\n"
    assert scalar(three, "SELECT count(*) FROM stage_changes") == changes + 2
    moved = query(three, "SELECT c.note, t.name AS to_stage FROM stage_changes c"
                         " JOIN stages t ON t.id = c.to_stage_id ORDER BY c.id DESC LIMIT 2")
    assert moved == [{"note": "stage lead removed", "to_stage": "contacted"}] * 2
    assert names(invoke) == ["contacted", "replied", "meeting", "proposal", "won", "lost"]
    # lead is kept as removed so history still reads, and its name can be reused
    assert scalar(three, "SELECT removed_at IS NOT NULL FROM stages WHERE name = 'lead'") == 1
    show = json.loads(ok(invoke("prospects", "show", "1", "--format", "json")))
    assert [(e["from"], e["to"]) for e in show["timeline"] if e["type"] == "stage_change"] \
        == [(None, "lead"), ("lead", "contacted")]
    ok(invoke("stages", "add", "lead", "--position", "0"))
    assert names(invoke)[0] == "lead"
    # archived prospects count as held too
    ok(invoke("prospects", "archive", "2"))
    fails(invoke("stages", "remove", "contacted"), "holds 3 prospect(s)")


def test_no_open_stage_left_is_a_clear_error(invoke, sales):
    for name in ("lead", "contacted", "replied", "meeting", "proposal"):
        ok(invoke("stages", "remove", name))
    fails(invoke("prospects", "add", "a@example.com"), "no open stage", "stages add")
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0


def test_time_in_stage_is_computable_from_history(invoke, sales, conn):
    from salescli.pipeline import prospects, stages

    p = prospects.add(conn, "t", "a@example.com", at="2024-01-01T00:00:00Z")
    stages.move(conn, "t", p["id"], "contacted", at="2024-01-03T00:00:00Z")
    stages.move(conn, "t", p["id"], "meeting", at="2024-01-10T12:00:00Z")
    rows = query(sales, """
        SELECT t.name AS stage,
               julianday(lead(c.at) OVER (ORDER BY c.at)) - julianday(c.at) AS days
        FROM stage_changes c JOIN stages t ON t.id = c.to_stage_id ORDER BY c.at""")
    assert [(r["stage"], r["days"]) for r in rows] == [("lead", 2.0), ("contacted", 7.5),
                                                      ("meeting", None)]


# ---- found by a fresh mutation sample (--seed 91)


def test_an_open_stage_added_when_none_is_left_goes_first(invoke, sales):
    for name in ("lead", "contacted", "replied", "meeting", "proposal"):
        ok(invoke("stages", "remove", name))
    ok(invoke("stages", "add", "talking"))
    assert names(invoke) == ["talking", "won", "lost"]


def test_reordering_a_stage_twice_is_one_error_naming_the_list(invoke, sales):
    assert fails(invoke("stages", "reorder", "won", "lead", "won")) == \
        "Error: stages 'won lead won' names a stage twice"
    assert names(invoke)[:2] == ["lead", "contacted"]


def test_moving_a_stages_prospects_to_itself_is_one_exact_error(invoke, three):
    assert fails(invoke("stages", "remove", "contacted", "--move-to", "contacted")) == \
        "Error: --move-to 'contacted' is the stage being removed"
    assert "contacted" in names(invoke)


def test_an_open_stage_added_to_a_pipeline_of_open_stages_goes_last(invoke, sales):
    for name in ("won", "lost"):
        ok(invoke("stages", "remove", name))
    ok(invoke("stages", "add", "extra"))
    assert names(invoke) == ["lead", "contacted", "replied", "meeting", "proposal", "extra"]
