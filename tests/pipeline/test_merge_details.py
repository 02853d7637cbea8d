"""Merging prospects (pinned by mutants that survived the older tests)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import ok


def test_a_value_taken_from_the_merged_prospect_keeps_its_currency(invoke, sales):
    ok(invoke("prospects", "add", "keep@example.net", "--name", "Keep"))
    ok(invoke("prospects", "add", "other@example.net", "--value", "700", "--currency", "EUR"))
    ok(invoke("prospects", "merge", "keep@example.net", "other@example.net"))
    keep = json.loads(ok(invoke("prospects", "show", "keep@example.net", "--format", "json")))
    assert (keep["value"], keep["currency"]) == (700.0, "EUR")


def test_changing_a_field_that_cannot_be_changed_names_it_and_the_fields(three, conn):
    from salescli.core.errors import InvalidValue
    from salescli.pipeline import prospects

    with pytest.raises(InvalidValue) as err:
        prospects.update(conn, "tester", "ada@example.com", {"created_at": "2020-01-01"})
    assert str(err.value).startswith("field 'created_at' cannot be changed (fields: email, name, ")
    assert str(err.value).endswith(")")
    assert prospects.resolve(conn, "ada@example.com")["created_at"] != "2020-01-01"
