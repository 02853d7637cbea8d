"""Everything one import writes carries the import's one time: the prospects, the owners
that --create-owners makes, and their audit rows (so "what did the 10:00 import do" is one
query). The clock ticks a second at each reading, so any second reading would show."""

from __future__ import annotations

import itertools

import pytest

from tests.pipeline.crm_plan.support import PEOPLE, PEOPLE_HEAD, crm_schema, write
from tests.support.cli import ok, query


@pytest.fixture
def ticking(monkeypatch):
    """The clock of the import and of owners.create: one second later at each reading."""
    seconds = itertools.count()

    def now() -> str:
        n = next(seconds)
        return f"2024-05-01T10:{n // 60:02d}:{n % 60:02d}Z"

    monkeypatch.setattr("salescli.pipeline.importer.now", now)
    monkeypatch.setattr("salescli.pipeline.owners.now", now)


def test_created_owners_carry_the_time_of_the_import(invoke, sales, tmp_path, ticking):
    crm_schema(sales)
    f = write(tmp_path, "c.csv", PEOPLE_HEAD
              + "1,F1,L1,a@x.example,,Co 1,Zoë Quinn,Subscriber,,2024-01-01 10:00,,,,,,\n"
              + "2,F2,L2,b@x.example,,Co 2,Max Mustermann,Subscriber,,2024-01-02 10:00,,,,,,\n")
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--create-owners"))
    created = {r["updated_at"] for r in query(sales, "SELECT updated_at FROM prospects")}
    users = query(sales, "SELECT created_at, updated_at FROM users"
                         " WHERE username IN ('zoe.quinn', 'max.mustermann')")
    audits = query(sales, "SELECT at FROM activities WHERE entity = 'user'")
    assert len(created) == 1 and len(users) == 2 and len(audits) == 2
    assert {u["created_at"] for u in users} | {u["updated_at"] for u in users} == created
    assert {a["at"] for a in audits} == created
