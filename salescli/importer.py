"""Import prospects from CSV or JSON: header mapping, the validation of ``prospects.add``,
duplicates by normalised email, all-or-nothing in one transaction, one audit activity.

New rows go through a temporary staging table into ``prospects`` with one INSERT … SELECT,
so the full-text and tag triggers run inside a single statement: firing them from one
statement per row (executemany) is ~5× slower (see benchmarks/bench_import.py).
Reading the file (decoding, format, header mapping, CSV/JSON rows) is in
``salescli.import_read``; its public names are re-exported here.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from types import NoneType
from typing import Any

from salescli import audit, pipeline
from salescli.db import now, transaction
from salescli.errors import InvalidValue, SalescliError
from salescli.import_read import (  # noqa: F401  (re-exported)
    ALIASES,
    FIELDS,
    InputFormat,
    Rejection,
    decode,
    detect_format,
    map_columns,
    read_csv,
    read_file,
    read_json,
)
from salescli.prospects import normalise_email, parse_tags, parse_value


class OnDuplicate(StrEnum):
    """What to do with a row whose email already exists (in the file or the database)."""

    ERROR = "error"
    SKIP = "skip"
    UPDATE = "update"


_CHUNK = 500  # emails per duplicate lookup (well under SQLite's parameter limit)
_CACHE_KIB = 65536  # page cache while importing: the email index is written at random


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


# --------------------------------------------------------------------------- validating


class _Validator:
    """Checks rows with the rules of ``prospects.add``, a column at a time (a cell seen
    before in a stage, value or tags column is not parsed again)."""

    def __init__(self, conn: sqlite3.Connection, cols: dict[str, int], text_only: bool):
        self.conn, self.text_only = conn, text_only  # text_only: every cell is a str (CSV)
        convert = {"email": normalise_email, "stage": self.stage, "value": _value,
                   "tags": _tags}
        # (position in the staged row, column, converter or None for text, memo or None)
        self.plan = [(pos, cols[f], convert.get(f), {None: None} if f in ("stage", "value",
                      "tags") else None) for pos, f in enumerate(FIELDS, 1) if f in cols]
        self.parts = [] if "name" in cols else \
            [cols[f] for f in ("first_name", "last_name") if f in cols]

    def stage(self, value: Any) -> int | None:
        text = str(value).strip()
        return pipeline.get_stage(self.conn, text)["id"] if text else None

    def check(self, numbers: list[int], rows: list[list]) -> tuple[list[tuple], list]:
        """Staged rows (number, email, name, company, owner, stage_id, value, tags, source,
        notes; None: not given) of the valid rows, and the rejections of the others."""
        if not rows:
            return [], []
        bad: dict[int, list[Rejection]] = {}  # index in rows → its rejections

        def attempt(i: int, pos: int, convert: Callable | None, value: Any) -> Any:
            try:
                if convert is None:
                    return _text(FIELDS[pos - 1], value)
                return convert(value) if value is not None or pos == 1 else None
            except InvalidValue as exc:
                missing = pos == 1 and not str(value or "").strip()
                bad.setdefault(i, []).append(Rejection(
                    numbers[i], exc.field, "" if missing else exc.value,
                    "is required" if missing else exc.reason))

        columns: list[Any] = [numbers] + [repeat(None)] * 9
        for pos, col, convert, memo in self.plan:
            values = list(map(itemgetter(col), rows))
            types = {str} if self.text_only else set(map(type, values))
            if convert is None and types == {str}:
                columns[pos] = [v.strip() or None for v in values]
            elif pos == 1 and types == {str}:
                try:  # the common case: no bad address, no per-cell try
                    columns[pos] = [convert(v) for v in values]
                except InvalidValue:
                    columns[pos] = [attempt(i, pos, convert, v) for i, v in enumerate(values)]
            elif memo is not None and types <= {str, NoneType}:
                for v in set(values).difference(memo):
                    try:
                        memo[v] = convert(v)
                    except InvalidValue as exc:
                        memo[v] = exc
                out = [memo[v] for v in values]
                if any(memo[v].__class__ is InvalidValue for v in set(values)):
                    out = [attempt(i, pos, convert, v) if x.__class__ is InvalidValue else x
                           for i, (v, x) in enumerate(zip(values, out, strict=True))]
                columns[pos] = out
            else:
                columns[pos] = [attempt(i, pos, convert, v) for i, v in enumerate(values)]
        if self.parts:
            parts = [[attempt(i, 2, None, v) for i, v in enumerate(map(itemgetter(c), rows))]
                     for c in self.parts]
            columns[2] = [" ".join(p for p in names if p) or None
                          for names in zip(*parts, strict=True)]
        staged = list(zip(*columns, strict=False))
        if bad:
            staged = [row for i, row in enumerate(staged) if i not in bad]
        return staged, [r for i in sorted(bad) for r in bad[i]]


def _value(value: Any) -> float | None:
    if isinstance(value, bool):
        raise InvalidValue("value", value, "is not a number")
    return parse_value(value)


def _tags(value: Any) -> str | None:
    """Tags as the JSON text stored, None when there are none."""
    if not isinstance(value, str | list):
        raise InvalidValue("tags", value, "must be a list of tags or a comma list")
    tags = parse_tags(value)
    return json.dumps(tags) if tags else None


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidValue(name, value, "must be text")
    return str(value).strip() or None


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
    if not conn.execute("SELECT 1 FROM prospects LIMIT 1").fetchone():
        return found
    for start in range(0, len(emails), _CHUNK):
        chunk = emails[start:start + _CHUNK]
        for row in conn.execute(
                "SELECT id, email, name, company, owner, stage_id, value, tags, source, notes"
                f" FROM prospects WHERE email IN ({','.join('?' * len(chunk))})", chunk):
            found[row["email"]] = row
    return found


def _changes(staged: list, row: sqlite3.Row) -> list | None:
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
    out: list[list[int]] = []
    for i in sorted(ids):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


_UPDATED = ("name", "company", "owner", "stage_id", "value", "tags", "source", "notes")
_BULK_MIN = 1000  # new rows from which _suspend pays off
# AFTER INSERT triggers of prospects whose work a big import does in one statement: the
# trigger's SQL (whitespace-normalised) must be exactly this for the statement to match it.
_BULK = {
    "prospects_fts_ai": (
        "CREATE TRIGGER prospects_fts_ai AFTER INSERT ON prospects BEGIN INSERT INTO"
        " prospects_fts(rowid, email, name, company, notes) VALUES (new.id, new.email,"
        " new.name, new.company, new.notes); END",
        "INSERT INTO prospects_fts(rowid, email, name, company, notes)"
        " SELECT :base + n, email, name, company, notes FROM temp.salescli_import_new"),
    "prospects_tags_ai": (
        "CREATE TRIGGER prospects_tags_ai AFTER INSERT ON prospects BEGIN INSERT OR IGNORE"
        " INTO prospect_tags(tag, prospect_id) SELECT value, new.id FROM json_each(new.tags);"
        " END",
        "INSERT OR IGNORE INTO prospect_tags(tag, prospect_id) SELECT j.value, :base + s.n"
        " FROM temp.salescli_import_new s, json_each(s.tags) j WHERE s.tags IS NOT NULL"),
}


def _suspend(conn: sqlite3.Connection, rows: int) -> list[tuple[str, str | None]]:
    """Drop what a big insert is faster without; return (SQL to re-create, one-pass fill).

    Firing the full-text and tag triggers once per row costs more than the insert itself,
    so for a big batch they are dropped, their work is done in one statement each, and
    they are re-created — all inside the import's transaction, so nobody ever sees them
    missing. A trigger whose SQL is not the one known here is left alone and fires. Into
    an empty table, the secondary indexes are also built once at the end rather than row
    by row (the UNIQUE email index stays).
    """
    if rows < _BULK_MIN:
        return []
    empty = conn.execute("SELECT 1 FROM prospects LIMIT 1").fetchone() is None
    dropped: list[tuple[str, str | None]] = []
    for kind, name, sql in conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'prospects'"
            " AND sql IS NOT NULL AND type IN ('trigger', 'index')").fetchall():
        if kind == "index" and empty:
            dropped.append((sql, None))
        elif kind == "trigger" and name in _BULK and " ".join(sql.split()) == _BULK[name][0]:
            dropped.append((sql, _BULK[name][1]))
        else:
            continue
        conn.execute(f'DROP {kind.upper()} "{name}"')
    return dropped


def _write(conn: sqlite3.Connection, actor: str, new: list[list], updates: list[list],
           result: ImportResult, on_duplicate: str) -> None:
    """Insert the new rows and apply the updates in bulk, then record one activity."""
    ts = now()
    if new:
        # n = 1, 2, … in staging order; the prospect's id is base + n
        base = conn.execute("SELECT coalesce(max(id), 0) FROM prospects").fetchone()[0]
        first = pipeline.first_stage(conn)["id"] if any(s[5] is None for s in new) else None
        conn.execute("DROP TABLE IF EXISTS temp.salescli_import_new")
        conn.execute("CREATE TEMP TABLE salescli_import_new (n INTEGER PRIMARY KEY, row, email,"
                     " name, company, owner, stage_id, value, tags, source, notes)")
        conn.executemany("INSERT INTO temp.salescli_import_new(row, email, name, company, owner,"
                         " stage_id, value, tags, source, notes)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new)
        suspended = _suspend(conn, len(new))
        args = {"base": base, "first": first, "ts": ts, "actor": actor}
        conn.execute(
            "INSERT INTO prospects(id, email, name, company, owner, stage_id, value, tags,"
            " source, notes, stage_entered_at, created_at, updated_at)"
            " SELECT :base + n, email, name, company, owner, coalesce(stage_id, :first), value,"
            " coalesce(tags, '[]'), source, notes, :ts, :ts, :ts"
            " FROM temp.salescli_import_new ORDER BY n", args)
        for create, fill in suspended:
            if fill:
                conn.execute(fill, args)
            conn.execute(create)
        conn.execute(
            "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor,"
            " owner, value, note) SELECT :base + n, NULL, coalesce(stage_id, :first), :ts,"
            " :actor, owner, value, 'created' FROM temp.salescli_import_new ORDER BY n", args)
        conn.execute("DROP TABLE temp.salescli_import_new")
        result.inserted_ids = list(range(base + 1, base + len(new) + 1))
    if updates:
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
        result.updated_ids = [u[0] for u in updates]
    result.inserted, result.updated = len(new), len(updates)
    fields = Counter(FIELDS[k] for u in updates for k in range(1, 9) if u[k] is not None)
    result.activity_id = audit.record(conn, actor, "import", "prospect", None, None, {
        "file": result.file, "format": result.format, "rows": result.rows,
        "on_duplicate": on_duplicate, "inserted": result.inserted, "updated": result.updated,
        "unchanged": result.unchanged, "skipped": result.skipped, "merged": result.merged,
        "rejected_rows": result.rejected_rows, "updated_fields": dict(fields),
        "inserted_ids": _ranges(result.inserted_ids), "updated_ids": _ranges(result.updated_ids),
    }, at=ts)
    result.written = True


# --------------------------------------------------------------------------- importing


def _dedupe(checked: tuple[list[tuple], list[Rejection]], seen: dict[str, tuple],
            result: ImportResult, on_duplicate: OnDuplicate) -> None:
    """Add checked rows to ``seen`` (email → first row), handling duplicates in the file."""
    staged, rejected = checked
    result.rejected += rejected
    for row in staged:
        first = seen.setdefault(row[1], row)
        if first is row:
            continue
        if on_duplicate == OnDuplicate.ERROR:
            result.rejected.append(Rejection(row[0], "email", row[1],
                                             f"is a duplicate of row {first[0]}"))
        elif on_duplicate == OnDuplicate.SKIP:
            result.skipped += 1
        else:  # later non-empty fields win; the row keeps its place
            seen[row[1]] = first[:2] + tuple(b if b is not None else a
                                              for a, b in zip(first[2:], row[2:], strict=True))
            result.merged += 1


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
        check = _Validator(conn, cols, text_only=kind == InputFormat.CSV).check
        seen: dict[str, tuple] = {}  # email → the staged row that first had it
        count = 0
        for numbers, cells, bad in batches:
            count += len(numbers) + len(bad)
            result.rejected += bad
            _dedupe(check(numbers, cells), seen, result, on_duplicate)
            if progress:
                progress(count, max(estimate, count))
        result.rows = count
        existing = _existing(conn, list(seen))
        new: list[list] = []
        updates: list[list] = []
        for email, staged in seen.items():
            row = existing.get(email)
            if row is None:
                new.append(staged)
            elif on_duplicate == OnDuplicate.ERROR:
                result.rejected.append(Rejection(staged[0], "email", email,
                                                 f"already exists (prospect #{row['id']})"))
            elif on_duplicate == OnDuplicate.SKIP:
                result.skipped += 1
            elif (change := _changes(staged, row)) is None:
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
            _write(conn, actor, new, updates, result, on_duplicate.value)
    if progress:
        progress(result.rows, result.rows)
    return result


def import_file(conn: sqlite3.Connection, actor: str, path: str | Path, **options: Any
                ) -> ImportResult:
    """Import the CSV or JSON file at ``path``; see ``import_data`` for the options."""
    return import_data(conn, actor, read_file(path), str(path), **options)
