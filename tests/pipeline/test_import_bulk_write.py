"""How a big import writes (pipeline/import_write.py): each batch binds only the columns
its rows fill, and SQLite's foreign-key checks, off while the import writes, are back on
for whatever the connection does next, however the import ended."""

from __future__ import annotations

import sqlite3

import pytest

from salescli.core import db
from salescli.pipeline import importer
from tests.support.cli import assert_fts_in_sync, query
from tests.support.cli import write_file as write


def test_a_column_empty_in_some_batches_and_filled_in_others_lands_in_every_row(
        sales, tmp_path, small_batches):
    # batches of 4, then 10: notes only from row 12 on, a value in one row of the last
    # batch, a creation date in the first batch only, source in every row
    lines = ["email,notes,value,created_at,source"] + [
        f"p{i}@example.com,{f'note {i}' if i >= 12 else ''},{'9.5' if i == 27 else ''},"
        f"{'2024-03-0' + str(i + 1) if i < 4 else ''},web" for i in range(30)]
    conn = db.open_write(sales)
    try:
        importer.import_file(conn, "lib", write(tmp_path, "b.csv", "\n".join(lines) + "\n"))
    finally:
        conn.close()
    rows = query(sales, "SELECT email, notes, value, created_at, source FROM prospects"
                        " ORDER BY id")
    assert [r["notes"] for r in rows] == [None] * 12 + [f"note {i}" for i in range(12, 30)]
    assert [r["value"] for r in rows] == [None] * 27 + [9.5, None, None]
    assert [r["created_at"][:10] for r in rows[:4]] == [f"2024-03-0{i}" for i in range(1, 5)]
    assert all(r["created_at"] > "2025" for r in rows[4:])  # the import's own time
    assert {r["source"] for r in rows} == {"web"}
    assert_fts_in_sync(sales)


def refuses_an_orphan(conn: sqlite3.Connection) -> bool:
    """Whether SQLite refuses a stage change of a prospect that does not exist."""
    try:
        conn.execute("INSERT INTO stage_changes(prospect_id, to_stage_id, at, actor)"
                     " VALUES (999999, 1, '2025-01-01T00:00:00Z', 'test')")
    except sqlite3.IntegrityError as exc:
        return "FOREIGN KEY" in str(exc)
    conn.execute("DELETE FROM stage_changes WHERE prospect_id = 999999")
    return False


@pytest.mark.parametrize("text", [
    "email\n" + "".join(f"p{i}@example.com\n" for i in range(30)),  # imported
    "email\n" + "".join(f"p{i}@example.com\n" for i in range(30)) + "bad\n",  # refused
])
def test_foreign_keys_are_checked_again_after_an_import(sales, tmp_path, small_batches, text):
    conn = db.open_write(sales)
    try:
        assert refuses_an_orphan(conn)
        try:
            importer.import_file(conn, "lib", write(tmp_path, "b.csv", text))
        except importer.ImportRejected:
            pass
        assert refuses_an_orphan(conn)
    finally:
        conn.close()
