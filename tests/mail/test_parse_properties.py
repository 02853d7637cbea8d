"""Hypothesis properties of header decoding in the scanner: what a mail client encodes,
the scanner reads back; garbage never raises; addresses normalise once and for all."""

from __future__ import annotations

from email.header import Header

from hypothesis import example, given, settings
from hypothesis import strategies as st

from salescli.mail.parse import decode_words, normalise_address

words = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60)


@given(words, st.sampled_from(["utf-8", "iso-8859-1", "iso-8859-15", "windows-1252"]))
def test_an_encoded_subject_decodes_to_its_text(text, charset):
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    encoded = Header(text, charset).encode()
    assert decode_words(encoded) == " ".join(text.split())


@given(st.text(max_size=80))
def test_plain_or_garbage_headers_never_raise_and_come_back_on_one_line(value):
    got = decode_words(value)
    assert isinstance(got, str)
    assert "\n" not in got and "\r" not in got and "\t" not in got
    assert got == got.strip()
    if "=?" not in value:
        assert got == " ".join(value.split())


local = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._+-]{0,20}[a-zA-Z0-9]", fullmatch=True)
domain = st.from_regex(r"[a-zA-Z0-9]{1,10}(\.[a-zA-Z0-9]{1,10}){0,2}\.[a-zA-Z]{2,6}",
                       fullmatch=True)


@given(local, domain, st.sampled_from(["", " ", "<", "mailto:"]))
def test_an_address_normalises_to_lower_case_once_and_for_all(user, host, wrap):
    if ".." in user:
        return
    raw = f"{wrap}{user}@{host}{'>' if wrap == '<' else ''}"
    got = normalise_address(raw)
    assert got == f"{user}@{host}".lower()
    assert normalise_address(got) == got


@given(st.text(max_size=60))
def test_anything_is_an_address_or_none(value):
    got = normalise_address(value)
    assert got is None or (got == got.lower() and "@" in got and normalise_address(got) == got)


# Pieces of header blocks, well-formed and not: folds, unix-from lines, colons first,
# bare CR, every line break str.splitlines knows and the feed parser does not, 8-bit.
_PIECES = [b"From ", b"From", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\n\n", b"a",
           b"Subject", b"X-Y", b"To: <a@b.example>", b"\xe9", b"\xff", b"\x0b", b"\x0c",
           b"\x1c", b"\x1d", b"\x1e", b"\x1f", b"\x85", b"\x00", b"(", b"@", b"=?utf-8?q?x?="]


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map(b"".join))
@example(b"Subject: a\r\n b\r\n\tc\r\nTo: x\r\n\r\nbody")  # folded twice
@example(b"X: 1\r\nFrom someone\r\nY: 2\r\n")  # a unix-from inside: skipped
@example(b"X: 1\r\nFrom someone\r\n")  # ... as the last line: the body
@example(b"From someone\r\nA: 1\r\n")  # ... as the first line: skipped
@example(b"A: 1\r\n:no name\r\n folded\r\nB: 2\r\n")
@example(b"Subject: endsX\r\nTo:\x0cformfeed\r\nX-Y: Xstarts\r\n")
def test_header_fields_are_read_as_the_stdlib_parser_reads_them(raw):
    from email.parser import BytesHeaderParser

    from salescli.mail.parse import header_items

    assert header_items(raw) == list(BytesHeaderParser().parsebytes(raw).raw_items())


_WORD = st.text(st.sampled_from("ab \u00a0\t>-"), min_size=0, max_size=120)


@given(st.lists(st.one_of(_WORD, st.sampled_from(["--", "> quoted", "On Mon, Ann wrote:"])),
                max_size=60).map("\n".join))
def test_a_snippet_is_the_senders_own_words_cut_at_its_length(text):
    from salescli.mail.body import SNIPPET_CHARS, own_lines, snippet

    whole = " ".join(" ".join(own_lines(text)).split())
    assert snippet(text) == (whole[:SNIPPET_CHARS] or None)


_two = st.one_of(st.integers(0, 23), st.integers(0, 99)).map("{:02d}".format)


@settings(max_examples=500)
@given(st.sampled_from(["", "Thu, ", "xyz, "]), st.integers(0, 40),
       st.sampled_from(["Jan", "feb", "MAR", "Dec", "Foo", "Aug"]),
       st.integers(0, 9999).map("{:04d}".format), _two, _two, _two,
       st.sampled_from("+-"), _two, _two)
def test_the_usual_date_is_read_as_the_stdlib_reads_it(dow, day, month, year, hh, mm, ss,
                                                       sign, zh, zm):
    from email.utils import parsedate_to_datetime

    from salescli.mail.parse import date_header

    text = f"{dow}{day} {month} {year} {hh}:{mm}:{ss} {sign}{zh}{zm}"
    try:
        want = parsedate_to_datetime(text)
    except (ValueError, OverflowError) as exc:
        want = type(exc)
    try:
        got = date_header(text)
    except (ValueError, OverflowError) as exc:
        got = type(exc)
    assert got == want
    if not isinstance(want, type):
        assert (got.tzinfo is None) == (want.tzinfo is None)
        assert got.utcoffset() == want.utcoffset()


def _envelope(raw, arrived):
    from salescli.mail.parse import Envelope, parse_envelope

    return parse_envelope(Envelope("a", "INBOX", 1, "a/INBOX/1"), raw, arrived)


def test_the_date_header_wins_over_the_servers_arrival_time():
    raw = b"From: a@b.example\r\nDate: Tue, 04 Aug 2026 09:30:00 +0200\r\n\r\n"
    env = _envelope(raw, b"05-Aug-2026 10:00:00 +0000")
    assert env.sent_at == "2026-08-04T07:30:00Z"


def test_without_a_date_the_servers_arrival_time_is_read_in_its_own_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")  # the local zone must not matter
    time.tzset()
    try:
        env = _envelope(b"From: a@b.example\r\nSubject: no date\r\n\r\n",
                        b" 5-Aug-2026 10:00:00 +0200")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert env.error is None and env.sent_at == "2026-08-05T08:00:00Z"


def test_a_long_auto_reply_keeps_exactly_its_first_snippet_characters():
    from salescli.mail.body import SNIPPET_CHARS, snippet

    text = "\n".join(f"word{i:05d}" for i in range(300))  # 10 characters a line, joined
    got = snippet(text)
    assert len(got) == SNIPPET_CHARS
    assert got == " ".join(f"word{i:05d}" for i in range(300))[:SNIPPET_CHARS]
