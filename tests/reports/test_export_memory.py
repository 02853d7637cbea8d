"""A million rows export in bounded memory (peak RSS of the real command, measured)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from salescli.core import db

# Runs a command and prints its peak RSS in KiB: the only child of this small wrapper.
MEASURE = ("import resource, subprocess, sys; "
           "rc = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


# A million realistic rows in about a second, generated inside SQLite; one in a
# thousand subjects is a spreadsheet formula that the CSV export must neutralise.
FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO {table}(email, kind, at, subject, value)
SELECT 'person' || i || '@example.com', CASE WHEN i % 3 THEN 'email_out' ELSE 'email_in' END,
       printf('2024-%02d-%02dT%02d:00:00Z', 1 + i % 12, 1 + i % 28, i % 24),
       CASE WHEN i % 1000 = 0 THEN '=HYPERLINK("http://evil.example")'
            ELSE 'Subject line ' || i || ' about the pricing proposal' END, i * 1.5
FROM n
"""


def peak_kib(db_file, *args) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "salescli", "--db", str(db_file),
         "export", *map(str, args)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_million_rows_in_bounded_memory(db_file, tmp_path):
    conn = db.open_write(db_file)
    for table, n in (("events", 1_000_000), ("events_small", 10_000)):
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, email TEXT, kind TEXT,"
                     " at TEXT, subject TEXT, value REAL)")
        with db.transaction(conn):
            conn.execute(FILL.format(table=table), (n,))
    conn.close()

    small = peak_kib(db_file, "events_small", "--output", tmp_path / "small.csv")
    big_csv = tmp_path / "big.csv"
    big = peak_kib(db_file, "events", "--output", big_csv)
    # Everything in memory would take hundreds of MB; streaming costs the same as 10k rows.
    assert big - small < 16 * 1024, (big, small)
    with big_csv.open() as f:
        header = next(f)
        count = guarded = 0
        for line in f:
            count += 1
            guarded += "\"'=HYPERLINK(" in line
    assert header == "id,email,kind,at,subject,value\n"
    assert count == 1_000_000 and guarded == 1000
