"""A sequence's name is 1 to 100 characters: the longest is loaded, one more is one error
line naming the field and the limit."""

from __future__ import annotations

from tests.sequences.conftest import THREE_STEPS, write_plan
from tests.support.cli import fails, ok


def test_a_name_of_100_characters_loads_and_101_is_refused(invoke, team, tmp_path):
    longest = "n" * 100
    path = write_plan(tmp_path, THREE_STEPS.replace('name = "intro"', f'name = "{longest}"'))
    assert ok(invoke("sequences", "load", path)).strip() == f"created sequence {longest} (3 steps)"
    path = write_plan(tmp_path, THREE_STEPS.replace('name = "intro"', f'name = "{longest}x"'),
                      name="long.toml")
    fails(invoke("sequences", "load", path), "name", "1 to 100 characters")
