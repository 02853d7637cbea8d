"""A stage name is 1-64 characters on one line: anything else, added or renamed to, is one
``Error:`` line naming the field and the value, and the stages stay as they were."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import db_state, fails, ok


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, "two\tparts"])
def test_a_bad_stage_name_is_refused_and_named(invoke, sales, bad):
    before = db_state(sales)
    for args in (("stages", "add", bad), ("stages", "rename", "lead", bad)):
        line = fails(invoke(*args))
        assert line == f"Error: stage name {bad.strip()!r} must be 1-64 characters on one line"
    assert db_state(sales) == before


def test_a_name_of_64_characters_is_a_stage(invoke, sales):
    ok(invoke("stages", "add", "x" * 64))
    stages = json.loads(ok(invoke("stages", "list", "--format", "json")))
    assert "x" * 64 in [s["name"] for s in stages]
