"""The people, files and readers the file-format import tests share."""

from __future__ import annotations

import csv
import io

from salescli.pipeline.import_read import Source, open_text, read_csv
from tests.support.cli import query

PEOPLE = [("ana@example.com", "Ana Müller", "Bäckerei Groß", "980.50", "it’s “urgent” – call"),
          ("bo@example.com", "Bo Çelik", "Café Noël", "12500", "€ budget"),
          ("cy@example.com", "Cy O’Neil", "Zoë & Co", "", "")]


HEADER = ("Email", "Name", "Company", "Value", "Notes")


def table(rows=PEOPLE, header=HEADER, delimiter=",", newline="\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def people(db_file) -> dict[str, dict]:
    rows = query(db_file, "SELECT email, name, company, value, notes, created_at"
                          " FROM prospects ORDER BY id")
    return {r.pop("email"): r for r in rows}


def expected(rows=PEOPLE) -> dict[str, dict]:
    return {e: {"name": n, "company": c, "value": float(v) if v else None, "notes": t or None}
            for e, n, c, v, t in rows}


def imported(db_file) -> dict[str, dict]:
    return {e: {k: v for k, v in p.items() if k != "created_at"}
            for e, p in people(db_file).items()}


def read(data: bytes, name: str = "f.csv", **options: str) -> tuple[Source, list, list]:
    """Read ``data`` as the importer does: the source, the header and every row."""
    source = Source.of(data, name, **options)
    _, _, pieces = open_text(source, None)
    header, batches = read_csv(source, pieces)
    rows, bad = [], []
    for numbers, cells, rejected in batches:
        rows += zip(numbers, cells, strict=True)
        bad += rejected
    return source, header, rows + [(r.row, str(r)) for r in bad]


def read_source(source: Source) -> tuple[Source, list, list]:
    _, _, pieces = open_text(source, None)
    header, batches = read_csv(source, pieces)
    return source, header, [r for n, c, _ in batches for r in zip(n, c, strict=True)]
