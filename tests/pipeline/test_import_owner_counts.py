"""The rows of an unknown owner are counted however the export spaces the name: "Max
Mustermann" and " Max Mustermann " are one owner with both rows."""

from __future__ import annotations

from tests.pipeline.crm_plan.support import PEOPLE, PEOPLE_HEAD, crm_schema, write
from tests.support.cli import fails, scalar


def row(n: int, owner: str) -> str:
    return f"{n},F{n},L{n},p{n}@x.example,,Co {n},{owner},Subscriber,,2024-01-0{n} 10:00,,,,,,\n"


def test_an_owner_written_with_spaces_is_one_owner_with_all_its_rows(invoke, sales, tmp_path):
    crm_schema(sales)
    f = write(tmp_path, "c.csv", PEOPLE_HEAD + row(1, "Max Mustermann")
              + row(2, " Max Mustermann ") + row(3, "Max Mustermann"))
    line = fails(invoke("prospects", "import", f, "--mapping", PEOPLE))
    assert line == ("Error: 1 owner in c.csv is no user: 'Max Mustermann' (3 rows: --owner-map"
                    " 'Max Mustermann=USER'); or --create-owners to create them"), line
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0
