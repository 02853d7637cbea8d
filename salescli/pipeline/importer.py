"""Import prospects from CSV, JSON or NL-JSON: a streaming pipeline of bytes → text → records
(``import_read``) → mapped columns (``import_map``) → checked rows (``import_check``) →
written (``import_write``), all-or-nothing in one transaction, one audit activity.

Nothing holds the whole file: rows are checked a batch at a time and staged in SQLite's
temporary database; duplicates are found with a small bit filter and a look-up of the
staged rows when it answers "maybe".
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from salescli.core import audit
from salescli.core.enums import OnDuplicate
from salescli.core.errors import InvalidValue, SalescliError
from salescli.core.timeutil import now
from salescli.pipeline import import_crm, import_write
from salescli.pipeline.import_check import Validator
from salescli.pipeline.import_crm import CrmOptions
from salescli.pipeline.import_json import read_json
from salescli.pipeline.import_map import HeaderMap
from salescli.pipeline.import_plan import EmailFilter, Plan, PlanIncomplete
from salescli.pipeline.import_read import (
    InputFormat,
    Rejection,
    Source,
    TooLong,
    open_text,
    read_csv,
)
from salescli.pipeline.import_rows import Rows, stage_info
from salescli.pipeline.import_write import Inserter, existing, ranges, session

__all__ = ["CrmOptions", "ImportRejected", "ImportResult", "OnDuplicate", "PlanIncomplete",
           "Source", "TooLong", "import_data", "import_file", "import_source"]

_FLUSH = 1000  # new rows from which a batch is inserted while the next one is checked
_SWITCH = 0.0002  # s, GIL switch interval while a worker writes (default 0.005: ~5% slower)
_REPORTED = 1000  # rejections kept to report one by one; the others are counted
_BLOOM_BITS = 1 << 27  # 16 MiB: under one false "maybe" per million emails


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
    rejected_rows: int = 0
    inserted_ids: range | list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False
    activity_id: int | None = None
    recognised: str | None = None  # what the file was taken for (None: generic)
    plan: Plan | None = None
    case_merged: int = 0  # rows folded into an earlier one with the address
    deal_notes: int = 0  # deals of a deals export kept as timeline notes
    other_addresses: int = 0
    owners_created: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        """Every prospect created or changed, in id order."""
        return sorted([*self.inserted_ids, *self.updated_ids])

    @property
    def unreported(self) -> int:
        """Rejected rows not in ``rejected`` (only the first ones are kept)."""
        return self.rejected_rows - len({r.row for r in self.rejected})

    def reject(self, rejections: list[Rejection]) -> None:
        """Count rejections (of rows in order); keep the first ones to report."""
        if not rejections:
            return
        rejections.sort(key=lambda r: r.row)
        self.rejected_rows += len({r.row for r in rejections})
        room = _REPORTED - len(self.rejected)
        if room > 0:
            self.rejected += rejections[:room]

    def summary(self) -> str:
        """One line for people: what happened, or for a dry run what would."""
        verbs = ("to insert", "to update") if self.dry_run else ("inserted", "updated")
        parts = [f"{self.inserted} {verbs[0]}", f"{self.updated} {verbs[1]}"]
        parts += [f"{n} {w}" for n, w in ((self.unchanged, "unchanged"),
                                          (self.merged, "merged into an earlier row"),
                                          (self.case_merged, "merged with an earlier row "
                                           "for the same address (ignoring case)"),
                                          (self.deal_notes, "other deals kept as timeline "
                                           "notes"),
                                          (self.other_addresses, "other addresses"),
                                          (len(self.owners_created), "owners "
                                           + ("to create" if self.dry_run else "created")),
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


class _Duplicates:
    """Finds rows whose email came earlier in the file and handles them by ``mode``."""

    def __init__(self, inserter: Inserter, mode: OnDuplicate, result: ImportResult):
        self.inserter, self.mode, self.result = inserter, mode, result
        self.seen = EmailFilter(_BLOOM_BITS)

    def first_rows(self, staged: list[tuple], rejected: list[Rejection]) -> list[tuple]:
        """The rows of a batch whose email is new to the file, in order."""
        fresh = staged
        if len(dict.fromkeys(row[1] for row in staged)) < len(staged):
            local: dict[str, int] = {}  # email → index in fresh
            fresh = []
            for row in staged:
                j = local.get(row[1])
                if j is None:
                    local[row[1]] = len(fresh)
                    fresh.append(row)
                else:
                    fresh[j] = self.handle(row, fresh[j][0], rejected, fresh[j]) or fresh[j]
        maybe = self.seen.add([row[1] for row in fresh])
        if not maybe:
            return fresh
        found = self.inserter.find([fresh[j][1] for j in maybe])
        drop = set()
        for j in maybe:
            row = fresh[j]
            if row[1] in found:
                first, kind, key = found[row[1]]
                if self.handle(row, first, rejected) is not None:
                    self.inserter.merge(kind, key, row)
                drop.add(j)
        return [row for j, row in enumerate(fresh) if j not in drop]

    def handle(self, row: tuple, first: int, rejected: list[Rejection],
               earlier: tuple | None = None) -> tuple | None:
        """A duplicate of row ``first``: rejected, skipped or merged (the merged row, for
        an earlier row of the same batch; ``row`` itself when it is to be merged into a
        staged one; None when nothing is to be merged)."""
        if self.mode == OnDuplicate.ERROR:
            rejected.append(Rejection(row[0], "email", row[1], f"is a duplicate of row {first}"))
            return None
        if self.mode == OnDuplicate.SKIP:
            self.result.skipped += 1
            return None
        self.result.merged += 1  # later non-empty fields win; the row keeps its place
        if earlier is None:
            return row
        return earlier[:2] + tuple(b if b is not None else a
                                   for a, b in zip(earlier[2:], row[2:], strict=True))


def import_source(conn: sqlite3.Connection, actor: str, source: Source, *,
                  fmt: str | None = None, on_duplicate: str = OnDuplicate.ERROR,
                  skip_invalid: bool = False, dry_run: bool = False,
                  ignore_unknown: bool = False, date_format: str | None = None,
                  mapping: dict[str, str] | None = None, crm: CrmOptions | None = None,
                  progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Validate and import prospects from a CSV or JSON source, streaming.

    A CSV export of another CRM is recognised from its header row (or named by ``crm``)
    and read by its plan, decided by a first pass (``import_plan``); any other goes
    through the generic reader. Raises ImportRejected (nothing written) when a row is
    rejected and ``skip_invalid`` is off, PlanIncomplete for unmapped stage values or
    unknown owners; file-level problems and broken limits raise InvalidValue or TooLong
    naming the file (and the row and field). ``mapping`` adds header spellings (header →
    field) to the generic reader.
    """
    crm = crm or CrmOptions()
    mode = OnDuplicate(on_duplicate)
    kind, first, pieces = open_text(source, fmt)
    names = [r[0] for r in conn.execute("SELECT name FROM stages WHERE removed_at IS NULL")]
    headers = HeaderMap(source.name, ignore_unknown, names, mapping)
    plan: Plan | None = None
    rows_plan: Rows | None = None
    if kind == InputFormat.CSV:
        header_row, batches = read_csv(source, pieces)
        profile = import_crm.choose_profile(crm, header_row, headers)
        if profile is None:
            headers.extend(header_row)
            headers.require_email()
        else:
            header_row = import_crm.read_as_given(source, profile, header_row)
            plan, batches = import_crm.first_pass(conn, source, fmt, profile, header_row,
                                                  crm, date_format)
            rows_plan = Rows(plan, stage_info(conn))
    elif crm.tool or crm.mapping or crm.planned:
        raise InvalidValue("file", source.name, "is JSON: --from, --mapping, --map, "
                           "--stage-map, --owner-map, --create-owners and --write-mapping "
                           "are for CSV exports")
    else:
        batches = read_json(source, pieces, first)
    result = ImportResult(file=Path(source.name).name, format=kind.value, dry_run=dry_run)
    if plan is not None:
        result.plan = plan
        result.recognised = plan.label
    ts = now()
    with session(conn, write=not dry_run):
        inserter = Inserter(conn, actor, ts)
        if plan is not None:
            import_crm.create_owners(conn, actor, plan, crm, dry_run, ts, result)
        # New rows are inserted while the file is read unless a later row may still change
        # them (update mode merges duplicates in the file); a rejection stops that.
        early = not dry_run and mode != OnDuplicate.UPDATE
        switch = sys.getswitchinterval()
        if early:  # the worker waits for the GIL after each statement: hand it over sooner
            sys.setswitchinterval(min(switch, _SWITCH))
        try:
            validator: Validator | None = None
            duplicates = _Duplicates(inserter, mode, result)
            had_rows = conn.execute("SELECT 1 FROM prospects LIMIT 1").fetchone() is not None

            def take(staged: list[tuple], rejected: list[Rejection]) -> None:
                """Stage checked rows: duplicates in the file and the database handled."""
                fresh = duplicates.first_rows(staged, rejected)
                if had_rows and fresh:
                    fresh = _against_database(inserter, conn, fresh, mode, rejected, result)
                result.reject(rejected)
                inserter.stage(fresh)

            count, mapped = 0, -1
            for numbers, cells, bad in batches:
                count += len(numbers) + len(bad)
                cols = headers.cols
                given = None
                if rows_plan is not None:
                    numbers, cells, given, unread = rows_plan.batch(numbers, cells)
                    bad = bad + unread
                    cols = rows_plan.cols
                    # (a sentinel: another value rebuilds the same Validator, slower)
                    mapped = -2 if validator is not None else mapped  # pragma: no mutate
                if kind == InputFormat.JSON:
                    cells, cols = _rows(headers, cells)
                if mapped not in (len(headers.cols), -2) and (cells or kind == InputFormat.CSV):
                    validator = Validator(conn, dict(cols),
                                          text_only=kind == InputFormat.CSV,
                                          idle=inserter.wait, ts=ts,
                                          date_format=None if plan else date_format,
                                          parsers=rows_plan.parsers if rows_plan else None)
                    mapped = len(headers.cols)
                    inserter.past = inserter.past or validator.history
                staged, rejected = validator.check(numbers, cells, given) if validator \
                    else ([], [])
                rejected += bad
                if rows_plan is not None:
                    staged = rows_plan.set_aside(staged)
                take(staged, rejected)
                # (not early: the same rows, all written at the end, slower)
                early = early and (skip_invalid or not result.rejected_rows)  # pragma: no mutate
                if early and inserter.staged - inserter.inserted >= _FLUSH:
                    inserter.insert()
                if progress and source.size:
                    progress(source.read, source.size)
            if rows_plan is not None:
                take(rows_plan.grouped(ts), [])
                result.case_merged, result.deal_notes = rows_plan.merged, rows_plan.deals
            result.rows = count
            result.notes = headers.notes()
            if result.rejected_rows and not skip_invalid:
                raise ImportRejected(result)
            inserter.wait()
            if mode == OnDuplicate.UPDATE:
                result.unchanged, result.updated_ids, fields = \
                    import_write.updates(conn, actor, ts, apply=not dry_run)
            else:
                fields = {}
            result.updated = len(result.updated_ids)
            if dry_run:
                result.inserted = inserter.staged
                if rows_plan is not None:
                    result.other_addresses = sum(map(len, rows_plan.other_emails.values()))
            elif inserter.staged or result.updated_ids:
                result.inserted_ids = inserter.finish()
                result.inserted = len(result.inserted_ids)
                if rows_plan is not None:
                    import_crm.write_after(conn, actor, rows_plan, result, ts)
                result.activity_id = audit.record(conn, actor, "import", "prospect", None, None, {
                    "file": result.file, "format": result.format, "rows": result.rows,
                    "on_duplicate": mode.value, "inserted": result.inserted,
                    "updated": result.updated, "unchanged": result.unchanged,
                    "skipped": result.skipped, "merged": result.merged,
                    "rejected_rows": result.rejected_rows, "updated_fields": fields,
                    "inserted_ids": ranges(result.inserted_ids),
                    "updated_ids": ranges(result.updated_ids),
                    **({"recognised": result.recognised, "case_merged": result.case_merged,
                        "deal_notes": result.deal_notes,
                        "other_addresses": result.other_addresses,
                        "owners_created": result.owners_created} if plan else {}),
                }, at=ts)
                result.written = True
        finally:
            inserter.drop()  # before the transaction ends, whichever way
            sys.setswitchinterval(switch)
    if progress and source.size:
        progress(source.size, source.size)
    return result


def _rows(headers: HeaderMap, objects: list[dict]) -> tuple[list[list], dict[str, int]]:
    """JSON objects as lists of the cells of mapped keys, and field → position in them;
    new keys are mapped (a file of ever new ignored keys costs nothing per row)."""
    new = [k for k in dict.fromkeys(chain.from_iterable(objects)) if k not in headers.known]
    if new:
        headers.extend(new)
    if objects:
        headers.require_email()
    keys = [headers.headers[i] for i in headers.cols.values()]
    return [[item.get(k) for k in keys] for item in objects], \
        {f: j for j, f in enumerate(headers.cols)}


def _against_database(inserter: Inserter, conn: sqlite3.Connection, fresh: list[tuple],
                      mode: OnDuplicate, rejected: list[Rejection],
                      result: ImportResult) -> list[tuple]:
    """The rows whose email no prospect of the database has yet; the others rejected,
    skipped or staged as updates by ``mode``."""
    inserter.wait()
    base = inserter.args["base"]
    known = {e: r for e, r in existing(conn, [r[1] for r in fresh]).items()
                if r["id"] <= base}
    if not known:
        return fresh
    updates = []  # staged whatever the mode: a later row with the email is its duplicate
    for row in fresh:
        found = known.get(row[1])
        if found is None:
            continue
        if mode == OnDuplicate.ERROR:
            rejected.append(Rejection(row[0], "email", row[1],
                                      f"already exists (prospect #{found['id']})"))
        elif mode == OnDuplicate.SKIP:
            result.skipped += 1
        updates.append((found["id"], row))
    if updates:
        inserter.stage_updates(updates)
    return [row for row in fresh if row[1] not in known]


def import_data(conn: sqlite3.Connection, actor: str, data: bytes | str, name: str,
                **options: Any) -> ImportResult:
    """Import from bytes or text already in memory; see ``import_source`` for options."""
    return import_source(conn, actor, Source.of(data, name), **options)


def import_file(conn: sqlite3.Connection, actor: str, path: str | Path, **options: Any
                ) -> ImportResult:
    """Import the file at ``path`` (``-``: standard input), streaming; see
    ``import_source`` for the options."""
    source = Source.open(path)
    try:
        return import_source(conn, actor, source, **options)
    finally:
        source.close()

