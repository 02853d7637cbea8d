"""One renderer for rows: table (tabulate), json, nl (one JSON object a line), csv.

Rows are streamed: json, nl and csv write as they read, in constant memory.
CSV cells that a spreadsheet would run as a formula are neutralised unless raw.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from salescli.core.errors import InvalidValue

FORMATS = ("table", "json", "nl", "csv")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _formula_like(value: str) -> bool:
    # Leading quotes are looked through, so that text already starting with ``'=`` is
    # guarded again and comes back unchanged from unguard_cell.
    rest = value.lstrip("'")
    return rest.startswith(FORMULA_START) and not _is_number(rest)


def guard_cell(value: str) -> str:
    """Prefix ``'`` to text a spreadsheet would treat as a formula (numbers exempt)."""
    if value and _formula_like(value):
        return "'" + value
    return value


def unguard_cell(value: str) -> str:
    """Undo ``guard_cell`` so that export → import round-trips."""
    if len(value) > 1 and value[0] == "'" and _formula_like(value[1:]):
        return value[1:]
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


class CsvRows:
    """``csv.writer`` with ``\n`` line ends. csv quotes only cells holding the line
    terminator, so a row with a bare CR is written fully quoted instead."""

    def __init__(self, out: IO[str]):
        self._plain = csv.writer(out, lineterminator="\n")
        self._quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, cells: Sequence[Any]) -> None:
        """Write one row; None is an empty cell."""
        cr = any(c.__class__ is str and "\r" in c for c in cells)
        (self._quoted if cr else self._plain).writerow(cells)


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str], *, raw: bool = False,
              columns: Sequence[str] | None = None) -> int:
    """Stream rows as CSV with a header; returns the number of rows written."""
    writer = CsvRows(out)
    n = 0
    for row in rows:
        if n == 0:
            columns = list(columns or row.keys())
            writer.writerow(columns)
        cells = [_cell(row.get(c)) for c in columns]
        if not raw:
            cells = [guard_cell(c) if isinstance(c, str) else c for c in cells]
        writer.writerow(cells)
        n += 1
    if n == 0 and columns:
        writer.writerow(columns)
    return n


def write_json(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Stream rows as one JSON array."""
    n = 0
    out.write("[")
    for row in rows:
        out.write(",\n " if n else "\n ")
        # ensure_ascii=None acts as False (json tests truthiness): an equivalent mutant.
        out.write(json.dumps(row, ensure_ascii=False, default=str))  # pragma: no mutate
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def write_nl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Stream rows as newline-delimited JSON."""
    n = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        n += 1
    return n


def _short(value: Any, width: int = 60) -> Any:
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        value = value.replace("\n", " ")
        if len(value) > width:
            value = value[: width - 1] + "…"
    return value


def write_table(rows: Iterable[dict[str, Any]], out: IO[str],
                columns: Sequence[str] | None = None) -> int:
    """A plain table for people (tabulate), long text cut to fit."""
    from tabulate import tabulate

    rows = list(rows)
    if not rows:
        return 0
    columns = list(columns or rows[0].keys())
    body = [[_short(r.get(c)) for c in columns] for r in rows]
    out.write(tabulate(body, headers=columns, disable_numparse=True) + "\n")
    return len(rows)


def render(rows: Iterable[dict[str, Any]], fmt: str = "table", out: IO[str] | None = None,
           *, columns: Sequence[str] | None = None, raw: bool = False) -> int:
    """Write rows in ``fmt``; ``columns`` picks and orders the table/csv columns."""
    out = out or sys.stdout
    if fmt == "json":
        return write_json(rows, out)
    if fmt == "nl":
        return write_nl(rows, out)
    if fmt == "csv":
        return write_csv(rows, out, raw=raw, columns=columns)
    if fmt == "table":
        return write_table(rows, out, columns=columns)
    raise ValueError(f"unknown format {fmt!r}")


def pick(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Only the named columns of each row, in order."""
    for row in rows:
        yield {c: row.get(c) for c in columns}


@contextmanager
def atomic_output(path: str | os.PathLike, field: str = "--output",
                  mode: int = 0o600) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` only if the block finishes without error.

    The file is private (``mode``, default 0600) like the database it comes from.
    Unwritable targets raise InvalidValue naming ``field`` before anything is written.
    """
    import tempfile  # here: `prospects list` starts without it

    target = Path(path)
    if target.is_dir():
        raise InvalidValue(field, str(path), "is a directory")
    parent = target.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileNotFoundError):
            reason = f"its directory {str(parent)!r} does not exist"
        raise InvalidValue(field, str(path), f"cannot be written: {reason}") from None
    try:
        os.fchmod(fd, mode)
        with open(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def render_to_file(rows: Iterable[dict[str, Any]], fmt: str, path: str, *,
                   raw: bool, columns: Sequence[str] | None = None) -> int:
    """Render into ``path`` through ``atomic_output``: a failure leaves no half file."""
    with atomic_output(path) as fh:
        return render(rows, fmt, fh, columns=columns, raw=raw)
