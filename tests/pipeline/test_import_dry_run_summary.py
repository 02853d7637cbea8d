"""A dry run's summary says what the import would do, in the future tense, and writes
nothing: the owners --create-owners would make are "to create", not "created"."""

from __future__ import annotations

from tests.pipeline.crm_plan.support import PEOPLE, PEOPLE_HEAD, crm_schema, write
from tests.support.cli import db_state, ok


def test_a_dry_run_says_owners_to_create_and_creates_none(invoke, sales, tmp_path):
    crm_schema(sales)
    f = write(tmp_path, "c.csv", PEOPLE_HEAD
              + "1,F1,L1,a@x.example,,Co 1,Zoë Quinn,Subscriber,,2024-01-01 10:00,,,,,,\n")
    before = db_state(sales)
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners",
                    "--dry-run"))
    assert out.splitlines()[-1] == ("dry run, nothing written: c.csv: 1 rows, 1 to insert,"
                                    " 0 to update, 1 owners to create")
    assert db_state(sales) == before
