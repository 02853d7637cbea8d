"""Read JSON imports as a stream: a top-level array one element at a time, or NL-JSON
(objects one after the other) by line, decoded from a bounded buffer with the standard
library's C decoder; records too long or nested too deep stop the import.

The JSON half of ``import_read`` (bytes → text → records).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import islice
from json.decoder import scanstring
from typing import Any

from salescli.core.errors import InvalidValue
from salescli.pipeline.import_read import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_FIELD_ENV,
    Batch,
    LongNumber,
    Rejection,
    Source,
    TooLong,
    batch_size,
    estimate_rows,
)

_WS = re.compile(r"[ \t\n\r]*")


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        return LongNumber(text) if len(text) > MAX_DIGITS else kind(text)
    return parse




def read_json(source: Source, pieces: Iterator[str], first: str) -> Iterator[Batch]:
    """Batches of (row number, object) of a JSON array (rows numbered from 1) or of
    objects one after the other, as NL-JSON (rows numbered by line)."""
    if first not in "[{":
        raise InvalidValue("file", source.name, "is not a JSON array of objects, nor NL-JSON")
    records = _JsonRecords(source, pieces, array=first == "[")
    it = iter(records)
    done = 0
    while True:
        numbers: list[int] = []
        rows: list[Any] = []
        bad: list[Rejection] = []
        for number, item in islice(it, batch_size(done, estimate_rows(source, done))):
            if isinstance(item, dict):
                numbers.append(number)
                rows.append(item)
            elif isinstance(item, Rejection):
                bad.append(item)
            else:
                bad.append(Rejection(number, "", None,
                                     f"is not a JSON object (got {type(item).__name__})"))
        count = len(numbers) + len(bad)
        if not count:
            return
        done += count
        yield numbers, rows, bad


class _JsonRecords:
    """(row number, value) of each element of a top-level array, or of each top-level value
    in NL-JSON, decoded one at a time from a bounded buffer."""

    def __init__(self, source: Source, pieces: Iterator[str], array: bool):
        self.source, self.pieces, self.array = source, pieces, array
        self.buf, self.pos, self.eof = "", 0, False
        self.line, self.mark = 1, 0  # the line of position self.mark in the buffer
        self.limit = 16 * source.limit  # characters in one record
        self.decoder = json.JSONDecoder(parse_int=_number(int), parse_float=_number(float))

    def more(self) -> bool:
        """Read the next piece into the buffer; False at the end of the input."""
        piece = next(self.pieces, None)
        if piece is None:
            self.eof = True
            return False
        self.line_at(self.pos)
        self.mark = 0
        self.buf = self.buf[self.pos:] + piece
        self.pos = 0
        return True

    def skip(self) -> str:
        """Skip blanks; the next character ('' at the end)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def line_at(self, pos: int) -> int:
        """The line of a position in the buffer, counting only from the last one asked
        (counting from the buffer's start made NL-JSON quadratic in the buffer size)."""
        if pos < self.mark:
            return self.line - self.buf.count("\n", pos, self.mark)
        self.line += self.buf.count("\n", self.mark, pos)
        self.mark = pos
        return self.line

    def invalid(self, msg: str, pos: int) -> InvalidValue:
        return InvalidValue("file", self.source.name,
                            f"is not valid JSON: {msg} (line {self.line_at(pos)})")

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        index = 0
        if self.array:
            self.skip()
            self.pos += 1  # the "["
            if self.skip() == "]":
                self.pos += 1
                if self.skip():
                    raise self.invalid("extra data after the array", self.pos)
                return
        while True:
            if not self.array and not self.skip():
                return
            index += 1
            row = index if self.array else self.line_at(self.pos)
            try:
                value = self.decode(row)
            except json.JSONDecodeError as exc:
                if self.array:
                    raise self.invalid(exc.msg, exc.pos) from None
                yield row, Rejection(row, "", None, f"is not valid JSON: {exc.msg}")
                self.skip_line(self.pos)
                continue
            yield row, value
            if self.array:
                nxt = self.skip()
                self.pos += 1
                if nxt == "]":
                    if self.skip():
                        raise self.invalid("extra data after the array", self.pos)
                    return
                if nxt != ",":
                    raise self.invalid("expecting ',' or ']' after an element"
                                       if nxt else "the array is not closed", self.pos - 1)
                self.skip()

    def decode(self, row: int) -> Any:
        """The value at the position, reading more input while it may be incomplete."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # A newline after the error means the bad token is complete (tokens never
                # span a newline, strings may not hold one): more input cannot mend it,
                # however much of the file follows.
                final = exc.pos - self.pos <= self.limit and self.buf.find("\n", exc.pos) != -1
                if self.eof or final or len(self.buf) - self.pos > self.limit:
                    if not final and len(self.buf) - self.pos > self.limit:
                        raise TooLong(self.source.name, row, None, f"is longer than "
                                      f"{self.limit} characters ({MAX_FIELD_ENV} × 16)") \
                            from None
                    raise
                self.more()
                continue
            except RecursionError:
                raise TooLong(self.source.name, row, _deep_field(self.buf, self.pos),
                              f"nests arrays or objects more than {MAX_DEPTH} deep") from None
            if end - self.pos > self.limit:
                raise TooLong(self.source.name, row, None, f"is longer than {self.limit} "
                              f"characters ({MAX_FIELD_ENV} × 16)")
            if self.buf.count("[", self.pos, end) + self.buf.count("{", self.pos, end) \
                    > MAX_DEPTH and _depth(value) > MAX_DEPTH:  # pragma: no mutate: prefilter
                raise TooLong(self.source.name, row, _deep_field(self.buf, self.pos),
                              f"nests arrays or objects more than {MAX_DEPTH} deep")
            if end - self.pos > self.source.limit and isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, str) and len(v) > self.source.limit:
                        raise TooLong(self.source.name, row, str(k), f"is longer than "
                                      f"{self.source.limit} characters ({MAX_FIELD_ENV})")
            self.pos = end
            return value

    def skip_line(self, start: int) -> None:
        """After a bad NL-JSON record: go on at the next line."""
        self.pos = start
        while (nl := self.buf.find("\n", self.pos)) == -1:
            if len(self.buf) - self.pos > self.limit:
                raise TooLong(self.source.name, self.line_at(start), None,  # pragma: no mutate
                              f"has a line longer than {self.limit} characters")
            if not self.more():
                self.pos = len(self.buf)
                return
        self.pos = nl + 1


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (without recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                 else item))
    return deepest


def _deep_field(text: str, pos: int) -> str | None:
    """The key of the record starting at ``pos`` whose value nests past MAX_DEPTH."""
    depth, key, i, n = 0, None, pos, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            try:
                value, i = scanstring(text, i + 1)
            except ValueError:
                return key
            if depth == 1 and text[_WS.match(text, i).end():][:1] == ":":
                key = value
            continue
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return key
        elif c in "]}":
            depth -= 1
        i += 1
    return key
