"""``salescli metrics --owner`` on a team where nobody owns anything yet, and a backfill
asked for inside the caller's own transaction."""

from __future__ import annotations

from salescli.core.db import transaction
from salescli.metrics import rollup
from tests.support.cli import fails, ok


def test_an_unknown_owner_where_no_prospect_has_one_says_so(invoke, sales):
    ok(invoke("prospects", "add", "a@example.com"))
    line = fails(invoke("metrics", "--owner", "zed"))
    assert line == ("Error: --owner 'zed' owns no prospects and has no history"
                    " (no prospect has an owner)")


def test_a_backfill_inside_the_callers_transaction_recomputes_from_its_day(history):
    h = history
    assert rollup.rollup(h.conn, today=h.today)["mode"] == "full"
    with transaction(h.conn):
        result = rollup.rollup(h.conn, since=h.day(3), today=h.today)
    assert (result["mode"], result["from"], result["days"]) == ("backfill", h.day(3), 4)
