"""Read a prospect import file as a stream: bytes → UTF-8 text → CSV or JSON records, in
batches, with limits so that no input (``/dev/zero``, one endless line, JSON nested a
million deep, a 100,000-digit number) costs more than a bounded amount of memory.

Each step is a generator over the one before it; the header mapping is the next step
(``salescli.pipeline.import_map``), the checking the one after (``import_check``), and
``importer`` writes.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from salescli.core.errors import InvalidValue, SalescliError
from salescli.core.output import unguard_cell


class InputFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


_CHUNK = 1 << 20  # bytes read at a time
_FIRST, _BATCH = 1000, 10000  # rows checked at a time: see _size
MAX_FIELD_ENV = "SALESCLI_IMPORT_MAX_FIELD"
DEFAULT_MAX_FIELD = 65536  # characters in one cell or JSON string
MAX_DIGITS = 100  # characters in one JSON number
MAX_DEPTH = 16  # arrays and objects in one another in one JSON record


def max_field() -> int:
    """The longest cell an import accepts, in characters (``SALESCLI_IMPORT_MAX_FIELD``)."""
    raw = os.environ.get(MAX_FIELD_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_FIELD
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise InvalidValue(MAX_FIELD_ENV, raw, "must be a whole number of characters ≥ 1")
    return limit


class TooLong(SalescliError):
    """A record broke a size or nesting limit: the file is refused whole (nothing written)."""

    def __init__(self, name: str, row: int, field: str | None, what: str):
        where = f"row {row}" + (f", field {field!r}," if field else "")
        super().__init__(f"{where} in {name} {what}")


class LongNumber:
    """A JSON number with more than MAX_DIGITS characters, kept short (never converted)."""

    def __init__(self, text: str):
        self.digits = len(text)
        self.head = text[:12]

    def __repr__(self) -> str:
        return f"{self.head}… ({self.digits} characters)"


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


# --------------------------------------------------------------------------- bytes → text


class Source:
    """An input opened for reading: its name, its bytes as a stream, its size if known."""

    def __init__(self, stream: IO[bytes], name: str, size: int | None = None):
        self.stream, self.name, self.size = stream, name, size
        self.read = 0  # bytes read so far (for progress)
        self.limit = max_field()

    @classmethod
    def open(cls, path: str | Path) -> Source:
        """The file at ``path`` (``-``: standard input), or an error naming it."""
        if str(path) == "-":
            return cls(sys.stdin.buffer, "stdin")
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed by Source.close
        except FileNotFoundError:
            raise InvalidValue("file", str(path), "does not exist") from None
        except OSError as exc:
            raise InvalidValue("file", str(path), f"cannot be read: {exc.strerror}") from None
        try:
            size = os.fstat(stream.fileno()).st_size or None
        except OSError:
            size = None
        return cls(stream, str(path), size)

    @classmethod
    def of(cls, data: bytes | str, name: str) -> Source:
        """Bytes or text already in memory (tests, callers with a small payload)."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return cls(io.BytesIO(raw), name, len(raw))

    def close(self) -> None:
        if self.stream is not sys.stdin.buffer:
            self.stream.close()

    def _bytes(self) -> Iterator[bytes]:
        while chunk := self.stream.read(_CHUNK):
            self.read += len(chunk)
            yield chunk

    def text(self) -> Iterator[str]:
        """UTF-8 text in pieces (a BOM dropped); anything else is an error saying what
        to do. ``/dev/zero`` and other binary input fail on the first piece."""
        chunks = self._bytes()
        first = next(chunks, b"")
        while 0 < len(first) < 8192 and (more := next(chunks, b"")):
            first += more  # the checks below look at the first 8 KiB, however it is read
        if first[:4] == b"PK\x03\x04":
            raise InvalidValue("file", self.name, "is a ZIP archive (an Excel workbook?), not "
                                                  "CSV or JSON; save it as 'CSV UTF-8'")
        if first[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise InvalidValue("file", self.name, "is UTF-16 text; save it as UTF-8")
        if b"\x00" in first[:8192]:
            raise InvalidValue("file", self.name, "is binary, not CSV or JSON text")
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        line, data = 1, first
        while data:
            try:
                yield decoder.decode(data)
            except UnicodeDecodeError as exc:
                at = line + data.count(b"\n", 0, max(0, exc.start))
                bad = data[exc.start] if 0 <= exc.start < len(data) else 0
                raise InvalidValue("file", self.name, f"is not UTF-8 text (byte 0x{bad:02x} "
                                   f"on line {at}); save it as UTF-8, or convert it, e.g."
                                   " iconv -f latin1 -t utf-8") from None
            line += data.count(b"\n")
            data = next(chunks, b"")
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InvalidValue("file", self.name, f"is not UTF-8 text (it ends inside a "
                                                  f"character, line {line})") from None
        if tail:
            yield tail


def _start(pieces: Iterator[str]) -> tuple[str, Iterator[str]]:
    """The first non-blank character of the text (empty if none) and the text again."""
    seen: list[str] = []
    for piece in pieces:
        seen.append(piece)
        stripped = piece.lstrip()
        if stripped:
            return stripped[0], _chain(seen, pieces)
        if sum(map(len, seen)) > 1 << 22:
            break  # megabytes of blanks: not a prospects file
    return "", iter(seen)


def _chain(head: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from head
    yield from rest


def detect_format(name: str, first: str, fmt: str | None = None) -> InputFormat:
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
    return InputFormat.JSON if first in ("[", "{") else InputFormat.CSV


def open_text(source: Source, fmt: str | None) -> tuple[InputFormat, str, Iterator[str]]:
    """Format, first character and the text of a source; an empty one is an error."""
    first, pieces = _start(source.text())
    if not first:
        raise InvalidValue("file", source.name, "is empty")
    return detect_format(source.name, first, fmt), first, pieces


# --------------------------------------------------------------------------- text → rows

# A batch: row numbers and cells (CSV: lists; JSON: dicts) of well-shaped rows, and the
# rejections of the others.
Batch = tuple[list[int], list[Any], list[Rejection]]


def batch_size(done: int, total: int) -> int:
    """Rows in the next batch, ``done`` of about ``total`` being read. An import writes a
    batch while it checks the next one: batches grow from small (writing starts early)
    and near the end shrink to half of what is left (the writing of the last one, which
    nothing overlaps, is short)."""
    return max(_FIRST, min(_BATCH, done, (total - done) // 2))


def estimate_rows(source: Source, rows: int) -> int:
    """Rows in the whole input, guessed from the bytes read so far (unknown: many)."""
    if not source.size or not source.read:
        return 10**12
    return max(rows, int(rows * source.size / source.read))


class _Lines:
    """Lines of text for the csv module, none longer than ``limit``; notes whether a cell
    may start with the export's formula guard ``'`` (checking each cell costs)."""

    def __init__(self, pieces: Iterator[str], limit: int):
        self.pieces, self.limit = pieces, limit
        self.guarded = False
        self.line = 0  # lines handed out

    def __iter__(self) -> Iterator[str]:
        rest = ""
        for piece in self.pieces:
            if not self.guarded and _may_be_guarded(piece):
                self.guarded = True
            lines = io.StringIO(rest + piece, newline="").readlines()
            rest = ""
            if lines and (lines[-1][-1] not in "\r\n" or lines[-1][-1] == "\r"):
                rest = lines.pop()  # maybe not the whole line yet
            if len(rest) > self.limit or lines and max(map(len, lines)) > self.limit:
                for i, line in enumerate([*lines, rest], self.line + 1):
                    if len(line) > self.limit:
                        raise _LineTooLong(i)
            self.line += len(lines)
            yield from lines
        if rest:
            self.line += 1
            yield rest


class _LineTooLong(Exception):
    def __init__(self, line: int):
        self.line = line


def _may_be_guarded(text: str) -> bool:
    """Whether some cell may start with the export's formula guard ``'``."""
    i = text.find("'")
    while i != -1:
        before = text[max(0, i - 2):i]
        if not before or before[-1] in ",;\t\r\n" or before[-1] == '"' and (
                len(before) == 1 or before[0] in ",;\t\r\n"):
            return True
        i = text.find("'", i + 1)
    return False


def read_csv(source: Source, pieces: Iterator[str]) -> tuple[list[str], Iterator[Batch]]:
    """The header row, and batches of (row number, cells), the header being row 1. The
    delimiter (, ; or tab) is the one the header line uses most."""
    lines = _Lines(pieces, 16 * source.limit)
    it = iter(lines)
    name, limit = source.name, source.limit
    try:
        head = next(it, "")
    except _LineTooLong as exc:
        raise TooLong(name, exc.line, None, f"has a line longer than {limit} characters "
                      f"({MAX_FIELD_ENV})") from None
    delimiter = max(",;\t", key=lambda d: (head.count(d), d == ","))
    old = csv.field_size_limit(16 * limit)  # a backstop: cells are checked per batch
    reader = csv.reader(_chain([head], it), delimiter=delimiter, strict=True)

    def fail(exc: Exception) -> Exception:
        if isinstance(exc, _LineTooLong):
            return TooLong(name, exc.line, None, f"has a line longer than {16 * limit} "
                           f"characters ({MAX_FIELD_ENV} × 16)")
        if "field larger than" in str(exc):
            return TooLong(name, reader.line_num, None, f"has a cell longer than {limit} "
                           f"characters ({MAX_FIELD_ENV}) on line {reader.line_num}")
        return InvalidValue("file", name, f"is not valid CSV on line {reader.line_num}: {exc}")

    try:
        headers = next((r for r in reader if any(c.strip() for c in r)), None)
    except (csv.Error, _LineTooLong) as exc:
        csv.field_size_limit(old)
        raise fail(exc) from None
    if headers is None:
        csv.field_size_limit(old)
        raise InvalidValue("file", name, "has no header row")
    width, first = len(headers), reader.line_num

    def batches() -> Iterator[Batch]:
        number = first
        try:
            while chunk := list(islice(reader, batch_size(number - first,
                                                     estimate_rows(source, number - first)))):
                numbers = list(range(number + 1, number + 1 + len(chunk)))
                number += len(chunk)
                bad: list[Rejection] = []
                if set(map(len, chunk)) != {width} or not all(chunk):
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
                if chunk and max(map(len, chain.from_iterable(chunk))) > limit:
                    i, j = next((i, j) for i, cells in enumerate(chunk)
                                for j, c in enumerate(cells) if len(c) > limit)
                    raise TooLong(name, numbers[i], headers[j] if j < width else
                                  f"column {j + 1}", f"is longer than {limit} characters "
                                  f"({MAX_FIELD_ENV})")
                if lines.guarded:
                    chunk = [[unguard_cell(c) if c[:1] == "'" else c for c in cells]
                             for cells in chunk]
                yield numbers, chunk, bad
        except (csv.Error, _LineTooLong) as exc:
            raise fail(exc) from None
        finally:
            csv.field_size_limit(old)

    return headers, batches()
