"""What the audit log says about stage changes (pinned by mutants that survived)."""

from __future__ import annotations

import json

from tests.support.cli import ok


def stage_activities(invoke) -> list[dict]:
    return json.loads(ok(invoke("activity", "--entity", "stage", "--format", "json")))


def test_adding_a_stage_records_its_name_place_and_kind(invoke, sales):
    ok(invoke("stages", "add", "review"))
    (row,) = stage_activities(invoke)
    assert row["action"] == "create" and row["entity"] == "stage"
    (listed,) = [s for s in json.loads(ok(invoke("stages", "list", "--format", "json")))
                 if s["name"] == "review"]
    assert row["after"] == {"name": "review", "position": listed["position"], "kind": "open"}


def test_renaming_a_stage_records_the_old_and_the_new_name(invoke, sales):
    ok(invoke("stages", "add", "review"))
    ok(invoke("stages", "rename", "review", "checked"))
    renamed = [r for r in stage_activities(invoke) if r["action"] == "rename"]
    assert [(r["before"], r["after"]) for r in renamed] == [({"name": "review"},
                                                             {"name": "checked"})]


def test_reordering_records_the_order_before_and_after(invoke, sales):
    before = [s["name"] for s in json.loads(ok(invoke("stages", "list", "--format", "json")))]
    ok(invoke("stages", "reorder", before[1], before[0]))
    (row,) = stage_activities(invoke)
    assert row["action"] == "reorder"
    assert row["before"] == {"order": before}
    assert row["after"] == {"order": [before[1], before[0], *before[2:]]}
