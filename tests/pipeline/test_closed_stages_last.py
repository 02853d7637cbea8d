"""Won and lost stages stay after the open ones whatever ``stages reorder`` or ``stages add
--position`` asks: the funnel reads a stage's position as how far a deal got, and a won
stage put first had every prospect "reach won" and the won deal reach no stage after
contacted."""

from __future__ import annotations

from tests.support.cli import ok, query


def _order(db_file) -> list[str]:
    return [r["name"] for r in query(db_file, "SELECT name FROM stages WHERE removed_at IS NULL"
                                              " ORDER BY position")]


def _reached(db_file) -> dict[str, int]:
    return {r["stage"]: r["reached"] for r in query(db_file, "SELECT stage, reached FROM funnel")}


def test_reordering_closed_stages_keeps_them_after_the_open_ones(invoke, conn, db_file):
    for email in ("a@x.example", "b@x.example", "c@x.example"):
        ok(invoke("prospects", "add", email))
    ok(invoke("prospects", "move", "a@x.example", "proposal"))
    ok(invoke("prospects", "move", "a@x.example", "won", "--reason", "signed"))
    ok(invoke("prospects", "move", "b@x.example", "contacted"))
    before = _reached(db_file)
    assert before == {"lead": 3, "contacted": 2, "replied": 1, "meeting": 1, "proposal": 1,
                      "won": 1}
    ok(invoke("stages", "reorder", "lost", "won"))
    assert _order(db_file) == ["lead", "contacted", "replied", "meeting", "proposal", "lost",
                               "won"]
    assert _reached(db_file) == before
    ok(invoke("stages", "reorder", "won", "meeting", "lead"))
    assert _order(db_file) == ["meeting", "lead", "contacted", "replied", "proposal", "won",
                               "lost"]


def test_a_closed_stage_added_at_the_front_goes_after_the_open_ones(invoke, conn, db_file):
    ok(invoke("stages", "add", "dead", "--kind", "lost", "--position", "0"))
    ok(invoke("stages", "add", "demo", "--position", "99"))
    ok(invoke("stages", "add", "intro", "--position", "1"))
    assert _order(db_file) == ["lead", "intro", "contacted", "replied", "meeting", "proposal",
                               "demo", "dead", "won", "lost"]
