"""Write an import: stage checked rows in temporary tables, insert the new prospects with
their full-text, tag and stage-history rows a batch at a time, apply updates in bulk.

New rows go through a temporary staging table into ``prospects`` with INSERT … SELECT, a
batch at a time, so that the full-text, tag and history rows are written by a few
statements rather than per row (executemany is ~5× slower); a big import runs each batch's
statements on a worker thread while the next batch is read and checked
(benchmarks/bench_import.py). The staging tables live in SQLite's temporary database (a
file), so a file of any size is held on disk, not in memory.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from itertools import chain
from typing import Any

from salescli.core import funnel_schema
from salescli.core.db import transaction
from salescli.pipeline import stages

_CHUNK = 500  # emails per duplicate lookup (well under SQLite's parameter limit)
_CACHE_KIB = 24576  # page cache while importing (the email index is written at random);
# with the sorter that rebuilds indexes at the end (as big), it bounds memory: bench_import.py
_SORT_KIB = 1024  # page cache while re-creating indexes: SQLite sorts in runs this big, which
# fit the CPU's cache (a 300k-row index: half the time of one run in the whole cache)
_VALUES = 76  # rows per multi-row INSERT into the staging table (988 parameters: < 999)
_FIELDS = ("name", "company", "owner", "stage_id", "value", "tags", "source", "notes")
_SCANS = 2  # look-ups of staged rows that read them all; the next builds an index on email


@contextmanager
def session(conn: sqlite3.Connection, write: bool) -> Iterator[None]:
    """A write transaction (for a dry run, a read transaction rolled back) with a page cache
    big enough for the email index."""
    old = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {min(old, -_CACHE_KIB) if old < 0 else -_CACHE_KIB}")
    # Every key the import writes it allocated itself (prospect ids) or read from its own
    # transaction (stage ids), so SQLite's look-ups of them, three a stage change, can find
    # nothing wrong: off while it writes (the switch works only outside a transaction).
    # 100k prospects with history: 0.3 s less. Back on however the import ends.
    checked = write and not conn.in_transaction and \
        conn.execute("PRAGMA foreign_keys").fetchone()[0]
    if checked:
        conn.execute("PRAGMA foreign_keys = OFF")
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
        if checked:
            conn.execute("PRAGMA foreign_keys = ON")


def existing(conn: sqlite3.Connection, emails: list[str]) -> dict[str, sqlite3.Row]:
    """The prospects already holding some of these (normalised) emails, by email."""
    found: dict[str, sqlite3.Row] = {}
    for start in range(0, len(emails), _CHUNK):
        chunk = emails[start:start + _CHUNK]
        for row in conn.execute(
                "SELECT id, email, name, company, owner, stage_id, value, tags, source, notes"
                f" FROM prospects WHERE email IN ({','.join('?' * len(chunk))})", chunk):
            found[row["email"]] = row
    return found


def ranges(ids: list[int] | range) -> list[list[int]]:
    """[[first, last], …] runs of consecutive ids: compact, exact, no personal data."""
    if isinstance(ids, range):
        return [[ids[0], ids[-1]]] if ids else []
    if ids and ids == list(range(ids[0], ids[0] + len(ids))):
        return [[ids[0], ids[-1]]]  # the new rows of an import: one run, found in C
    out: list[list[int]] = []
    for i in sorted(ids):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


_BULK_MIN = 1000  # new rows from which _suspend pays off
_NEW = "temp.salescli_import_new"  # the staging table; n = 1, 2, …; a prospect's id is base + n
_UPD = "temp.salescli_import_upd"  # rows for prospects already there (--on-duplicate update)
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
    " owner, coalesce(stage_id, :first), value, coalesce(tags, '[]'), source, notes,"
    f" coalesce(entered, :ts), coalesce(created, :ts), :ts FROM {_NEW}{_BATCH_ROWS} ORDER BY n")
_HISTORY = (
    "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor, owner,"
    " value, note) SELECT :base + n, NULL, coalesce(stage_id, :first), :ts, :actor, owner,"
    f" value, 'created' FROM {_NEW}{_BATCH_ROWS} AND history IS NULL ORDER BY n")
# Imported history: one stage change per [to, at] (a lost one: [to, at, reason]) of the
# row's list, from the stage the change before went to; the first is the creation. Read by
# json_extract with paths from a small table (json_each: 2.5x slower; SQLite keeps the
# parsed list of a row between the calls); a list of five-item changes was 1.5x slower.
_STEPS = "temp.salescli_import_steps"
_PAST = (
    "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor, owner,"
    " value, note, reason) SELECT :base + s.n, json_extract(s.history, k.before),"
    " json_extract(s.history, k.stage), json_extract(s.history, k.at), :actor, s.owner,"
    " s.value, k.note, json_extract(s.history, k.reason)"
    f" FROM {_NEW} s JOIN {_STEPS} k ON k.i < json_array_length(s.history)"
    " WHERE s.n BETWEEN :lo AND :hi AND s.history IS NOT NULL ORDER BY s.n, k.i")


# The furthest stage of the batch's new prospects (m011_funnel_sparse), when the import has
# suspended the triggers that keep it: the position their history reached (import_check's
# chain; -1: only lost stages), kept where it is past the stage they are in (a lost one has
# none). A row without history has one change, to its stage: no row. (Reading it back from
# the stage changes just written took 0.12 s of 100k prospects with history, on the
# connection, which the import's speed is bound by.)
_FURTHEST = (
    "INSERT INTO prospect_furthest(prospect_id, position) SELECT :base + s.n, s.reached"
    f" FROM {_NEW} s LEFT JOIN stages g ON g.id = coalesce(s.stage_id, :first)"
    " AND g.kind != 'lost' WHERE s.n BETWEEN :lo AND :hi"
    " AND s.reached > coalesce(g.position, -1)")


_COLUMNS = ("row", "email", *_FIELDS, "created", "entered", "history", "currency", "reached")
# Columns of prospects that an import writes one value to in all its rows (a default,
# NULL or the import's time); an index of them only is appended to (see _suspend).
_ONE_KEY = {"email_status", "bounce_reason", "archived_at", "last_interaction_at",
            "last_contacted_at", "last_reply_at", "updated_at"}
# The next id: never one a deleted prospect had (the table is AUTOINCREMENT for that).
_BASE = ("SELECT max(coalesce((SELECT max(id) FROM prospects), 0), coalesce((SELECT seq"
         " FROM sqlite_sequence WHERE name = 'prospects'), 0))")


def _bulk(name: str, sql: str) -> bool:
    """Whether a trigger is one whose work a batch does in one statement (its SQL is ours).
    Which triggers are suspended is speed only: one left alone fires, the same rows."""
    return name in _BULK and " ".join(sql.split()) == _BULK[name][0]  # pragma: no mutate


def _suspend(conn: sqlite3.Connection, rows: int) -> list[tuple[str, str | None]]:
    """Drop what a big insert is faster without; return (SQL to re-create, batch fill).

    Firing the full-text and tag triggers once per row costs more than the insert itself,
    so for a big import they are dropped, their work is done by one statement a batch,
    and they are re-created — all inside the import's transaction, so nobody ever sees them
    missing. A trigger whose SQL is not the one known here is left alone and fires. The
    secondary indexes of a table the import fills that is empty are also built once at
    the end rather than row by row (UNIQUE and primary key indexes stay), but for those
    that begin with prospect_id, or hold only columns all new rows get one value in: rows
    come in their order, so each batch appends to them on the worker thread while the
    next one is checked, instead of a sort at the end that nothing overlaps (100k
    prospects with history: 0.19 s less at the end, 0.16 s more on the worker).
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
            columns = [r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')]
            # Written in its order (ids ascending), or one key for all the rows an import
            # adds (the same key's entries are in id order): appended on the worker, kept.
            # Which indexes stay live is a matter of speed only: all are there at the end
            # (100k prospects: 0.1 s less at the end, 0.05 s more on the worker).
            appended = columns[0] == "prospect_id"  # pragma: no mutate: speed only
            one_key = table == "prospects" and set(columns) <= _ONE_KEY  # pragma: no mutate
            if appended or one_key:  # pragma: no mutate: speed only (see above)
                continue  # pragma: no mutate: speed only (see above)
            dropped.append((sql, None))
        elif kind == "trigger" and _bulk(name, sql):
            dropped.append((sql, _BULK[name][1]))
        # (kept, the triggers write the same rows as each batch's _kept_furthest, only slower)
        elif kind == "trigger" and name in funnel_schema.BULK_TRIGGERS:  # pragma: no mutate
            dropped.append((sql, None))  # pragma: no mutate (each batch's _kept_furthest)
        else:
            continue
        conn.execute(f'DROP {kind.upper()} "{name}"')
    return dropped


class Inserter:
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
        self.indexed = False  # has the staging table an index on email yet?
        self.lookups = 0  # calls of find  # pragma: no mutate (speed only, see find)
        self.past = False  # may staged rows carry history (set by the caller)?
        self.args["base"] = conn.execute(_BASE).fetchone()[0]
        # prospects.currency (issue 16's migration): written when the table has it
        self.insert_sql = _INSERT
        if any(r[1] == "currency" for r in conn.execute("PRAGMA table_info(prospects)")):
            self.insert_sql = _INSERT.replace(" notes, stage_entered_at,", " notes, currency,"
                                              " stage_entered_at,").replace(
                " notes, coalesce(entered", " notes, currency, coalesce(entered")
        conn.execute(f"DROP TABLE IF EXISTS {_NEW}")
        conn.execute(f"CREATE TEMP TABLE {_NEW.split('.')[1]} (n INTEGER PRIMARY KEY, "
                     + ", ".join(_COLUMNS) + ")")
        conn.execute(f"DROP TABLE IF EXISTS {_UPD}")
        steps = conn.execute("SELECT count(*) + 2 FROM stages").fetchone()[0]
        conn.execute(f"DROP TABLE IF EXISTS {_STEPS}")
        conn.execute(f"CREATE TEMP TABLE {_STEPS.split('.')[1]} (i INTEGER PRIMARY KEY,"
                     " before, stage, at, reason, note)")
        conn.executemany(f"INSERT INTO {_STEPS} VALUES (?, ?, ?, ?, ?, ?)", [
            (i, f"$[{i - 1}][0]" if i else None, f"$[{i}][0]", f"$[{i}][1]", f"$[{i}][2]",
             "import" if i else "created") for i in range(steps)])
        # rows for prospects already there: their id, the row as given in the file
        conn.execute(f"CREATE TEMP TABLE {_UPD.split('.')[1]} (id INTEGER PRIMARY KEY,"
                     " row, email UNIQUE, " + ", ".join(_FIELDS) + ")")

    def find(self, emails: list[str]) -> dict[str, tuple[int, str, int]]:
        """Rows staged before with these emails: email → (row, "new" or "update", n or id).
        Rare (only what the caller's filter could not rule out): the first calls read the
        staged rows (a false "maybe" of the filter, in about one import of 100k rows in
        ten, then costs ~10 ms, not an index built and kept up for the rest of the import:
        ~0.1 s); a file with duplicates gets the index on the staging table."""
        self.wait()
        self.lookups += 1  # pragma: no mutate (speed only, as below)
        # (which look-ups read all rows is a matter of speed only: the answer is the same)
        if not self.indexed and self.lookups > _SCANS:  # pragma: no mutate
            self.conn.execute(f"CREATE INDEX {_NEW}_email ON {_NEW.split('.')[1]}(email)")
            self.indexed = True
        found: dict[str, tuple[int, str, int]] = {}
        tables = [(_NEW, "n", "new"), (_UPD, "id", "update")]
        for start in range(0, len(emails), _CHUNK):
            chunk = emails[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for table, key, kind in tables:
                for email, row, n in self.conn.execute(
                        f"SELECT email, row, {key} FROM {table} WHERE email IN ({marks})",
                        chunk):
                    found[email] = (row, kind, n)
        return found

    def merge(self, kind: str, key: int, row: tuple) -> None:
        """Fold a later row of the file into an earlier staged one: its non-empty fields
        win (--on-duplicate update)."""
        self.wait()
        columns = _COLUMNS[2:] if kind == "new" else _FIELDS
        table, where = (_NEW, "n") if kind == "new" else (_UPD, "id")
        self.conn.execute(f"UPDATE {table} SET " + ", ".join(
            f"{c} = coalesce(?, {c})" for c in columns) + f" WHERE {where} = ?",
            [*row[2:2 + len(columns)], key])

    def stage_updates(self, rows: list[tuple[int, tuple]]) -> None:
        """Stage (prospect id, checked row) of rows for prospects already there."""
        self.wait()
        self.conn.executemany(f"INSERT INTO {_UPD} VALUES (?, ?, ?, " + ", ".join(
            "?" * len(_FIELDS)) + ")", [(pid, *row[:2 + len(_FIELDS)]) for pid, row in rows])

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
        # Only the columns some row of the batch fills are bound (the others stay NULL):
        # Python's sqlite3 binds None ~4x slower than a string, and a file leaves most of
        # the optional columns empty (100k rows: ~0.1 s of CPU less). Binding them all
        # would write the same rows, only slower.
        # (rows are tuples of one width: zip's strict can never fail)
        columns, n = list(zip(*rows, strict=True)), len(rows)  # pragma: no mutate
        given = [i for i, c in enumerate(columns) if c.count(None) < n]  # pragma: no mutate
        rows = list(zip(*(columns[i] for i in given), strict=True))  # pragma: no mutate
        names = ", ".join(_COLUMNS[i] for i in given)
        marks = "(" + ", ".join("?" * len(given)) + ")"
        stage = f"INSERT INTO {_NEW}({names}) VALUES "
        whole = len(rows) - len(rows) % _VALUES  # multi-row VALUES: ~25% less than executemany
        many = stage + ", ".join([marks] * _VALUES)
        # The parameters are laid out before waiting for the batch in flight: the
        # connection, which the import's speed is bound by, is not kept idle meanwhile.
        chunks = [list(chain.from_iterable(rows[start:start + _VALUES]))
                  for start in range(0, whole, _VALUES)]
        self.wait()
        conn = self.conn
        if self.args["first"] is None and None in columns[5]:  # a row with no stage
            self.args["first"] = stages.first_stage(conn)["id"]
        for params in chunks:
            conn.execute(many, params)
        if whole < len(rows):  # pragma: no mutate: executemany of no rows does nothing
            conn.executemany(stage + marks, rows[whole:])
        self.staged += len(rows)

    def insert(self, final: bool = False) -> None:
        """Insert the staged rows not inserted yet: on a worker thread unless ``final``."""
        self.wait()
        lo, hi = self.inserted + 1, self.staged
        if hi < lo:
            return
        if self.suspended is None:  # the first batch: is the import big?
            self.suspended = _suspend(self.conn, hi if final else max(hi, _BULK_MIN))
        statements = [self.insert_sql, *(fill for _, fill in self.suspended if fill), _HISTORY,
                      # (a row without history has no changes in _PAST: speed only)
                      *([_PAST] if self.past else []),  # pragma: no mutate
                      *([_FURTHEST] if self.past and self._furthest() else [])]
        args = {**self.args, "lo": lo, "hi": hi}
        self.inserted = hi
        if final or not self._threadable():
            self._run(statements, args)
        else:
            self.thread = threading.Thread(target=self._work, args=(statements, args),
                                           name="salescli-import", daemon=True)
            self.thread.start()

    def finish(self) -> range:
        """Insert what is left, re-create what was suspended; the ids of the new rows."""
        self.insert(final=True)
        # (the import's own cache, put back after: speed only for what the connection does next)
        cache = self.conn.execute("PRAGMA cache_size").fetchone()[0]  # pragma: no mutate
        self.conn.execute(f"PRAGMA cache_size = -{_SORT_KIB}")
        try:
            for create, _ in self.suspended or ():
                self.conn.execute(create)
        finally:
            self.conn.execute(f"PRAGMA cache_size = {cache}")
        base = self.args["base"]
        return range(base + 1, base + self.staged + 1)

    def drop(self) -> None:
        """Drop the staging tables (the import is over, whichever way)."""
        self.close()
        with suppress(sqlite3.Error):
            self.conn.execute(f"DROP TABLE IF EXISTS {_NEW}")
            self.conn.execute(f"DROP TABLE IF EXISTS {_UPD}")
            self.conn.execute(f"DROP TABLE IF EXISTS {_STEPS}")

    def _furthest(self) -> bool:
        """Whether the funnel's insert triggers are suspended, so each batch computes its
        prospects' furthest stage itself (m010_funnel)."""
        # (a migrated database has both triggers: suspended together, or nothing is)
        return any(name in create for create, _ in self.suspended or ()  # pragma: no mutate
                   for name in funnel_schema.BULK_TRIGGERS)

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




def updates(conn: sqlite3.Connection, actor: str, ts: str, apply: bool = True
            ) -> tuple[int, list[int], dict]:
    """Apply the staged rows for prospects already there: only the given fields that differ
    (a stage that is the same is no move: the time in stage stays). Returns the number of
    rows that changed nothing, the ids updated and how often each field was changed;
    ``apply`` False (a dry run) only counts."""
    same = {c: f"u.{c} IS p.{c}" for c in _FIELDS}
    same["tags"] = "json(u.tags) = json(p.tags)"
    conn.execute(f"UPDATE {_UPD} AS u SET " + ", ".join(
        f"{c} = CASE WHEN {same[c]} THEN NULL ELSE u.{c} END" for c in _FIELDS)
        + " FROM prospects p WHERE p.id = u.id")
    unchanged = conn.execute(f"DELETE FROM {_UPD} WHERE " + " AND ".join(
        f"{c} IS NULL" for c in _FIELDS)).rowcount
    counts = conn.execute("SELECT " + ", ".join(f"count({c})" for c in _FIELDS)
                          + f" FROM {_UPD}").fetchone()
    fields = {("stage" if c == "stage_id" else c): n for c, n in zip(_FIELDS, counts,
                                                                     strict=True) if n}
    ids = [r[0] for r in conn.execute(f"SELECT id FROM {_UPD} ORDER BY id")]
    if ids and apply:
        conn.execute(
            "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor,"
            " owner, value, note) SELECT p.id, p.stage_id, u.stage_id, ?, ?,"
            " coalesce(u.owner, p.owner), coalesce(u.value, p.value), 'import'"
            f" FROM {_UPD} u JOIN prospects p ON p.id = u.id"
            " WHERE u.stage_id IS NOT NULL ORDER BY u.id", (ts, actor))
        conn.execute(
            "UPDATE prospects SET " + ", ".join(f"{c} = coalesce(u.{c}, prospects.{c})"
                                                for c in _FIELDS)
            + ", stage_entered_at = CASE WHEN u.stage_id IS NULL"
            " THEN prospects.stage_entered_at ELSE :ts END, updated_at = :ts"
            f" FROM {_UPD} u WHERE u.id = prospects.id", {"ts": ts})
    return unchanged, ids, fields
