"""A sequence's name is 1 to 100 characters: the longest is loaded, one more is one error
line naming the field and the limit."""

from __future__ import annotations

from tests.sequences.conftest import THREE_STEPS, write_plan
from tests.support.cli import fails, ok, query


def test_a_name_of_100_characters_loads_and_101_is_refused(invoke, team, tmp_path):
    longest = "n" * 100
    path = write_plan(tmp_path, THREE_STEPS.replace('name = "intro"', f'name = "{longest}"'))
    assert ok(invoke("sequences", "load", path)).strip() == f"created sequence {longest} (3 steps)"
    path = write_plan(tmp_path, THREE_STEPS.replace('name = "intro"', f'name = "{longest}x"'),
                      name="long.toml")
    fails(invoke("sequences", "load", path), "name", "1 to 100 characters")


def test_a_file_without_a_name_or_with_a_blank_one_is_refused(invoke, team, tmp_path, db_file):
    nameless = write_plan(tmp_path, THREE_STEPS.replace('name = "intro"\n', ""))
    fails(invoke("sequences", "load", nameless), "name None", "1 to 100 characters")
    blank = write_plan(tmp_path, THREE_STEPS.replace('name = "intro"', 'name = "  "'),
                       name="blank.toml")
    fails(invoke("sequences", "load", blank), "name '  '", "1 to 100 characters")
    assert query(db_file, "SELECT name FROM sequences") == []
