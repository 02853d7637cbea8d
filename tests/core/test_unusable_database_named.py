"""A database salescli cannot use is named in the error, so the user knows which file."""

from __future__ import annotations

from tests.support.cli import fails


def test_a_file_that_is_not_a_salescli_database_is_named_in_the_error(invoke, db_file):
    db_file.touch()
    line = fails(invoke("prospects", "list"), "not a salescli database")
    assert repr(str(db_file)) in line
