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
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from salescli.core.env import number
from salescli.core.errors import InvalidValue, SalescliError
from salescli.pipeline.import_decode import Decoding, chunks_with_end
from salescli.pipeline.import_quirks import (
    GUARDS,
    ZWJ,
    delimiter_of,
    may_be_guarded,
    unguard,
    without_footer,
)


class InputFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


_CHUNK = 1 << 20  # bytes read at a time
_FIRST, _BATCH = 1000, 10000  # rows checked at a time: see _size
MAX_FIELD_ENV = "SALESCLI_IMPORT_MAX_FIELD"
DEFAULT_MAX_FIELD = 65536  # characters in one cell or JSON string
MAX_DIGITS = 100  # characters in one JSON number
MAX_DEPTH = 16  # arrays and objects in one another in one JSON record


# The csv module takes at most a C long, and read_csv asks it for 16x the limit: a setting
# above this is no limit either. (Where exactly it lies is unobservable: no mutants.)
_NO_LIMIT = sys.maxsize // 16  # pragma: no mutate


def max_field() -> int:
    """The longest cell an import accepts, in characters (``SALESCLI_IMPORT_MAX_FIELD``)."""
    return min(number(MAX_FIELD_ENV, DEFAULT_MAX_FIELD, minimum=1), _NO_LIMIT)


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
    """An input opened for reading: its name, its bytes as a stream, its size if known.

    ``encoding`` and ``delimiter`` say what to use (``auto``: decide); after the first
    read they say what was used (for the plan). ``reopen()`` starts a second pass: a file
    is read again, standard input (or a pipe) comes back from a temporary copy made while
    the first pass read it."""

    def __init__(self, stream: IO[bytes], name: str, size: int | None = None, *,
                 path: str | None = None, encoding: str = "auto", delimiter: str = "auto"):
        self.stream, self.name, self.size, self.path = stream, name, size, path
        self.read = 0  # bytes read so far (for progress)
        self.limit = max_field()
        if encoding != "auto":
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise InvalidValue("encoding", encoding, "is not an encoding Python "
                                                         "knows (e.g. utf-8, cp1252)") from None
        if delimiter not in ("auto", ",", ";", "\t"):
            raise InvalidValue("delimiter", delimiter, 'is not ",", ";" or a tab')
        self.forced = encoding != "auto"
        self.encoding: str | None = None if encoding == "auto" else encoding
        self.delimiter: str | None = None if delimiter == "auto" else delimiter
        self.kind = ""  # "xlsx" for an Excel workbook, once the first bytes are seen
        self.numbers = False  # a workbook's number cells as numbers, not text
        self.head = b""  # the first bytes, read ahead to tell what the input is
        self.spool: IO[bytes] | None = None  # the copy of a stream that cannot be re-read
        if path is None and not stream.seekable():
            self.spool = tempfile.TemporaryFile(prefix="salescli-")  # noqa: SIM115 # pragma: no mutate
        self.start = 0 if self.spool else stream.tell()  # pragma: no mutate (unused if spool)

    @classmethod
    def open(cls, path: str | Path, **options: str) -> Source:
        """The file at ``path`` (``-``: standard input), or an error naming it."""
        if str(path) == "-":
            return cls(sys.stdin.buffer, "stdin", **options)
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed by Source.close
        except FileNotFoundError:
            raise InvalidValue("file", str(path), "does not exist") from None
        except OSError as exc:
            raise InvalidValue("file", str(path), f"cannot be read: {exc.strerror}") from None
        info = os.fstat(stream.fileno())
        regular = stat.S_ISREG(info.st_mode)
        return cls(stream, str(path), (info.st_size or None) if regular else None,
                   path=str(path) if regular else None, **options)

    @classmethod
    def of(cls, data: bytes | str, name: str, **options: str) -> Source:
        """Bytes or text already in memory (tests, callers with a small payload)."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return cls(io.BytesIO(raw), name, len(raw), **options)

    def close(self) -> None:
        """Close the stream (never standard input) and drop the temporary copy."""
        if self.stream is not sys.stdin.buffer:
            self.stream.close()
        if self.spool is not None:
            self.spool.close()

    def reopen(self) -> None:
        """Start reading from the first byte again, keeping the encoding and delimiter
        decided by the first pass."""
        if self.path is not None:
            self.stream.close()
            self.stream = open(self.path, "rb")  # noqa: SIM115 - closed by Source.close
        elif self.spool is not None:
            # what the first pass left unread (any size read: the same bytes)
            while chunk := self.stream.read(_CHUNK):  # pragma: no mutate
                self.spool.write(chunk)
            if self.stream is not sys.stdin.buffer:
                self.stream.close()
            self.stream, self.spool = self.spool, None
            self.start = 0
            self.stream.seek(0)
        else:
            self.stream.seek(self.start)
        self.read, self.head = 0, b""

    def peek(self) -> bytes:
        """The first bytes (at least 8 KiB unless the input is shorter), not consumed."""
        while len(self.head) < 8192 and (  # pragma: no mutate (<=: one chunk more, as well)
                chunk := self.stream.read(_CHUNK)):
            if self.spool is not None:
                self.spool.write(chunk)
            self.head += chunk
        return self.head

    def whole_file(self) -> IO[bytes]:
        """The whole input as a file that can seek (a workbook is read from its end): the
        file itself, else the bytes copied to the spool (what ``reopen`` reads too)."""
        if self.path is not None:
            self.stream.close()
            self.stream = open(self.path, "rb")  # noqa: SIM115 - closed by Source.close
            return self.stream
        if self.spool is None:
            self.stream.seek(self.start)
            return self.stream
        for _ in self.chunks():  # copies what is left into the spool
            pass
        self.spool.flush()
        self.spool.seek(0)
        return self.spool

    def chunks(self) -> Iterator[bytes]:
        """The bytes in chunks, from the first (counted in ``read``; copied to the spool)."""
        if self.head:
            head, self.head = self.head, b""
            self.read += len(head)
            yield head
        while chunk := self.stream.read(_CHUNK):
            if self.spool is not None:
                self.spool.write(chunk)
            self.read += len(chunk)
            yield chunk

    def text(self) -> Iterator[str]:
        """The text in pieces, in the encoding given or decided (see import_decode); an
        input that is no text is an error saying what it is."""
        first = self.peek()
        if first[:4] == b"PK\x03\x04":
            raise InvalidValue("file", self.name, "is a ZIP archive (an Excel workbook?), "
                                                  "not CSV or JSON text")
        encoding = self.encoding  # a BOM is decoded and dropped with the first text
        if self.forced:
            pass
        elif first[:3] == codecs.BOM_UTF8:
            encoding = "utf-8-sig"
        elif first[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            encoding = "utf-16-le" if first[:2] == codecs.BOM_UTF16_LE else "utf-16-be"
        elif b"\x00" in first[:8192]:
            raise InvalidValue("file", self.name, "is binary (or UTF-16 without a byte-order "
                                                  "mark), not CSV or JSON text")
        decoding = Decoding(self.name, encoding, self.forced)
        started = False
        for data, last in chunks_with_end(self.chunks()):
            text = decoding.decode(data, last)
            self.encoding = decoding.encoding  # known before the text is read (the plan)
            if text:
                if not started:  # a BOM (of UTF-16, or of UTF-8 read as a given utf-8)
                    started, text = True, text.removeprefix("\ufeff")
                yield text
        self.encoding = decoding.encoding or "utf-8"


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
    if suffix in (".csv", ".tsv", ".txt"):
        return InputFormat.CSV
    if suffix in (".json", ".jsonl", ".ndjson"):
        return InputFormat.JSON
    if suffix == ".xlsx":
        raise InvalidValue("file", name, "is not an Excel workbook, though named .xlsx")
    if suffix in (".xls", ".ods", ".numbers", ".pdf", ".xml", ".html", ".zip"):
        raise InvalidValue("file", name, f"is not CSV, JSON or .xlsx ({suffix}); save it as "
                                         ".xlsx or CSV UTF-8")
    return InputFormat.JSON if first in ("[", "{") else InputFormat.CSV


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an old Excel .xls (or Word .doc)


def open_text(source: Source, fmt: str | None) -> tuple[InputFormat, str, Iterator[str]]:
    """Format, first character and the text of a source; an empty one is an error. An
    Excel workbook is CSV here (``read_csv`` reads it, ``source.kind`` is ``xlsx``)."""
    head = source.peek()
    if head[:4] == b"PK\x03\x04" and fmt != InputFormat.JSON:
        if b"opendocument" in head[:200]:
            raise InvalidValue("file", source.name, "is an OpenDocument spreadsheet; save it "
                                                    "as .xlsx or CSV UTF-8")
        source.kind = "xlsx"
        return InputFormat.CSV, "", iter(())
    if head[:8] == _OLE:
        raise InvalidValue("file", source.name, "is an old Excel workbook (.xls); save it "
                                                "as .xlsx or CSV UTF-8")
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
    may start with an export's formula guard, ``'`` or U+200D (checking each cell costs)."""

    def __init__(self, pieces: Iterator[str], limit: int):
        self.pieces, self.limit = pieces, limit
        self.guarded = False
        self.line = 0  # lines handed out

    def __iter__(self) -> Iterator[str]:
        rest = ""
        for piece in self.pieces:
            # a shortcut (unguarding every cell gives the same cells), hence the pragma
            if not self.guarded and (ZWJ in piece or may_be_guarded(piece)):  # pragma: no mutate
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


def read_csv(source: Source, pieces: Iterator[str]) -> tuple[list[str], Iterator[Batch]]:
    """The header row, and batches of (row number, cells), the header being row 1. The
    delimiter (, ; or tab) is the one given, else the one the header line uses most. An
    Excel workbook (``source.kind == "xlsx"``) comes in the same batches, its cells text."""
    if source.kind == "xlsx":
        return _read_sheet(source)
    lines = _Lines(pieces, 16 * source.limit)
    it = iter(lines)
    name, limit = source.name, source.limit
    try:
        head = next(it, "")
    except _LineTooLong as exc:
        raise TooLong(name, exc.line, None, f"has a line longer than {limit} characters "
                      f"({MAX_FIELD_ENV})") from None
    source.delimiter = delimiter = source.delimiter or delimiter_of(head)
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
    if lines.guarded:
        headers = [unguard(h) for h in headers]
    width, first = len(headers), reader.line_num
    rows = without_footer(reader, width)

    def batches() -> Iterator[Batch]:
        try:
            yield from _batches(source, rows, headers, first, lambda: lines.guarded)
        except (csv.Error, _LineTooLong) as exc:
            raise fail(exc) from None
        finally:
            csv.field_size_limit(old)

    return headers, batches()


def _batches(source: Source, rows: Iterator[list], headers: list[str], first: int,
             guarded: Callable[[], bool]) -> Iterator[Batch]:
    """Rows in batches of (row numbers, cells, rejections): blank rows skipped, rows with
    more or fewer cells than the header rejected, over-long cells an error."""
    number, width, name, limit = first, len(headers), source.name, source.limit
    while chunk := list(islice(rows, batch_size(number - first,
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
        if guarded():
            chunk = [[unguard(c) if c[:1] in GUARDS else c for c in cells] for cells in chunk]
        yield numbers, chunk, bad




def _read_sheet(source: Source) -> tuple[list[str], Iterator[Batch]]:
    """``read_csv`` for an Excel workbook: its first sheet, rows numbered as in the sheet,
    cells as text (numbers kept as numbers when ``source.numbers``)."""
    from salescli.pipeline import import_xlsx

    headers, rows, close = import_xlsx.sheet(source.whole_file(), source.name,
                                             numbers=source.numbers)
    source.read = source.size or 0  # pragma: no mutate (read whole before its first row)
    width, limit = len(headers), source.limit

    def filled(c: Any) -> bool:
        return c.__class__ is not str or bool(c.strip())

    def batches() -> Iterator[Batch]:
        done = 0
        try:
            while chunk := list(islice(rows, batch_size(done, 10**12))):
                done += len(chunk)
                numbers, cells, bad = [], [], []
                for number, row in chunk:
                    if not any(map(filled, row)):
                        continue
                    if any(map(filled, row[width:])):
                        bad.append(Rejection(number, "", None, f"has {len(row)} cells, the "
                                             f"header has {width}"))
                        continue
                    row = (row + [""] * width)[:width]
                    for j, c in enumerate(row):
                        if c.__class__ is str and len(c) > limit:
                            raise TooLong(source.name, number, headers[j], f"is longer than "
                                          f"{limit} characters ({MAX_FIELD_ENV})")
                    numbers.append(number)
                    cells.append(row)
                yield numbers, cells, bad
        finally:
            close()

    return headers, batches()
