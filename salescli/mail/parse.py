"""From raw header bytes to an ``Envelope``: the few facts the monitor uses.

Header blocks are split into fields exactly as the stdlib compat32 parser
(``BytesHeaderParser().parsebytes(raw).raw_items()``) splits them, by ``header_items``:
the same lines, unfolding and handling of malformed lines, without building a Message
(the stdlib's feed parser cost most of the scanner's parsing time); only the fields we
use are decoded, and 8-bit or badly encoded values are repaired rather than allowed to
fail the message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header
from email.utils import getaddresses, parsedate_to_datetime

from salescli.core.timeutil import iso

# The header fields fetched from the server (BODY.PEEK[HEADER.FIELDS (...)]).
FIELDS = ("From", "Sender", "To", "Cc", "Delivered-To", "Date", "Subject", "Message-ID",
          "In-Reply-To", "References", "List-Id", "List-Unsubscribe", "Precedence",
          "Auto-Submitted", "X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress",
          "Return-Path", "Content-Type", "X-Failed-Recipients")
IMAP_HEADER_ITEM = ("BODY.PEEK[HEADER.FIELDS (" + " ".join(f.upper() for f in FIELDS) + ")]")
MAX_HEADER_BYTES = 512 * 1024
MAX_RECIPIENTS = 1000
_MSGID = re.compile(r"<([^<>\s]{1,250})>")
_SIMPLE_ADDRESS = re.compile(
    r'^\s*(?:"?(?P<name>[^"<>,;:@()\\]*?)"?\s*)?<(?P<addr>[^<>\s,;:"()\\]+@[^<>\s,;:"()\\]+)>\s*$'
    r'|^\s*(?P<bare>[^<>\s,;:"()\\]+@[^<>\s,;:"()\\]+)\s*$')
_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[a-z0-9.-]+\.[a-z0-9-]+$")
# A quoted local part (RFC 5322): ``"system administrator"@example.com``, with
# backslash-escaped characters inside; postmasters of some systems send from such.
_QUOTED_ADDRESS = re.compile(r'^"(?:[^"\\\r\n]|\\.){1,64}"@[a-z0-9.-]+\.[a-z0-9-]+$')
# The stdlib feed parser's line ends (``\r\n``, ``\r``, ``\n``; a last line may have none)
# and its test for a header line (``email.feedparser.headerRE``): a unix-from, a field
# name and colon, or a continuation.
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")
# Line breaks of ``str.splitlines`` that the feed parser does not break at (bytes read as
# ASCII with surrogate escapes hold no others): without them, splitlines is the fast way.
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c-\x1e]")
_SURROGATES = re.compile("[\udc80-\udcff]")
_WANTED = frozenset(f.lower() for f in FIELDS)
_LISTS = frozenset(("from", "sender", "to", "cc", "delivered-to"))


class Unparseable(Exception):
    """The message cannot be processed; the text is the quarantine reason."""


@dataclass(slots=True)
class Envelope:
    """One message as the monitor sees it, wherever it came from."""

    account: str
    folder: str
    handle: object  # UID (IMAP, mbox index) or file path (Maildir)
    location: str
    key: str = ""
    message_id: str | None = None
    sent_at: str = ""
    from_addr: str | None = None
    from_name: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    delivered_to: tuple[str, ...] = ()
    subject: str | None = None
    thread_key: str | None = None
    sent_folder: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    kind: str = ""
    failures: list = field(default_factory=list)
    error: str | None = None
    # Why the sender is unusable (null path, no From): an error only if the message
    # turns out not to be a bounce, which is decided before any From check.
    from_error: str | None = None
    # The sender's text (``mail.body``), fetched only for auto-replies and mail from
    # prospects with a live enrollment; None when not fetched.
    text: str | None = None

    @property
    def uid(self) -> int | None:
        return self.handle if isinstance(self.handle, int) else None

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc


def fix_text(value: str | None) -> str | None:
    """Undo the parser's surrogate escapes of 8-bit bytes (UTF-8, else Latin-1)."""
    if value is None:
        return None
    if _SURROGATES.search(value):
        raw = value.encode("ascii", "surrogateescape")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return value


def decode_words(value: str | None) -> str | None:
    """Decode RFC 2047 encoded words; unknown charsets and bad bytes become U+FFFD."""
    value = fix_text(value)
    if not value:
        return value
    if "=?" not in value:
        return " ".join(value.split())
    try:
        parts = decode_header(value)
    except Exception:  # the stdlib raises several types on garbage
        return " ".join(value.split())
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, str):  # no valid encoded word: the value, as one chunk
            out.append(chunk)
        else:
            # Text outside encoded words comes back as ``raw-unicode-escape`` bytes: its
            # 8-bit characters (already repaired by fix_text) decode back to themselves.
            try:
                out.append(chunk.decode(charset or "raw-unicode-escape", "replace"))
            except LookupError:
                out.append(chunk.decode("utf-8", "replace"))
    return " ".join("".join(out).split())


def normalise_address(addr: str) -> str | None:
    """Lower-case, trimmed, ``mailto:`` dropped; None when it is not an address."""
    if not addr:
        return None
    addr = addr.strip().strip("<>").lower()
    if addr.startswith("mailto:"):
        addr = addr[7:]
    if not addr or len(addr) > 254:
        return None
    if addr.startswith('"'):
        return addr if _QUOTED_ADDRESS.match(addr) else None
    if not _ADDRESS.match(addr) or ".." in addr:
        return None
    return addr


def address_pairs(values: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of header values; the common one-address forms
    take a fast path, anything else goes through the stdlib's full parser."""
    out: list[tuple[str, str]] = []
    for value in values:
        value = fix_text(value)  # a str, as every header value is
        m = _SIMPLE_ADDRESS.match(value)  # pragma: no mutate (a fast path to the same pairs)
        if m:
            out.append((m.group("name") or "", m.group("addr") or m.group("bare")))
        else:
            out.extend(getaddresses([value]))
    return out


def addresses(values: list[str]) -> tuple[str, ...]:
    """Unique normalised addresses from header values, in order."""
    out: list[str] = []
    for _name, addr in address_pairs(values):
        norm = normalise_address(addr)
        if norm and norm not in out:
            out.append(norm)
            if len(out) >= MAX_RECIPIENTS:
                break
    return tuple(out)


def message_ids(value: str | None) -> list[str]:
    """Every ``<id>`` in a Message-ID / In-Reply-To / References value."""
    return [f"<{m}>" for m in _MSGID.findall(value)] if value else []


# The Date most mail has, "Thu, 06 Aug 2026 05:11:22 +0000", read without the stdlib's
# general parser (what it would return; anything else goes to it).
_USUAL_DATE = re.compile(r"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) ([1-9]\d{3}) "
                         r"(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
_MONTHS = {m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                       "sep", "oct", "nov", "dec"), 1)}


def date_header(text: str) -> datetime:
    """``email.utils.parsedate_to_datetime``, with a fast path for the usual form; raises
    as it does (ValueError) for what is not a date."""
    # A miss here only takes the stdlib's path, to the same answer (tested against it):
    m = _USUAL_DATE.fullmatch(text)  # pragma: no mutate
    month = _MONTHS.get(m[2].lower()) if m else None  # pragma: no mutate
    if not month:
        return parsedate_to_datetime(text)
    offset = int(m[8]) * 3600 + int(m[9]) * 60
    sign = -1 if m[7] == "-" else 1
    # "-0000": the zone is unknown, so the stdlib answers a naive time
    tz = None if m[7] == "-" and not offset else timezone(timedelta(seconds=sign * offset))
    return datetime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=tz)


def parse_date(value: str | None, fallback: datetime | bytes | None) -> datetime | None:
    """The Date header as aware UTC; the fallback (INTERNALDATE, parsed only when needed
    if given as the server's bytes) when missing, broken or more than a day in the
    future."""
    dt = None
    if value:
        try:
            dt = date_header(fix_text(value).strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            dt = None
        if dt is not None:
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            try:
                dt = dt.astimezone(UTC)
            except (OverflowError, ValueError):
                dt = None
        if dt is not None and (dt.year < 1980
                               or dt > datetime.now(UTC) + timedelta(days=1)):
            dt = None
    if dt is None and isinstance(fallback, bytes):
        from imapclient.datetime_util import parse_to_datetime

        fallback = parse_to_datetime(fallback, normalise=False)
    if dt is None and fallback is not None:
        dt = fallback if fallback.tzinfo else fallback.replace(tzinfo=UTC)
        dt = dt.astimezone(UTC)
    return dt


def content_key(headers: dict[str, str]) -> str:
    """A stable key for a message without a Message-ID: hash of its identifying fields."""
    parts = [" ".join((headers.get(f) or "").split()) for f in
             ("from", "to", "cc", "date", "subject")]
    text = "\0".join(parts)
    return "sha1:" + hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def header_items(raw: bytes) -> list[tuple[str, str]]:
    """The (name, raw value) fields of a header block, as compat32's ``raw_items()``
    gives them: bytes read as ASCII with surrogate escapes; the block ends at the first
    line that is neither a field, a continuation nor a unix-from; a leading continuation,
    a field without a name and a unix-from are skipped; a value keeps its continuation
    lines, its trailing line end removed."""
    text = raw.decode("ascii", "surrogateescape")  # pragma: no mutate (codec names ignore case)
    lines = _LINES.findall(text) if _OTHER_BREAKS.search(text) else text.splitlines(True)
    block: list[str] = []
    match = _HEADER_LINE.match
    for line in lines:
        if not match(line):
            break
        block.append(line)
    items: list[tuple[str, str]] = []
    field: list[str] | None = None
    for line in block:
        if line[0] in " \t":
            if field is not None:
                field.append(line)
            continue
        if field is not None:
            items.append(_item(field))
            field = None
        if line.startswith("From "):
            continue  # a unix-from (as the block's last line, the stdlib's body: the same)
        if line[0] != ":":
            field = [line]
    if field is not None:
        items.append(_item(field))
    return items


def _item(lines: list[str]) -> tuple[str, str]:
    name, value = lines[0].split(":", 1)
    return name, (value.lstrip(" \t") + "".join(lines[1:])).rstrip("\r\n")


def parse_envelope(env: Envelope, raw: bytes,
                   internaldate: datetime | bytes | None) -> Envelope:
    """Fill ``env`` from raw header bytes; sets ``env.error`` when it cannot be used."""
    try:
        _fill(env, raw, internaldate)
    except Unparseable as exc:
        env.error = str(exc)
    except Exception as exc:  # a parser bug on hostile input: quarantine, go on
        env.error = f"headers could not be parsed ({type(exc).__name__}: {exc})"[:500]
    if not env.key:
        env.key = "sha1:" + hashlib.sha1(raw[:MAX_HEADER_BYTES]).hexdigest()
    return env


def parse_many(account: str, folder: str, sent: bool,
               items: list[tuple[object, str, bytes, datetime | bytes | None]]
               ) -> list[Envelope]:
    """``parse_envelope`` of each (handle, location, raw headers, INTERNALDATE) of one
    folder's chunk, in order (in the scan's process or in ``parse_worker``'s)."""
    return [parse_envelope(Envelope(account, folder, handle, location, sent_folder=sent),
                           raw, arrived) for handle, location, raw, arrived in items]


def _fill(env: Envelope, raw: bytes, internaldate: datetime | bytes | None) -> None:
    if len(raw) > MAX_HEADER_BYTES:
        # Still give it a stable key so it is quarantined once.
        env.key = "sha1:" + hashlib.sha1(raw[:65536]).hexdigest()
        raise Unparseable(f"header block too large ({len(raw)} bytes > {MAX_HEADER_BYTES})")
    headers: dict[str, str] = {}
    many: dict[str, list[str]] = {}
    for name, value in header_items(raw):  # raw: 8-bit bytes stay surrogate-escaped text
        low = name.lower()
        if low in _WANTED:
            headers.setdefault(low, value)
            if low in _LISTS:
                many.setdefault(low, []).append(value)
    env.headers = headers
    ids = message_ids(headers.get("message-id"))
    env.message_id = ids[0] if ids else None
    env.key = env.message_id or content_key(headers)
    senders = [(name, norm) for name, addr in address_pairs(many.get("from", []))
               if (norm := normalise_address(addr))]
    if not senders:
        senders = [(name, norm) for name, addr in address_pairs(many.get("sender", []))
                   if (norm := normalise_address(addr))]
    if senders:
        name, env.from_addr = senders[0]
        env.from_name = decode_words(name) if name and name.strip() else None
    else:
        env.from_error = ("no usable From address" if headers.get("from") or
                          headers.get("sender") else "no From header")
    env.to = addresses(many.get("to", []))
    env.cc = addresses(many.get("cc", []))
    env.delivered_to = addresses(many.get("delivered-to", []))
    env.subject = decode_words(headers.get("subject"))
    if env.subject and len(env.subject) > 500:
        env.subject = env.subject[:499] + "…"
    when = parse_date(headers.get("date"), internaldate)
    if when is None:
        raise Unparseable("no usable Date and no arrival time")
    env.sent_at = iso(when)
    refs = message_ids(headers.get("references"))
    reply_to = message_ids(headers.get("in-reply-to"))
    env.thread_key = (refs[0] if refs else reply_to[0] if reply_to else env.key)
