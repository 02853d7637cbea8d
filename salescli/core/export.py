"""Exports for analysts: any table or view of the sales database as CSV, JSON or NL.

Rows stream from SQLite to the file in constant memory. A file is written under a
temporary name beside the target and renamed when complete, so a failed export never
leaves half a file (nor replaces a good one).
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from typing import IO, Any

from salescli.core import output
from salescli.core.errors import InvalidValue, SalescliError

FORMATS = ("csv", "json", "nl")
PROGRESS_EVERY = 5000
_BATCH = 1000


def sources(conn: sqlite3.Connection) -> list[dict[str, str]]:
    """Every table and view that can be exported (SQLite's own tables excluded)."""
    return [dict(r) for r in conn.execute(
        # GLOB is case-sensitive, and SQLite reserves "sqlite_" in any case for its own tables
        "SELECT name, type FROM sqlite_master"
        " WHERE type IN ('table', 'view') AND name NOT GLOB 'sqlite_*' ORDER BY type, name")]


def resolve_source(conn: sqlite3.Connection, name: str) -> str:
    """The table or view's exact name as stored in sqlite_master, or NotFound."""
    row = conn.execute(
        "SELECT name FROM sqlite_master"
        " WHERE type IN ('table', 'view') AND name = ? COLLATE NOCASE AND name NOT GLOB 'sqlite_*'",
        (name,)).fetchone()
    if row is None:
        names = [s["name"] for s in sources(conn) if not _internal(s["name"])]
        raise InvalidValue("TABLE_OR_VIEW", name, "is not a table or view of the sales "
                           "database; choose one of: " + ", ".join(names))
    return row[0]


def _internal(name: str) -> bool:
    """Bookkeeping tables hidden from the suggestion list (still exportable by name)."""
    return name.startswith("_") or name.startswith("prospects_fts")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _blob(value: Any) -> Any:
    """JSON ``default``: BLOBs as base64 text (the only SQLite type JSON lacks)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot export {type(value).__name__}")


def count(conn: sqlite3.Connection, name: str) -> int:
    """How many rows the table or view holds (for a progress bar)."""
    return conn.execute(f"SELECT count(*) FROM {_quote(resolve_source(conn, name))}").fetchone()[0]


def _batches(conn: sqlite3.Connection, name: str,
             progress: Callable[[int], None] | None) -> tuple[list[str], Iterator[list[tuple]]]:
    """Column names and the rows as tuples in batches: a cursor, never the whole result."""
    source = resolve_source(conn, name)
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: far cheaper than sqlite3.Row for a million rows
    try:
        cur.execute(f"SELECT * FROM {_quote(source)}")
    except sqlite3.Error as exc:
        raise SalescliError(f"export of {source!r} failed: {exc}") from None
    names = [d[0] for d in cur.description]

    def generate() -> Iterator[list[tuple]]:
        done = 0
        while True:
            try:
                batch = cur.fetchmany(_BATCH)
            except sqlite3.Error as exc:
                raise SalescliError(f"export of {source!r} failed after {done:,} rows: "
                                    f"{exc}") from None
            if not batch:
                break
            yield batch
            done += len(batch)
            if progress and done % PROGRESS_EVERY < _BATCH:
                progress(done)
        if progress:
            progress(done)

    return names, generate()


# First characters after which output.guard_cell may act (it looks through leading quotes).
_GUARD_FIRST = frozenset("".join(output.FORMULA_START) + "'")


def _write_csv(names: list[str], batches: Iterator[list[tuple]], out: IO[str], raw: bool,
               ) -> int:
    """CSV like ``output.write_csv`` (same guard), on tuples: ~3x faster per row."""
    writer = output.CsvRows(out)
    writer.writerow(names)
    guard = output.guard_cell
    first = _GUARD_FIRST
    n = 0
    for batch in batches:
        if raw:
            rows = [[_blob(v) if v.__class__ is bytes else v for v in row] for row in batch]
        else:
            rows = [[guard(v) if v.__class__ is str and v and v[0] in first
                     else (_blob(v) if v.__class__ is bytes else v) for v in row]
                    for row in batch]
        for row in rows:
            writer.writerow(row)
        n += len(batch)
    return n


def _write_json(names: list[str], batches: Iterator[list[tuple]], out: IO[str],
                lines: bool) -> int:
    """A JSON array (the shape of ``output.write_json``) or one object per line."""
    encode = json.JSONEncoder(ensure_ascii=False, default=_blob).encode
    n = 0
    if not lines:
        out.write("[")
    for batch in batches:
        for row in batch:
            text = encode(dict(zip(names, row, strict=True)))
            if lines:
                out.write(text + "\n")
            else:
                out.write((",\n " if n else "\n ") + text)
            n += 1
    if not lines:
        out.write("\n]\n" if n else "]\n")
    return n


def write(conn: sqlite3.Connection, name: str, fmt: str, out: IO[str], *, raw: bool = False,
          progress: Callable[[int], None] | None = None) -> int:
    """Stream a table or view to an open text stream; returns the number of rows."""
    if fmt not in FORMATS:
        raise InvalidValue("--format", fmt, "must be one of " + ", ".join(FORMATS))
    names, batches = _batches(conn, name, progress)
    if fmt == "csv":
        return _write_csv(names, batches, out, raw)
    return _write_json(names, batches, out, lines=fmt == "nl")


def export(conn: sqlite3.Connection, name: str, fmt: str = "csv",
           path: str | os.PathLike | None = None, *, out: IO[str] | None = None,
           raw: bool = False, progress: Callable[[int], None] | None = None) -> int:
    """Export to ``path`` (atomically) or to the stream ``out``; returns the row count."""
    resolve_source(conn, name)  # a bad name fails before any file is created
    if fmt not in FORMATS:
        raise InvalidValue("--format", fmt, "must be one of " + ", ".join(FORMATS))
    if path is None:
        if out is None:
            raise ValueError("export needs a path or a stream")
        return write(conn, name, fmt, out, raw=raw, progress=progress)
    with output.atomic_output(path) as fh:
        return write(conn, name, fmt, fh, raw=raw, progress=progress)
