"""The first few KB of a message's text, for the two rules that need more than headers:
an unsubscribe written as a reply's first line, and an out-of-office's return date.

The scan fetches only the message's content headers and the first ``TEXT_BYTES`` of its
body (``BODY.PEEK[TEXT]<0.N>``), and only for auto-replies and mail from prospects with
a live enrollment, so a scan stays a header scan for everything else. A truncated
multipart or quoted-printable body still parses: the text found so far is what counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

TEXT_BYTES = 8192       # body bytes fetched per message
SNIPPET_CHARS = 1000    # text kept on an auto-reply interaction (its return date)
CONTENT_FIELDS = "BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE CONTENT-TRANSFER-ENCODING)]"
TEXT_ITEM = f"BODY.PEEK[TEXT]<0.{TEXT_BYTES}>"
# "On Mon, 7 Dec 2026, Ada <ada@…> wrote:", "Am … schrieb …:", "Le … a écrit :"
_ATTRIBUTION = re.compile(r"^(on .{0,200}\bwrote|am .{0,200}\bschrieb|le .{0,200}\ba [ée]crit|"
                          r"el .{0,200}\bescribi[óo]|-+\s*original message\s*-+|"
                          r"-+\s*urspr[üu]ngliche nachricht\s*-+|from:\s)", re.I)


class _Text(HTMLParser):
    """Visible text of an HTML part, one line per block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li", "blockquote"):
            self.out.append("\n")
        if tag == "blockquote":
            self.out.append("> ")  # quoted: never the first line

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("p", "div", "blockquote"):
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def _decode(part) -> str:
    # (the stdlib decodes a cut base64 or uuencode block as far as it can, never raising;
    # were it to raise, the scan records the message without its text, with a warning)
    payload = part.get_payload(decode=True)
    charset = part.get_content_charset()
    if charset:
        try:
            return payload.decode(charset, "replace")
        except LookupError:  # an unknown charset: read as UTF-8
            pass
    return payload.decode(errors="replace")


def text_of(content_headers: bytes, body: bytes) -> str:
    """The readable text of a (possibly truncated) message: its first text/plain part,
    else its first text/html part as text; "" when there is none."""
    import email

    head = content_headers.rstrip() + b"\r\n\r\n" if content_headers.strip() else b""
    msg = email.message_from_bytes(head + body)
    html = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            return _decode(part).replace("\r\n", "\n")
        if ctype == "text/html" and html is None:
            html = part
    if html is None:
        return ""
    parser = _Text()
    try:
        parser.feed(_decode(html))
        parser.close()
    except Exception:
        return ""
    # (its readers split on "\n" and strip each line: a "\r" left would read the same)
    return "".join(parser.out).replace("\r\n", "\n")  # pragma: no mutate


def own_lines(text: str) -> list[str]:
    """The lines the sender wrote: non-blank, not quoted (``>``), stopping at the
    attribution line of a quoted message or a signature separator."""
    return list(_own_lines(text))


def _own_lines(text: str) -> Iterator[str]:
    for raw in text.split("\n"):
        line = raw.strip().replace("\u00a0", " ")
        if not line or line.startswith(">"):
            continue
        if raw.rstrip() == "--" or _ATTRIBUTION.match(line):
            return
        yield line


def first_line(text: str | None) -> str | None:
    """The first line the sender wrote, or None."""
    lines = own_lines(text or "")
    return lines[0] if lines else None


def snippet(text: str | None) -> str | None:
    """The sender's own text, on one line, at most ``SNIPPET_CHARS`` long; None if empty."""
    words: list[str] = []
    size = -1  # pragma: no mutate (how many lines are read, not what is kept)
    for line in _own_lines(text or ""):  # only as many lines as the snippet shows
        for word in line.split():
            words.append(word)
            size += len(word) + 1  # pragma: no mutate (how many lines are read; tested)
        if size >= SNIPPET_CHARS:  # pragma: no mutate (reading more keeps the same)
            break
    return " ".join(words)[:SNIPPET_CHARS] or None
