"""Pipeline behaviour ``./dev mutants`` found unchecked: the audit rows of the
do-not-contact list, and errors that name the field (the library's own, which the CLI's
choices never reach)."""

from __future__ import annotations

import pytest

from salescli.core.errors import InvalidValue
from salescli.pipeline import prospects, stages
from tests.support.cli import activities, db_state, ok


def test_suppress_and_unsuppress_audit_what_changed_and_for_whom(invoke, three, db_file):
    ok(invoke("suppress", "bob@example.org", "--reason", "asked to stop"))
    ok(invoke("unsuppress", "bob@example.org"))
    suppress, unsuppress = activities(db_file, entity="suppression")
    row = {"address": "bob@example.org", "reason": "asked to stop", "source": "manual"}
    assert (suppress["action"], suppress["before"], suppress["after"]) == ("suppress", None, row)
    assert (unsuppress["action"], unsuppress["before"], unsuppress["after"]) == \
        ("unsuppress", row, None)
    assert suppress["prospect_id"] == unsuppress["prospect_id"] == 2  # bob's history


def test_a_bad_email_status_names_the_field_and_value(conn, three, db_file):
    before = db_state(db_file)
    with pytest.raises(InvalidValue) as err:
        prospects.update(conn, "tester", "ada@example.com", {"email_status": "gone"})
    assert str(err.value).startswith("email_status 'gone' must be one of ok, ")
    assert db_state(db_file) == before


def test_a_bad_stage_kind_names_the_field_and_value(conn, sales):
    with pytest.raises(InvalidValue) as err:
        stages.add_stage(conn, "tester", "Pilot", "maybe")
    assert str(err.value) == "kind 'maybe' must be open, won or lost"


def test_tags_that_are_no_list_name_the_field_and_value(conn, three, db_file):
    before = db_state(db_file)
    with pytest.raises(InvalidValue) as err:
        prospects.update(conn, "tester", "ada@example.com", {"tags": 5})
    assert str(err.value) == "tags 5 must be a list of tags"
    assert db_state(db_file) == before
