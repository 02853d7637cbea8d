"""The CLI's spreadsheet-formula guard for every CSV the web server sends.

Datasette writes CSV (tables, views, SQL, canned queries; ``.csv``, ``_format=csv``,
``_stream``) with ``csv.writer`` and streams it in chunks. ``CsvGuard`` re-reads that
stream record by record as it passes and writes it back with the same dialect, each cell
through ``core.output.guard_cell``: ``=HYPERLINK(…)`` becomes ``'=HYPERLINK(…)``,
numbers and plain text stay byte for byte. ``_raw=1`` turns it off, like ``--raw``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import urllib.parse

from salescli.core.output import guard_cell

RAW_ARG = "_raw"
_QUOTE_OR_NEWLINE = re.compile(r'["\n]')


def complete_records(text: str) -> int:
    """Length of the prefix of ``text`` that ends with a whole CSV record: the last
    newline outside quotes (a doubled quote inside a cell keeps the count even)."""
    quoted = False
    end = 0
    for match in _QUOTE_OR_NEWLINE.finditer(text):
        if match.group() == '"':
            quoted = not quoted
        elif not quoted:
            end = match.end()
    return end


def guard_text(text: str) -> str:
    """Whole CSV records with every formula-like cell neutralised, in Datasette's dialect."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow([guard_cell(cell) for cell in row])
    return out.getvalue()


class CsvGuard:
    """Feed it the body chunks of one CSV response; it returns the guarded bytes so far."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._pending = ""

    def feed(self, data: bytes, final: bool = False) -> bytes:
        """Guard the whole records received so far; keep a partial one for the next chunk."""
        text = self._pending + self._decoder.decode(data, final)
        cut = len(text) if final else complete_records(text)
        ready, self._pending = text[:cut], text[cut:]
        if not ready:
            return b""
        return guard_text(ready).encode("utf-8", "surrogateescape")


def wants_raw(scope: dict) -> tuple[bool, dict]:
    """Whether the request opts out (``_raw=1``/``on``/``true``), and the scope without the
    argument so Datasette never sees it."""
    query = scope.get("query_string", b"").decode("latin-1")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    raw_values = [v for k, v in pairs if k == RAW_ARG]
    if not raw_values:
        return False, scope
    kept = "&".join(part for part in query.split("&")
                    if urllib.parse.unquote_plus(part.partition("=")[0]) != RAW_ARG)
    raw = raw_values[-1].lower() in ("1", "on", "true", "yes")
    return raw, {**scope, "query_string": kept.encode("latin-1")}


def guarding_send(send):
    """An ASGI ``send`` that guards a successful CSV (text/csv or text/plain) body."""
    state: dict = {"guard": None}

    async def guarded(message):
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            ctype = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
            if message["status"] == 200 and ctype.startswith((b"text/csv", b"text/plain")):
                state["guard"] = CsvGuard()
                message = {**message, "headers": [(k, v) for k, v in headers
                                                  if k.lower() != b"content-length"]}
        elif message["type"] == "http.response.body" and state["guard"] is not None:
            more = message.get("more_body", False)
            body = state["guard"].feed(message.get("body", b""), final=not more)
            message = {**message, "body": body}
        await send(message)

    return guarded
