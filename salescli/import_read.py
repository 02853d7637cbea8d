"""Read a prospect import file: bytes, UTF-8 text, CSV or JSON format, header mapping.

Split from ``salescli.importer`` (which re-exports these names) so that the file-reading half
stays apart from validating and writing; it yields batches of raw cells and ``Rejection`` rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from salescli.errors import InvalidValue
from salescli.output import unguard_cell


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
_BATCH = 10000  # rows checked at a time


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
    guarded = _may_be_guarded(text)

    def batches() -> Iterator[_Batch]:
        number = first
        try:
            while chunk := list(islice(reader, _BATCH)):
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

    return cols, batches(), notes, text.count("\n")


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
        for start in range(0, len(items), _BATCH):
            numbers, rows, bad = [], [], []
            for number, item in items[start:start + _BATCH]:
                if isinstance(item, dict):
                    numbers.append(number)
                    rows.append([item.get(k) for k in headers])
                else:
                    bad.append(item if isinstance(item, Rejection) else Rejection(
                        number, "", None, f"is not a JSON object (got {type(item).__name__})"))
            yield numbers, rows, bad

    return cols, batches(), notes, len(items)
