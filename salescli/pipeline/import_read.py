"""Read a prospect import file: bytes, UTF-8 text, CSV or JSON format, header mapping, and
check its rows with the rules of ``prospects.add``.

Kept apart from ``salescli.pipeline.importer`` so that reading and checking
stay apart from writing: batches of raw cells and ``Rejection`` rows become staged rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice, repeat
from operator import itemgetter
from pathlib import Path
from types import NoneType
from typing import Any

from salescli.core.errors import InvalidValue
from salescli.core.output import unguard_cell
from salescli.pipeline import stages
from salescli.pipeline.prospects import normalise_email, parse_tags, parse_value


class InputFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


# Every field a file may set, in the order of a staged row after its row number.
FIELDS = ("email", "name", "company", "owner", "stage", "value", "tags", "source", "notes")
# Header spellings, compared after case-folding and dropping all but letters and digits.
ALIASES = {
    "email": ("email", "emailaddress", "mail", "emailaddr"),
    "name": ("name", "fullname", "contact", "contactname", "person"),
    "company": ("company", "companyname", "organisation", "organization", "org", "account",
                "accountname", "employer"),
    "owner": ("owner", "assignedto", "salesrep", "rep", "accountowner"),
    "stage": ("stage", "pipelinestage", "dealstage"),
    "value": ("value", "dealvalue", "amount", "dealamount", "dealsize"),
    "tags": ("tags", "tag", "labels", "label"),
    "source": ("source", "leadsource"),
    "notes": ("notes", "note", "comments", "comment", "description"),
    "first_name": ("firstname", "givenname", "forename"),  # joined into name when no name
    "last_name": ("lastname", "surname", "familyname"),
}
_HEADER = {alias: f for f, aliases in ALIASES.items() for alias in aliases}
# Columns of `salescli prospects export` that salescli sets itself: ignored with a note.
_MANAGED = {"id", "emailstatus", "bouncereason", "stageenteredat", "lastcontactedat",
            "lastreplyat", "lastinteractionat", "createdat", "updatedat", "archivedat"}
_FIRST, _BATCH = 1000, 10000  # rows checked at a time: see _size


@dataclass
class Rejection:
    """One problem with one row: row number, field, value and reason."""

    row: int
    field: str
    value: Any
    reason: str

    def __str__(self) -> str:
        if not self.field:
            return f"row {self.row}: {self.reason}"
        return f"row {self.row}: {self.field} {self.value!r} {self.reason}"


def read_file(path: str | Path) -> bytes:
    """The bytes of an input file, or an error naming it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidValue("file", str(path), "does not exist") from None
    except OSError as exc:
        raise InvalidValue("file", str(path), f"cannot be read: {exc.strerror}") from None


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a BOM is dropped); anything else is an error saying what to do."""
    if data[:4] == b"PK\x03\x04":
        raise InvalidValue("file", name, "is a ZIP archive (an Excel workbook?), not CSV or "
                                         "JSON; save it as 'CSV UTF-8'")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InvalidValue("file", name, "is UTF-16 text; save it as UTF-8")
    if b"\x00" in data[:8192]:
        raise InvalidValue("file", name, "is binary, not CSV or JSON text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidValue("file", name, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on "
                                         f"line {line}); save it as UTF-8, or convert it, e.g."
                                         " iconv -f latin1 -t utf-8") from None


def detect_format(name: str, text: str, fmt: str | None = None) -> InputFormat:
    """The input format: as given, else by extension, else by the first character."""
    if fmt:
        return InputFormat(fmt)
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return InputFormat.CSV
    if suffix in (".json", ".jsonl", ".ndjson"):
        return InputFormat.JSON
    if suffix in (".xlsx", ".xls", ".ods", ".numbers", ".pdf", ".xml", ".html", ".zip"):
        raise InvalidValue("file", name, f"is not CSV or JSON ({suffix}); export it as CSV")
    return InputFormat.JSON if text.lstrip()[:1] in ("[", "{") else InputFormat.CSV


def map_columns(headers: list[str], name: str, ignore_unknown: bool
                ) -> tuple[dict[str, int], list[str]]:
    """Field → column position for a header row, and notes about ignored columns."""
    fields: dict[str, int] = {}
    unknown, managed = [], []
    for i, header in enumerate(headers):
        key = re.sub(r"[\W_]+", "", str(header).casefold())
        target = _HEADER.get(key)
        if target is None:
            if key:
                (managed if key in _MANAGED else unknown).append(header)
        elif target in fields:
            raise InvalidValue("column", header, f"in {name} maps to {target}, like column "
                                                 f"{headers[fields[target]]!r}")
        else:
            fields[target] = i
    if "email" not in fields:
        raise InvalidValue("file", name, "has no email column (columns: "
                           + ", ".join(repr(h) for h in headers) + ")")
    if unknown and not ignore_unknown:
        raise InvalidValue("column", unknown[0], f"in {name} is not a prospect field (fields: "
                           + ", ".join(FIELDS) + "; aliases in the manual); rename it, or use"
                           " --ignore-unknown to skip "
                           + ("it" if len(unknown) == 1 else f"all {len(unknown)} such columns"))
    notes = [f"ignored {what}: " + ", ".join(cols) for what, cols in
             (("columns set by salescli", managed), ("unknown columns", unknown)) if cols]
    return fields, notes


# A batch: row numbers and cells of well-shaped rows, and the rejections of the others.
_Batch = tuple[list[int], list[list], list[Rejection]]
_Rows = tuple[dict[str, int], Iterator[_Batch], list[str], int]


def read_csv(text: str, name: str, ignore_unknown: bool) -> _Rows:
    """Field → column; (row number, cells) per row, the header being row 1; notes about
    ignored columns; an estimate of the row count. The delimiter (, ; or tab) is the one
    the header line uses most."""
    head = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=lambda d: (head.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        headers = next((r for r in reader if any(c.strip() for c in r)), None)
    except csv.Error as exc:
        raise _csv_error(name, reader, exc) from None
    if headers is None:
        raise InvalidValue("file", name, "has no header row")
    cols, notes = map_columns(headers, name, ignore_unknown)
    width, first, email = len(headers), reader.line_num, itemgetter(cols["email"])
    guarded, lines = _may_be_guarded(text), text.count("\n")

    def batches() -> Iterator[_Batch]:
        number = first
        try:
            while chunk := list(islice(reader, _size(reader.line_num - first,
                                                     lines + 1 - first))):
                numbers = list(range(number + 1, number + 1 + len(chunk)))
                number += len(chunk)
                bad: list[Rejection] = []
                if set(map(len, chunk)) != {width} or not all(map(str.strip, map(email, chunk))):
                    keep = []  # there are blank rows (skipped), or short or long ones
                    for i, cells in enumerate(chunk):
                        if not any(c.strip() for c in cells):
                            continue
                        if len(cells) == width or not any(c.strip() for c in cells[width:]) \
                                and len(cells) > width:
                            keep.append(i)
                        else:
                            bad.append(Rejection(numbers[i], "", None, f"has {len(cells)} "
                                                 f"cells, the header has {width}"))
                    numbers, chunk = [numbers[i] for i in keep], [chunk[i] for i in keep]
                if guarded:
                    chunk = [[unguard_cell(c) if c[:1] == "'" else c for c in cells]
                             for cells in chunk]
                yield numbers, chunk, bad
        except csv.Error as exc:
            raise _csv_error(name, reader, exc) from None

    return cols, batches(), notes, lines


def _size(done: int, total: int) -> int:
    """Rows in the next batch, ``done`` of about ``total`` being read. An import writes a
    batch while it checks the next one: batches grow from small (writing starts early)
    and near the end shrink to half of what is left (the writing of the last one, which
    nothing overlaps, is short)."""
    return max(_FIRST, min(_BATCH, done, (total - done) // 2))


def _spans(total: int) -> Iterator[tuple[int, int]]:
    """[start, stop) of each batch of ``total`` items."""
    start = 0
    while start < total:
        stop = min(total, start + _size(start, total))
        yield start, stop
        start = stop


def _may_be_guarded(text: str) -> bool:
    """Whether some cell may start with the export's formula guard ``'`` (then cells are
    unguarded; most files have no such cell, and checking each cell costs)."""
    i = text.find("'")
    while i != -1:
        before = text[max(0, i - 2):i]
        if not before or before[-1] in ",;\t\r\n" or before[-1] == '"' and (
                len(before) == 1 or before[0] in ",;\t\r\n"):
            return True
        i = text.find("'", i + 1)
    return False


def _csv_error(name: str, reader: Any, exc: csv.Error) -> InvalidValue:
    return InvalidValue("file", name, f"is not valid CSV on line {reader.line_num}: {exc}")


def read_json(text: str, name: str, ignore_unknown: bool) -> _Rows:
    """Like ``read_csv`` for a JSON array of objects (numbered from 1) or NL-JSON (by line)."""
    items: list[tuple[int, Any]] = []
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip()[:1] != "{":
            raise InvalidValue("file", name, f"is not valid JSON: {exc}") from None
        for number, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028…
            if line.strip():
                try:
                    items.append((number, json.loads(line)))
                except json.JSONDecodeError as err:
                    items.append((number, Rejection(number, "", None,
                                                    f"is not valid JSON: {err.msg}")))
    else:
        if not isinstance(whole, dict | list):
            raise InvalidValue("file", name, "is not a JSON array of objects, nor NL-JSON")
        items = [(1, whole)] if isinstance(whole, dict) else list(enumerate(whole, 1))
    keys: dict[str, None] = {}
    for _, item in items:
        if isinstance(item, dict):
            keys.update(dict.fromkeys(item))
    headers = list(keys)
    cols, notes = map_columns(headers, name, ignore_unknown) if items else ({}, [])

    def batches() -> Iterator[_Batch]:
        for start, stop in _spans(len(items)):
            numbers, rows, bad = [], [], []
            for number, item in items[start:stop]:
                if isinstance(item, dict):
                    numbers.append(number)
                    rows.append([item.get(k) for k in headers])
                else:
                    bad.append(item if isinstance(item, Rejection) else Rejection(
                        number, "", None, f"is not a JSON object (got {type(item).__name__})"))
            yield numbers, rows, bad

    return cols, batches(), notes, len(items)


# --------------------------------------------------------------------------- checking


class Validator:
    """Checks rows with the rules of ``prospects.add``, a column at a time (a cell seen
    before in a stage, value or tags column is not parsed again)."""

    def __init__(self, conn: sqlite3.Connection, cols: dict[str, int], text_only: bool,
                 idle: Callable[[], None] | None = None):
        self.conn, self.text_only = conn, text_only  # text_only: every cell is a str (CSV)
        self.idle = idle  # called before the connection is used (it may be busy elsewhere)
        convert = {"email": normalise_email, "stage": self.stage, "value": _value,
                   "tags": _tags}
        # (position in the staged row, column, converter or None for text, memo or None)
        self.plan = [(pos, cols[f], convert.get(f), {None: None} if f in ("stage", "value",
                      "tags") else None) for pos, f in enumerate(FIELDS, 1) if f in cols]
        self.parts = [] if "name" in cols else \
            [cols[f] for f in ("first_name", "last_name") if f in cols]

    def stage(self, value: Any) -> int | None:
        text = str(value).strip()
        if not text:
            return None
        if self.idle:
            self.idle()
        return stages.get_stage(self.conn, text)["id"]

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
