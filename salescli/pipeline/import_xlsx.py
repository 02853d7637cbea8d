"""The first sheet of an Excel workbook (.xlsx) as rows, streaming: openpyxl's read-only
mode holds one row in memory at a time, not the sheet. ``import_read.read_csv`` turns the
rows into the batches it yields for a CSV file.

openpyxl is imported here only, when an import meets a workbook. Cells come as text, as
a CSV export would hold them: numbers in plain style (``1250.5``: never re-read by a
locale's style) or, asked for, as numbers; dates and times as ISO 8601 (naive times are
UTC); empty cells as "".
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from typing import IO, Any

from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.pipeline.import_quirks import unguard

Row = tuple[int, list[Any]]  # the sheet's row number and its cells


def cell_text(value: Any) -> str:
    """One cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return unguard(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    return str(value)  # a duration (timedelta)


def cell_value(value: Any) -> Any:
    """One cell, a number kept as a number (int or float), anything else as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return cell_text(value)


def sheet(handle: IO[bytes], name: str, *, numbers: bool
          ) -> tuple[list[str], Iterator[Row], Callable[[], None]]:
    """The header (the first row with a value) of the workbook's first sheet, the rows
    after it, and what closes the workbook (not ``handle``); InvalidValue naming ``name``
    when it is no workbook openpyxl can read."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise InvalidValue("file", name, f"is a ZIP archive but not a readable Excel "
                                         f"workbook ({exc}); export it as CSV UTF-8") from None

    close = book.close  # the handle is the caller's (Source.close closes it)
    rows = enumerate(book.worksheets[0].iter_rows(values_only=True), 1)
    for _, values in rows:
        headers = [cell_text(v) for v in values]
        while headers and not headers[-1].strip():
            headers.pop()
        if headers:
            break
    else:  # no row with a value
        close()
        raise InvalidValue("file", name, "has no header row (its first sheet is empty)")
    convert = cell_value if numbers else cell_text
    return headers, ((n, [convert(v) for v in values]) for n, values in rows), close
