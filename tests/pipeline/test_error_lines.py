"""Pipeline commands refused for what the data already says (a duplicate, an other address,
the same prospect twice, a stage still holding prospects, an address already suppressed):
one whole ``Error:`` line, exit 1, and the database as it was."""

from __future__ import annotations

import pytest

from tests.support.cli import fails, ok, query


@pytest.fixture
def ada(invoke, conn):
    ok(invoke("prospects", "add", "ada@example.com", "--value", "100"))
    ok(invoke("prospects", "update", "ada@example.com", "--add-email", "ada@home.example"))


def _state(db_file) -> list[dict]:
    return query(db_file, "SELECT p.id, p.email, s.name AS stage, (SELECT count(*) FROM"
                          " stage_changes c WHERE c.prospect_id = p.id) AS changes FROM"
                          " prospects p JOIN stages s ON s.id = p.stage_id ORDER BY p.id")


@pytest.mark.parametrize("args, line", [
    (("prospects", "add", "ada@home.example"),
     "address 'ada@home.example' is an other address of prospect #1"),
    (("prospects", "add", "ADA@example.com"), "prospect 'ada@example.com' already exists"),
    (("prospects", "merge", "ada@example.com", "ada@example.com"),
     "OTHER 'ada@example.com' is the same prospect as KEEP"),
    (("prospects", "merge", "ada@example.com", "1"), "OTHER '1' is the same prospect as KEEP"),
    (("prospects", "merge", "ada@example.com", "ada@home.example"),
     "OTHER 'ada@home.example' is the same prospect as KEEP"),
    (("prospects", "move", "ada@example.com", "won"),
     "--reason '' is required to move to the won stage 'won'"),
    (("prospects", "move", "1", "lost", "--reason", "  "),
     "--reason '  ' is required to move to the lost stage 'lost'"),
    (("stages", "remove", "lead"),
     "stage 'lead' holds 1 prospect(s); use --move-to STAGE to move them first"),
    (("stages", "remove", "lead", "--move-to", "LEAD"),
     "--move-to 'LEAD' is the stage being removed"),
    (("prospects", "list", "--search", "!!! ---"), "--search '!!! ---' has no words to search for"),
], ids=["other-address", "duplicate", "merge-self", "merge-self-id", "merge-own-address",
        "won-no-reason", "lost-blank-reason", "remove-holding", "remove-into-itself",
        "search-no-words"])
def test_a_refused_command_is_one_error_line_and_changes_nothing(invoke, db_file, ada, args,
                                                                 line):
    before = _state(db_file), query(db_file, "SELECT name, removed_at FROM stages")
    assert fails(invoke(*args)) == f"Error: {line}"
    assert (_state(db_file), query(db_file, "SELECT name, removed_at FROM stages")) == before


def test_an_address_suppressed_twice_says_since_when(invoke, conn, db_file):
    ok(invoke("suppress", "x@y.example"))
    [row] = query(db_file, "SELECT address, created_at FROM suppressions")
    for given in ("x@y.example", "X@Y.Example"):
        assert fails(invoke("suppress", given)) == (
            f"Error: x@y.example is already suppressed (since {row['created_at']})")
    assert query(db_file, "SELECT address, created_at FROM suppressions") == [row]
