"""Import prospects from CSV or JSON: header mapping, the validation of ``prospects.add``,
duplicates by normalised email, all-or-nothing in one transaction, one audit activity.

New rows go through a temporary staging table into ``prospects`` with INSERT … SELECT, a
batch at a time, so that the full-text, tag and history rows are written by a few
statements rather than per row (executemany is ~5× slower); a big import runs each batch's
statements on a worker thread while the next batch is read and checked
(benchmarks/bench_import.py). Reading and checking the file is in ``salescli.pipeline.import_read``;
its public names are re-exported here.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.enums import OnDuplicate
from salescli.core.errors import InvalidValue, SalescliError
from salescli.core.timeutil import now
from salescli.pipeline import stages
from salescli.pipeline.import_read import (
    FIELDS,
    InputFormat,
    Rejection,
    Validator,
    decode,
    detect_format,
    read_csv,
    read_file,
    read_json,
)

_CHUNK = 500  # emails per duplicate lookup (well under SQLite's parameter limit)
_CACHE_KIB = 65536  # page cache while importing: the email index is written at random
_FLUSH = 1000  # new rows from which a batch is inserted while the next one is checked
_VALUES = 99  # rows per multi-row INSERT into the staging table (990 parameters: < 999)
_SWITCH = 0.0002  # s, GIL switch interval while a worker writes (default 0.005: ~5% slower)


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    file: str
    format: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    merged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    inserted_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False
    activity_id: int | None = None

    @property
    def rejected_rows(self) -> int:
        return len({r.row for r in self.rejected})

    @property
    def ids(self) -> list[int]:
        """Every prospect created or changed, in id order."""
        return sorted(self.inserted_ids + self.updated_ids)

    def summary(self) -> str:
        """One line for people: what happened, or for a dry run what would."""
        verbs = ("to insert", "to update") if self.dry_run else ("inserted", "updated")
        parts = [f"{self.inserted} {verbs[0]}", f"{self.updated} {verbs[1]}"]
        parts += [f"{n} {w}" for n, w in ((self.unchanged, "unchanged"),
                                          (self.merged, "merged into an earlier row"),
                                          (self.skipped, "skipped as duplicates"),
                                          (self.rejected_rows, "rejected")) if n]
        head = f"dry run, nothing written: {self.file}" if self.dry_run else self.file
        return f"{head}: {self.rows} rows, " + ", ".join(parts)


class ImportRejected(SalescliError):
    """Rows were rejected and ``skip_invalid`` was off: nothing was written."""

    def __init__(self, result: ImportResult):
        self.result = result
        n, total = result.rejected_rows, result.rows
        what = "dry run, nothing written" if result.dry_run else "nothing imported"
        super().__init__(f"{n} of {total} rows in {result.file} rejected; {what} "
                         f"(fix them, or use --skip-invalid to import the other {total - n})")


# --------------------------------------------------------------------------- writing


@contextmanager
def _session(conn: sqlite3.Connection, write: bool) -> Iterator[None]:
    """A write transaction (for a dry run, a read transaction rolled back) with a page cache
    big enough for the email index."""
    old = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {min(old, -_CACHE_KIB) if old < 0 else -_CACHE_KIB}")
    try:
        if write:
            with transaction(conn):
                yield
        elif conn.in_transaction:
            yield
        else:
            conn.execute("BEGIN")
            try:
                yield
            finally:
                conn.execute("ROLLBACK")
    finally:
        conn.execute(f"PRAGMA cache_size = {old}")


def _existing(conn: sqlite3.Connection, emails: list[str]) -> dict[str, sqlite3.Row]:
    """The prospects already holding some of these (normalised) emails, by email."""
    found: dict[str, sqlite3.Row] = {}
    for start in range(0, len(emails), _CHUNK):
        chunk = emails[start:start + _CHUNK]
        for row in conn.execute(
                "SELECT id, email, name, company, owner, stage_id, value, tags, source, notes"
                f" FROM prospects WHERE email IN ({','.join('?' * len(chunk))})", chunk):
            found[row["email"]] = row
    return found


def _changes(staged: tuple, row: sqlite3.Row) -> list | None:
    """[id, name, company, owner, stage_id, value, tags, source, notes] holding only the
    given fields that differ from the prospect's (None elsewhere); None if nothing does."""
    out: list = [row["id"], None, None, None, None, None, None, None, None]
    for pos, name in enumerate(FIELDS[1:], 2):
        new, old = staged[pos], row["stage_id" if name == "stage" else name]
        if new is not None and (json.loads(new) != json.loads(old or "[]") if name == "tags"
                                else new != old):
            out[pos - 1] = new
    return out if any(v is not None for v in out[1:]) else None


def _ranges(ids: list[int]) -> list[list[int]]:
    """[[first, last], …] runs of consecutive ids: compact, exact, no personal data."""
    if ids and ids == list(range(ids[0], ids[0] + len(ids))):
        return [[ids[0], ids[-1]]]  # the new rows of an import: one run, found in C
    out: list[list[int]] = []
    for i in sorted(ids):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


_UPDATED = ("name", "company", "owner", "stage_id", "value", "tags", "source", "notes")
_BULK_MIN = 1000  # new rows from which _suspend pays off
_NEW = "temp.salescli_import_new"  # the staging table; n = 1, 2, …; a prospect's id is base + n
_BATCH_ROWS = " WHERE n BETWEEN :lo AND :hi"
# AFTER INSERT triggers of prospects whose work a big import does in one statement a batch:
# the trigger's SQL (whitespace-normalised) must be exactly this for the statement to match it.
_BULK = {
    "prospects_fts_ai": (
        "CREATE TRIGGER prospects_fts_ai AFTER INSERT ON prospects BEGIN INSERT INTO"
        " prospects_fts(rowid, email, name, company, notes) VALUES (new.id, new.email,"
        " new.name, new.company, new.notes); END",
        "INSERT INTO prospects_fts(rowid, email, name, company, notes)"
        f" SELECT :base + n, email, name, company, notes FROM {_NEW}{_BATCH_ROWS}"),
    "prospects_tags_ai": (
        "CREATE TRIGGER prospects_tags_ai AFTER INSERT ON prospects BEGIN INSERT OR IGNORE"
        " INTO prospect_tags(tag, prospect_id) SELECT value, new.id FROM json_each(new.tags);"
        " END",
        "INSERT OR IGNORE INTO prospect_tags(tag, prospect_id) SELECT j.value, :base + s.n"
        f" FROM {_NEW} s, json_each(s.tags) j WHERE s.tags IS NOT NULL"
        " AND s.n BETWEEN :lo AND :hi"),
}
_INSERT = (
    "INSERT INTO prospects(id, email, name, company, owner, stage_id, value, tags, source,"
    " notes, stage_entered_at, created_at, updated_at) SELECT :base + n, email, name, company,"
    " owner, coalesce(stage_id, :first), value, coalesce(tags, '[]'), source, notes, :ts, :ts,"
    f" :ts FROM {_NEW}{_BATCH_ROWS} ORDER BY n")
_HISTORY = (
    "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor, owner,"
    " value, note) SELECT :base + n, NULL, coalesce(stage_id, :first), :ts, :actor, owner,"
    f" value, 'created' FROM {_NEW}{_BATCH_ROWS} ORDER BY n")
_STAGE = (f"INSERT INTO {_NEW}(row, email, name, company, owner, stage_id, value, tags,"
          " source, notes) VALUES ")
_MARKS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# The next id: never one a deleted prospect had (the table is AUTOINCREMENT for that).
_BASE = ("SELECT max(coalesce((SELECT max(id) FROM prospects), 0), coalesce((SELECT seq"
         " FROM sqlite_sequence WHERE name = 'prospects'), 0))")


def _suspend(conn: sqlite3.Connection, rows: int) -> list[tuple[str, str | None]]:
    """Drop what a big insert is faster without; return (SQL to re-create, batch fill).

    Firing the full-text and tag triggers once per row costs more than the insert itself,
    so for a big import they are dropped, their work is done by one statement a batch,
    and they are re-created — all inside the import's transaction, so nobody ever sees them
    missing. A trigger whose SQL is not the one known here is left alone and fires. The
    secondary indexes of a table the import fills that is empty are also built once at
    the end rather than row by row (UNIQUE and primary key indexes stay).
    """
    if rows < _BULK_MIN:
        return []
    empty = [table for table in ("prospects", "stage_changes", "prospect_tags")
             if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None]
    dropped: list[tuple[str, str | None]] = []
    for kind, name, table, sql in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN"
            " ('prospects', 'stage_changes', 'prospect_tags') AND sql IS NOT NULL"
            " AND type IN ('trigger', 'index')").fetchall():
        if kind == "index" and table in empty and " UNIQUE " not in sql.upper():
            dropped.append((sql, None))
        elif kind == "trigger" and name in _BULK and " ".join(sql.split()) == _BULK[name][0]:
            dropped.append((sql, _BULK[name][1]))
        else:
            continue
        conn.execute(f'DROP {kind.upper()} "{name}"')
    return dropped


class _Inserter:
    """Inserts new prospects with their full-text, tag and stage history rows, in batches.

    The caller stages checked rows in a temporary table; a batch's INSERT … SELECT
    statements then run on a worker thread while the caller reads and checks the next
    batch (sqlite3 lets go of the GIL while SQLite works, so the two overlap on a second
    core). One thread at a time uses the connection: any other use first calls ``wait``.
    """

    def __init__(self, conn: sqlite3.Connection, actor: str, ts: str):
        self.conn, self.ts = conn, ts
        self.args: dict[str, Any] = {"ts": ts, "actor": actor, "first": None, "base": 0}
        self.staged = self.inserted = 0  # rows staged, rows of them inserted
        self.suspended: list[tuple[str, str | None]] | None = None
        self.thread: threading.Thread | None = None
        self.threads: bool | None = None  # may a worker use the connection?
        self.error: BaseException | None = None

    def wait(self) -> None:
        """Wait for the batch in flight and re-raise its error: the connection is free."""
        self.close()
        error, self.error = self.error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Wait for the batch in flight, if any (its error, if any, is kept for ``wait``)."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def stage(self, rows: list[tuple]) -> None:
        """Stage checked rows of new prospects, in id order, for the next ``insert``."""
        if not rows:
            return
        self.wait()
        conn = self.conn
        if not self.staged:
            self.args["base"] = conn.execute(_BASE).fetchone()[0]
            conn.execute(f"DROP TABLE IF EXISTS {_NEW}")
            conn.execute(f"CREATE TEMP TABLE {_NEW.split('.')[1]} (n INTEGER PRIMARY KEY,"
                         " row, email, name, company, owner, stage_id, value, tags, source,"
                         " notes)")
        if self.args["first"] is None and any(row[5] is None for row in rows):
            self.args["first"] = stages.first_stage(conn)["id"]
        whole = len(rows) - len(rows) % _VALUES  # multi-row VALUES: ~25% less than executemany
        many = _STAGE + ", ".join([_MARKS] * _VALUES)
        for start in range(0, whole, _VALUES):
            conn.execute(many, list(chain.from_iterable(rows[start:start + _VALUES])))
        if whole < len(rows):
            conn.executemany(_STAGE + _MARKS, rows[whole:])
        self.staged += len(rows)

    def insert(self, final: bool = False) -> None:
        """Insert the staged rows not inserted yet: on a worker thread unless ``final``."""
        self.wait()
        lo, hi = self.inserted + 1, self.staged
        if hi < lo:
            return
        if self.suspended is None:  # the first batch: is the import big?
            self.suspended = _suspend(self.conn, hi if final else max(hi, _BULK_MIN))
        statements = [_INSERT, *(fill for _, fill in self.suspended if fill), _HISTORY]
        args = {**self.args, "lo": lo, "hi": hi}
        self.inserted = hi
        if final or not self._threadable():
            self._run(statements, args)
        else:
            self.thread = threading.Thread(target=self._work, args=(statements, args),
                                           name="salescli-import", daemon=True)
            self.thread.start()

    def finish(self) -> list[int]:
        """Insert what is left, re-create what was suspended; the ids of the new rows."""
        self.insert(final=True)
        for create, _ in self.suspended or ():
            self.conn.execute(create)
        self.conn.execute(f"DROP TABLE IF EXISTS {_NEW}")
        base = self.args["base"]
        return list(range(base + 1, base + self.staged + 1))

    def _run(self, statements: list[str], args: dict[str, Any]) -> None:
        for sql in statements:
            self.conn.execute(sql, args)

    def _work(self, statements: list[str], args: dict[str, Any]) -> None:
        try:
            self._run(statements, args)
        except BaseException as exc:  # re-raised by the caller's thread in wait()
            self.error = exc

    def _threadable(self) -> bool:
        """Whether the connection may be used from another thread (check_same_thread)."""
        if self.threads is None:
            self.threads = False

            def probe() -> None:
                with suppress(sqlite3.ProgrammingError):
                    self.conn.execute("SELECT 1")
                    self.threads = True

            thread = threading.Thread(target=probe, daemon=True)
            thread.start()
            thread.join()
        return self.threads


def _update(conn: sqlite3.Connection, actor: str, ts: str, updates: list[list]) -> None:
    """Apply the changed fields of existing prospects in bulk, with their stage history."""
    conn.execute("DROP TABLE IF EXISTS temp.salescli_import_upd")
    conn.execute("CREATE TEMP TABLE salescli_import_upd (id INTEGER PRIMARY KEY, "
                 + ", ".join(_UPDATED) + ")")
    conn.executemany("INSERT INTO temp.salescli_import_upd VALUES (?, ?, ?, ?, ?, ?, ?,"
                     " ?, ?)", updates)
    conn.execute(
        "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor,"
        " owner, value, note) SELECT p.id, p.stage_id, u.stage_id, ?, ?,"
        " coalesce(u.owner, p.owner), coalesce(u.value, p.value), 'import'"
        " FROM temp.salescli_import_upd u JOIN prospects p ON p.id = u.id"
        " WHERE u.stage_id IS NOT NULL", (ts, actor))
    conn.execute(
        "UPDATE prospects SET " + ", ".join(f"{c} = coalesce(u.{c}, prospects.{c})"
                                            for c in _UPDATED)
        + ", stage_entered_at = CASE WHEN u.stage_id IS NULL"
        " THEN prospects.stage_entered_at ELSE :ts END, updated_at = :ts"
        " FROM temp.salescli_import_upd u WHERE u.id = prospects.id", {"ts": ts})
    conn.execute("DROP TABLE temp.salescli_import_upd")


def _write(conn: sqlite3.Connection, actor: str, inserter: _Inserter, new: list[tuple],
           updates: list[list], result: ImportResult, on_duplicate: str) -> None:
    """Insert the new rows not inserted yet and apply the updates, then record one
    activity for the batch."""
    inserter.stage(new)
    result.inserted_ids = inserter.finish()
    if updates:
        _update(conn, actor, inserter.ts, updates)
        result.updated_ids = [u[0] for u in updates]
    result.inserted, result.updated = len(result.inserted_ids), len(updates)
    fields = Counter(FIELDS[k] for u in updates for k in range(1, 9) if u[k] is not None)
    result.activity_id = audit.record(conn, actor, "import", "prospect", None, None, {
        "file": result.file, "format": result.format, "rows": result.rows,
        "on_duplicate": on_duplicate, "inserted": result.inserted, "updated": result.updated,
        "unchanged": result.unchanged, "skipped": result.skipped, "merged": result.merged,
        "rejected_rows": result.rejected_rows, "updated_fields": dict(fields),
        "inserted_ids": _ranges(result.inserted_ids), "updated_ids": _ranges(result.updated_ids),
    }, at=inserter.ts)
    result.written = True


# --------------------------------------------------------------------------- importing


def _dedupe(checked: tuple[list[tuple], list[Rejection]], seen: dict[str, tuple],
            result: ImportResult, on_duplicate: OnDuplicate) -> list[str]:
    """Add checked rows to ``seen`` (email → first row), handling duplicates in the file;
    return the emails seen for the first time, in order."""
    staged, rejected = checked
    result.rejected += rejected
    fresh: list[str] = []
    for row in staged:
        first = seen.setdefault(row[1], row)
        if first is row:
            fresh.append(row[1])
        elif on_duplicate == OnDuplicate.ERROR:
            result.rejected.append(Rejection(row[0], "email", row[1],
                                             f"is a duplicate of row {first[0]}"))
        elif on_duplicate == OnDuplicate.SKIP:
            result.skipped += 1
        else:  # later non-empty fields win; the row keeps its place
            seen[row[1]] = first[:2] + tuple(b if b is not None else a
                                              for a, b in zip(first[2:], row[2:], strict=True))
            result.merged += 1
    return fresh


def import_data(conn: sqlite3.Connection, actor: str, data: bytes | str, name: str, *,
                fmt: str | None = None, on_duplicate: str = OnDuplicate.ERROR,
                skip_invalid: bool = False, dry_run: bool = False,
                ignore_unknown: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Validate and import prospects from the bytes of a CSV or JSON file called ``name``.

    Raises ImportRejected (nothing written) when a row is rejected and ``skip_invalid``
    is off; file-level problems raise InvalidValue naming the file.
    """
    on_duplicate = OnDuplicate(on_duplicate)
    text = decode(data, name) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    if not text.strip():
        raise InvalidValue("file", name, "is empty")
    kind = detect_format(name, text, fmt)
    reader = read_csv if kind == InputFormat.CSV else read_json
    cols, batches, notes, estimate = reader(text, name, ignore_unknown)
    result = ImportResult(file=Path(name).name, format=kind.value, notes=notes,
                          dry_run=dry_run)
    with _session(conn, write=not dry_run):
        inserter = None if dry_run else _Inserter(conn, actor, now())
        idle = inserter.wait if inserter else None
        # New rows are inserted while the file is read unless a later row may still change
        # them (update mode merges duplicates in the file); a rejection stops that.
        early = inserter is not None and on_duplicate != OnDuplicate.UPDATE
        switch = sys.getswitchinterval()
        if early:  # the worker waits for the GIL after each statement: hand it over sooner
            sys.setswitchinterval(min(switch, _SWITCH))
        try:
            check = Validator(conn, cols, text_only=kind == InputFormat.CSV, idle=idle).check
            had_rows = conn.execute("SELECT 1 FROM prospects LIMIT 1").fetchone() is not None
            seen: dict[str, tuple] = {}  # email → the staged row that first had it
            existing: dict[str, sqlite3.Row] = {}  # email → the prospect already holding it
            new: list[str] = []  # emails of new prospects, in file order
            count = 0
            for numbers, cells, bad in batches:
                count += len(numbers) + len(bad)
                result.rejected += bad
                fresh = _dedupe(check(numbers, cells), seen, result, on_duplicate)
                if had_rows and fresh:
                    if idle:
                        idle()
                    existing.update(_existing(conn, fresh))
                    fresh = [email for email in fresh if email not in existing]
                new += fresh
                early = early and (skip_invalid or not result.rejected and not (
                    existing and on_duplicate == OnDuplicate.ERROR))  # else: nothing to write
                if early and len(new) - inserter.staged >= _FLUSH:
                    inserter.stage([seen[email] for email in new[inserter.staged:]])
                    inserter.insert()
                if progress:
                    progress(count, max(estimate, count))
            result.rows = count
            updates: list[list] = []
            for email, row in existing.items():
                if on_duplicate == OnDuplicate.ERROR:
                    result.rejected.append(Rejection(seen[email][0], "email", email,
                                                     f"already exists (prospect #{row['id']})"))
                elif on_duplicate == OnDuplicate.SKIP:
                    result.skipped += 1
                elif (change := _changes(seen[email], row)) is None:
                    result.unchanged += 1
                else:
                    updates.append(change)
            result.rejected.sort(key=lambda r: r.row)
            if result.rejected and not skip_invalid:
                raise ImportRejected(result)
            if dry_run:
                result.inserted, result.updated = len(new), len(updates)
                result.updated_ids = [u[0] for u in updates]
            elif new or updates:
                _write(conn, actor, inserter, [seen[email] for email in new[inserter.staged:]],
                       updates, result, on_duplicate.value)
        finally:
            if inserter:
                inserter.close()  # before the transaction ends, whichever way
            sys.setswitchinterval(switch)
    if progress:
        progress(result.rows, result.rows)
    return result


def import_file(conn: sqlite3.Connection, actor: str, path: str | Path, **options: Any
                ) -> ImportResult:
    """Import the CSV or JSON file at ``path``; see ``import_data`` for the options."""
    return import_data(conn, actor, read_file(path), str(path), **options)
