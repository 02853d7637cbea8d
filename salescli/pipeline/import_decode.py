"""Bytes → text for imports: which encoding a file is in, decided once from its bytes, then
decoded as a stream (an incremental decoder; one chunk in memory at a time).

UTF-8 (with or without BOM) and UTF-16 with a BOM (Excel's "Unicode text") are certain.
Other bytes are decided at the first chunk that is not ASCII, by charset-normalizer
restricted to the Windows code pages spreadsheets write, preferring Windows-1252 when it
reads the bytes as well as any other: € ’ “ ” are its bytes 0x80-0x9F, control characters
in Latin-1, so a file is called Latin-1 only when none of them appears (and such a byte
later in the file is still read as Windows-1252, never as a control character).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from salescli.core.errors import InvalidValue

# What a single-byte CSV from a spreadsheet or CRM is in practice: Western, Central European,
# Cyrillic, Greek, Turkish, Baltic Windows code pages. (Wider lists make short samples
# "detected" as Big5 or Mac Roman.)
CANDIDATES = ["cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257"]
PREFER = 0.01  # chaos by which another code page must beat cp1252 to be chosen
EVIDENCE = 32  # non-ASCII bytes below which charset-normalizer's answer is noise
SAMPLE = 1 << 16  # bytes of non-ASCII lines handed to the detector
IConv = {"cp1252": "WINDOWS-1252", "latin-1": "WINDOWS-1252", "cp1250": "WINDOWS-1250",
         "cp1251": "WINDOWS-1251", "cp1253": "WINDOWS-1253", "cp1254": "WINDOWS-1254",
         "cp1257": "WINDOWS-1257", "utf-8": "UTF-8"}
NAMES = {"cp1252": "Windows-1252", "latin-1": "Latin-1", "utf-8": "UTF-8",
         "utf-8-sig": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}


def _c1(exc: UnicodeError) -> tuple[str, int]:
    """The five bytes Windows-1252 leaves undefined, read as Latin-1 does."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return chr(exc.object[exc.start]), exc.start + 1


codecs.register_error("salescli-latin1", _c1)


def has_c1(data: bytes) -> bool:
    """Whether ``data`` holds a byte 0x80-0x9F (€ ’ “ ” … in Windows-1252)."""
    return any(0x80 <= b <= 0x9F for b in data)


def sample(data: bytes) -> bytes:
    """The lines of ``data`` that are not ASCII, up to SAMPLE bytes: what tells encodings
    apart, without the ASCII bulk that dilutes a detector's statistics."""
    lines = [line for line in data.splitlines(keepends=True) if not line.isascii()]
    out, size = [], 0  # pragma: no mutate (a byte more or less of sample)
    for line in lines:
        out.append(line)
        size += len(line)
        if size >= SAMPLE:  # pragma: no mutate (a byte more or less of sample)
            break
    return b"".join(out)


def detect(data: bytes) -> str:
    """The single-byte code page of non-UTF-8 ``data``: ``cp1252`` (``latin-1`` when no
    byte 0x80-0x9F appears) unless another candidate reads it clearly better. A sample
    of few non-ASCII bytes (a name or two) is Windows-1252: detectors guess wildly on it."""
    from charset_normalizer import from_bytes

    text = sample(data) or data
    western = "cp1252" if has_c1(data) else "latin-1"
    if sum(1 for b in text if b >= 0x80) < EVIDENCE:  # pragma: no mutate (±1 byte of evidence)
        return western  # too few letters for any detector: the usual spreadsheet default
    chaos: dict[str, float] = {}
    for match in from_bytes(text, cp_isolation=CANDIDATES, threshold=1.0):
        for name in [match.encoding, *match.could_be_from_charset]:
            chaos.setdefault(name, match.chaos)  # the same text read the same: same chaos
    if not chaos or "cp1252" in chaos and chaos["cp1252"] <= min(chaos.values()) + PREFER:
        return western
    return min(CANDIDATES, key=lambda c: (chaos.get(c, 2.0), CANDIDATES.index(c)))


def decoder(encoding: str) -> codecs.IncrementalDecoder:
    """An incremental decoder for a decided encoding (Latin-1 is read as Windows-1252)."""
    if encoding in ("cp1252", "latin-1"):
        return codecs.getincrementaldecoder("cp1252")("salescli-latin1")
    if encoding == "utf-8-sig":  # its BOM is dropped with the first text (Source.text):
        encoding = "utf-8"  # utf-8-sig's decoder would count error offsets after it
    return codecs.getincrementaldecoder(encoding)()


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 (a character cut off at its end allowed)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data)  # pragma: no mutate (UTF-8 alike)
    except UnicodeDecodeError:
        return False
    return True


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                            rb"|[\xf0-\xf4][\x80-\xbf]{3}")


def mostly_utf8(data: bytes) -> bool:
    """Whether most non-ASCII bytes of ``data`` (not all UTF-8) form UTF-8 characters: a
    file that mixes encodings, which no single decoding reads right (decoded as UTF-8, it
    fails at the first foreign byte, naming it)."""
    foreign = sum(1 for b in data if b >= 0x80)
    utf8 = sum(map(len, _UTF8_SEQUENCE.findall(data)))
    return utf8 * 2 >= foreign


def iconv(encoding: str) -> str:
    """The iconv name of a code page (``latin-1`` files are Windows-1252 for iconv, the
    superset that keeps € and ’)."""
    return IConv.get(encoding, encoding.upper())


def name(encoding: str) -> str:
    """An encoding as people call it."""
    return NAMES.get(encoding, encoding)


class Decoding:
    """Decodes chunks of one input in an encoding decided from its first non-ASCII chunk
    (or given), and names the byte and line where decoding fails."""

    def __init__(self, source: str, encoding: str | None, forced: bool = False):
        self.source, self.encoding, self.forced = source, encoding, forced
        self.decoder = decoder(encoding) if encoding else None
        self.offset = 0  # bytes before the current chunk
        self.line = 1  # line of the start of the current chunk

    def decode(self, data: bytes, final: bool = False) -> str:
        """The text of the next chunk (``final``: the input ends after it)."""
        if self.decoder is None:
            if data.isascii() and not final:
                self._advance(data, data.count(b"\n"))
                return data.decode("ascii")  # pragma: no mutate (ASCII alike)
            self.encoding = "utf-8" if data.isascii() or is_utf8(data) or mostly_utf8(data) \
                else detect(data)
            self.decoder = decoder(self.encoding)
        try:
            text = self.decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise self.error(data, exc) from None
        self._advance(data, text.count("\n"))
        return text

    def _advance(self, data: bytes, lines: int) -> None:
        self.offset += len(data)
        self.line += lines

    def error(self, data: bytes, exc: UnicodeDecodeError) -> InvalidValue:
        """One line: the byte, its offset and line, and what to do that is right for it
        (called once an encoding is decided)."""
        start = len(data) if exc.reason == "unexpected end of data" else max(0, exc.start)
        before = codecs.decode(data[:start], self.encoding, "replace")
        at = f"byte 0x{data[start]:02x} at offset {self.offset + start} (line " \
             f"{self.line + before.count(chr(10))})" if start < len(data) else \
             f"the end (offset {self.offset + len(data)}, inside a character)"
        was = name(self.encoding)
        if start >= len(data) or self.encoding not in ("utf-8", "utf-8-sig"):
            return InvalidValue("file", self.source, f"is not {was} text: {at}; save it as "
                                                     "CSV UTF-8")
        rest = data[start:start + SAMPLE]
        guess = detect(rest)
        if self.forced:
            return InvalidValue("file", self.source, f"is not {was} text: {at}; it looks like"
                                f" {name(guess)}: set encoding = \"{guess}\", or convert it: "
                                f"iconv -f {iconv(guess)} -t UTF-8")
        return InvalidValue("file", self.source, f"mixes encodings: it starts as {was} but "
                            f"{at} is not {was} (it looks like {name(guess)}); save the "
                            "whole file as CSV UTF-8, or fix that line")


def chunks_with_end(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Each chunk with whether it is the last."""
    previous = next(chunks, None)
    for chunk in chunks:
        yield previous, False  # type: ignore[misc]
        previous = chunk
    if previous is not None:
        yield previous, True
