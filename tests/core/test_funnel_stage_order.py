"""The funnel's furthest stage (core/funnel_schema.py's triggers) follows a change of the
stage order made with ``salescli stages reorder``: a prospect that went back from a stage
counts at that stage's new place."""

from __future__ import annotations

from salescli.core import funnel_schema
from tests.support.cli import connect, ok


def _a_went_to_replied(invoke) -> None:
    """Its own `init`, not the suite's shared template: the triggers are built in the test
    (so that mutation testing links their SQL to it). a: lead → replied; b: in meeting."""
    ok(invoke("init"))
    ok(invoke("prospects", "add", "a@example.com"))
    ok(invoke("prospects", "add", "b@example.com", "--stage", "meeting"))
    ok(invoke("prospects", "move", "a@example.com", "replied"))


def test_a_reorder_moves_the_furthest_stage_of_a_prospect_that_went_back(invoke, db_file):
    _a_went_to_replied(invoke)
    ok(invoke("prospects", "move", "a@example.com", "contacted"))
    ok(invoke("stages", "reorder", "lead", "replied", "meeting", "contacted"))
    conn = connect(db_file)
    try:
        furthest = dict(conn.execute(funnel_schema.EFFECTIVE_SQL))
        assert furthest == dict(conn.execute(funnel_schema.AGGREGATED_SQL))
        assert furthest == {1: 3, 2: 2}  # a reached contacted, now after meeting
    finally:
        conn.close()


def test_forgetting_a_prospect_with_history_keeps_the_furthest_stages_in_step(invoke, db_file):
    _a_went_to_replied(invoke)  # the delete trigger on stage_changes fires as history goes
    ok(invoke("prospects", "forget", "a@example.com", "--yes"))
    conn = connect(db_file)
    try:
        assert conn.execute("SELECT count(*) FROM stage_changes WHERE prospect_id = 1"
                            ).fetchone()[0] == 0
        furthest = dict(conn.execute(funnel_schema.EFFECTIVE_SQL))
        assert furthest == dict(conn.execute(funnel_schema.AGGREGATED_SQL)) == {2: 3}
    finally:
        conn.close()
