"""What the header parser makes of crafted header blocks: every field of the Envelope
(sender, its name, recipients, subject, ids, thread, date, key, errors) pinned whole,
one row a message, so that a changed rule of reading shows as a changed row."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from salescli.mail.parse import (
    MAX_HEADER_BYTES,
    MAX_RECIPIENTS,
    Envelope,
    addresses,
    parse_date,
    parse_envelope,
    parse_many,
)
from tests.support.zone import in_zone

ARRIVED = datetime(2026, 8, 5, 10, 0, tzinfo=UTC)
DATE = "Date: Tue, 04 Aug 2026 09:30:00 +0200\r\n"


def _read(raw: bytes, arrived: datetime | bytes | None = ARRIVED) -> Envelope:
    return parse_envelope(Envelope("acct", "INBOX", 7, "acct/INBOX;UID=7"), raw, arrived)


def _fields(env: Envelope) -> dict:
    return {"from": env.from_addr, "name": env.from_name, "to": env.to, "cc": env.cc,
            "delivered_to": env.delivered_to, "subject": env.subject,
            "message_id": env.message_id, "key": env.key, "thread": env.thread_key,
            "sent_at": env.sent_at, "error": env.error, "from_error": env.from_error}


def _row(**fields) -> dict:
    base = {"from": None, "name": None, "to": (), "cc": (), "delivered_to": (),
            "subject": None, "message_id": None, "thread": None, "key": None,
            "sent_at": "2026-08-04T07:30:00Z", "error": None, "from_error": None}
    base.update(fields)
    if base["thread"] is None:
        base["thread"] = base["key"]
    return base


CASES = {
    "a plain reply": (
        "From: Ada Lovelace <Ada@Example.COM>\r\nTo: me@ours.example\r\n"
        "Subject: Re: Offer\r\nMessage-ID: <r1@example.com>\r\n"
        "In-Reply-To: <o1@ours.example>\r\n" + DATE,
        _row(**{"from": "ada@example.com", "name": "Ada Lovelace", "to": ("me@ours.example",),
                "subject": "Re: Offer", "message_id": "<r1@example.com>",
                "key": "<r1@example.com>", "thread": "<o1@ours.example>"})),
    "references win over in-reply-to, the first of each": (
        "From: bob@example.org\r\nMessage-ID: <r2@x>\r\nIn-Reply-To: <b@x> <c@x>\r\n"
        "References: <a@x>\r\n  <b@x>\r\n" + DATE,
        _row(**{"from": "bob@example.org", "message_id": "<r2@x>", "key": "<r2@x>",
                "thread": "<a@x>"})),
    "a quoted name with a comma, in another case of field names": (
        'FROM: "Babbage, Bob" <bob@example.org>\r\nto: a@x.example, "B" <b@x.example>,'
        " A@X.example\r\nCC: c@x.example\r\nMESSAGE-ID: <r3@x>\r\n" + DATE,
        _row(**{"from": "bob@example.org", "name": "Babbage, Bob",
                "to": ("a@x.example", "b@x.example"), "cc": ("c@x.example",),
                "message_id": "<r3@x>", "key": "<r3@x>"})),
    "an encoded name and subject": (
        "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\n"
        "Subject: =?iso-8859-1?q?Gr=FC=DFe?=   aus\r\n\t K\xf6ln\r\n"
        "Message-ID: <r4@x>\r\n" + DATE,
        _row(**{"from": "jm@example.de", "name": "Jürgen Müller",
                "subject": "Grüße aus Köln", "message_id": "<r4@x>", "key": "<r4@x>"})),
    "8-bit UTF-8 values": (
        "From: J\u00fcrgen <jm@example.de>\r\nSubject: Caf\u00e9 cr\u00e8me\r\n"
        "Message-ID: <r5@x>\r\n" + DATE,
        _row(**{"from": "jm@example.de", "name": "Jürgen", "subject": "Café crème",
                "message_id": "<r5@x>", "key": "<r5@x>"})),
    "a blank name is no name; several From fields: the first usable one": (
        'From: "  " <>\r\nFrom: "   " <cy@example.net>\r\nFrom: dee@example.com\r\n'
        "Message-ID: <r6@x>\r\n" + DATE,
        _row(**{"from": "cy@example.net", "message_id": "<r6@x>", "key": "<r6@x>"})),
    "no usable From: the Sender": (
        "From: undisclosed recipients\r\nSender: Eve Ng <eve@example.org>\r\n"
        "Message-ID: <r7@x>\r\n" + DATE,
        _row(**{"from": "eve@example.org", "name": "Eve Ng", "message_id": "<r7@x>",
                "key": "<r7@x>"})),
    "no From at all": (
        "To: me@ours.example\r\nMessage-ID: <r8@x>\r\n" + DATE,
        _row(**{"to": ("me@ours.example",), "message_id": "<r8@x>", "key": "<r8@x>",
                "from_error": "no From header"})),
    "only a Sender that is no address": (
        "Sender: nobody\r\nMessage-ID: <r9@x>\r\n" + DATE,
        _row(**{"message_id": "<r9@x>", "key": "<r9@x>",
                "from_error": "no usable From address"})),
    "the null path": (
        "From: <>\r\nMessage-ID: <r10@x>\r\n" + DATE,
        _row(**{"message_id": "<r10@x>", "key": "<r10@x>",
                "from_error": "no usable From address"})),
    "the first of repeated single fields; delivered-to and every To field": (
        "From: a@x.example\r\nSubject: first\r\nSubject: second\r\nTo: t1@x.example\r\n"
        "To: t2@x.example, t1@x.example\r\nDelivered-To: Me@Ours.example\r\n"
        "Delivered-To: mailto:alias@ours.example\r\nMessage-ID: <r11@x> <r11b@x>\r\n"
        "Message-ID: <r11c@x>\r\n" + DATE,
        _row(**{"from": "a@x.example", "to": ("t1@x.example", "t2@x.example"),
                "delivered_to": ("me@ours.example", "alias@ours.example"),
                "subject": "first", "message_id": "<r11@x>", "key": "<r11@x>"})),
    "no Message-ID: a key of its fields": (
        "From: a@x.example\r\nTo: b@x.example\r\nSubject:  no  id \r\n" + DATE,
        _row(**{"from": "a@x.example", "to": ("b@x.example",), "subject": "no id",
                "key": "sha1:8d6617b501226de8a1d0f686bcfefc415fa535c3"})),
    "a Message-ID without brackets is none": (
        "From: a@x.example\r\nMessage-ID: r12@x\r\nIn-Reply-To: <p@x>\r\n" + DATE,
        _row(**{"from": "a@x.example", "thread": "<p@x>",
                "key": "sha1:d22ef7b1fde27041c6fd935be7dbcd5233b52255"})),
    "no Date: the arrival time": (
        "From: a@x.example\r\nMessage-ID: <r13@x>\r\n",
        _row(**{"from": "a@x.example", "message_id": "<r13@x>", "key": "<r13@x>",
                "sent_at": "2026-08-05T10:00:00Z"})),
    "a Date without a zone, and -0000: read as UTC": (
        "From: a@x.example\r\nMessage-ID: <r14@x>\r\nDate: 4 Aug 2026 09:30:00 -0000\r\n",
        _row(**{"from": "a@x.example", "message_id": "<r14@x>", "key": "<r14@x>",
                "sent_at": "2026-08-04T09:30:00Z"})),
    "a Date west of UTC": (
        "From: a@x.example\r\nMessage-ID: <r15@x>\r\nDate: 4 Aug 2026 22:30:00 -0330\r\n",
        _row(**{"from": "a@x.example", "message_id": "<r15@x>", "key": "<r15@x>",
                "sent_at": "2026-08-05T02:00:00Z"})),
    "a Date in the stdlib's other forms": (
        "From: a@x.example\r\nMessage-ID: <r16@x>\r\nDate: Tue, 4 Aug 2026 09:30 GMT\r\n",
        _row(**{"from": "a@x.example", "message_id": "<r16@x>", "key": "<r16@x>",
                "sent_at": "2026-08-04T09:30:00Z"})),
    "a Date before 1980: the arrival time": (
        "From: a@x.example\r\nMessage-ID: <r17@x>\r\nDate: 31 Dec 1979 23:59:59 +0000\r\n",
        _row(**{"from": "a@x.example", "message_id": "<r17@x>", "key": "<r17@x>",
                "sent_at": "2026-08-05T10:00:00Z"})),
    "a Date in 1980 stands": (
        "From: a@x.example\r\nMessage-ID: <r18@x>\r\nDate: 1 Jan 1980 00:00:00 +0000\r\n",
        _row(**{"from": "a@x.example", "message_id": "<r18@x>", "key": "<r18@x>",
                "sent_at": "1980-01-01T00:00:00Z"})),
    "a broken Date: the arrival time": (
        "From: a@x.example\r\nMessage-ID: <r19@x>\r\nDate: 45 Foo 2026 99:99\r\n",
        _row(**{"from": "a@x.example", "message_id": "<r19@x>", "key": "<r19@x>",
                "sent_at": "2026-08-05T10:00:00Z"})),
}


@pytest.mark.parametrize("name", CASES)
def test_a_header_block_reads_as_this_envelope(name):
    text, want = CASES[name]
    assert _fields(_read(text.encode("utf-8"))) == want


def test_8bit_latin1_is_read_when_it_is_not_utf8():
    raw = b"From: J\xfcrgen <jm@example.de>\r\nSubject: Caf\xe9\r\nMessage-ID: <l@x>\r\n"
    env = _read(raw + DATE.encode())
    assert (env.from_name, env.subject) == ("Jürgen", "Café")


def _padded(size: int) -> bytes:
    """A usable header block of exactly ``size`` bytes."""
    head = ("From: a@x.example\r\nMessage-ID: <big@x>\r\n" + DATE + "X-Pad: ").encode()
    return head + b"a" * (size - len(head) - 2) + b"\r\n"


def test_a_header_block_of_the_largest_size_is_read_and_one_byte_more_is_quarantined():
    at_limit = _read(_padded(MAX_HEADER_BYTES))
    assert (at_limit.error, at_limit.key, at_limit.from_addr) == (None, "<big@x>",
                                                                  "a@x.example")
    raw = _padded(MAX_HEADER_BYTES + 1)
    over = _read(raw)
    assert _fields(over) == {**_row(**{
        "error": f"header block too large ({MAX_HEADER_BYTES + 1} bytes > {MAX_HEADER_BYTES})",
        "key": "sha1:" + hashlib.sha1(raw[:65536]).hexdigest(), "sent_at": ""}), "thread": None}
    # The key depends on the first 64 KiB alone: the same message, longer, is the same one.
    assert _read(raw + b"X-More: 1\r\n").key == over.key


def test_without_a_date_or_an_arrival_time_the_message_is_unusable():
    env = _read(b"From: a@x.example\r\nMessage-ID: <nd@x>\r\nDate: garbage\r\n", None)
    assert (env.error, env.key, env.sent_at) == ("no usable Date and no arrival time",
                                                 "<nd@x>", "")


@pytest.mark.parametrize(("length", "want"), [(500, "s" * 500), (501, "s" * 499 + "…")])
def test_a_subject_is_cut_to_500_characters(length, want):
    env = _read(b"From: a@x.example\r\nSubject: " + b"s" * length + b"\r\n" + DATE.encode())
    assert env.subject == want


def _dated(when: datetime) -> str:
    return _read(b"From: a@x.example\r\nDate: "
                 + when.strftime("%a, %d %b %Y %H:%M:%S +0000").encode() + b"\r\n").sent_at


def test_a_date_up_to_a_day_ahead_stands_and_one_further_ahead_is_the_arrival_time():
    now = datetime.now(UTC).replace(microsecond=0)
    soon = now + timedelta(hours=20)
    assert _dated(soon) == soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _dated(now + timedelta(hours=36)) == "2026-08-05T10:00:00Z"


@pytest.mark.parametrize(("arrived", "want"), [
    (b" 5-Aug-2026 10:00:00 +0200", "2026-08-05T08:00:00Z"),  # the server's bytes
    (datetime(2026, 8, 5, 10, 0), "2026-08-05T10:00:00Z"),  # naive: UTC
    (datetime(2026, 8, 5, 10, 0, tzinfo=timezone(timedelta(hours=-5))),
     "2026-08-05T15:00:00Z"),
])
def test_the_arrival_time_in_any_form_is_read_as_utc(arrived, want):
    with in_zone("Asia/Tokyo"):  # the machine's zone must not matter
        _read_arrival(arrived, want)


def _read_arrival(arrived, want):
    for date in (b"", b"Date: 31 Dec 9999 23:00:00 -0200\r\n"):  # none, or past 9999 in UTC
        env = _read(b"From: a@x.example\r\nMessage-ID: <a@x>\r\n" + date, arrived)
        assert (env.error, env.sent_at) == (None, want)


def test_a_chunk_of_a_folder_reads_each_message_with_its_handle_in_order():
    got = parse_many("acct", "Sent", True, [
        (3, "acct/Sent;UID=3", b"From: me@ours.example\r\nTo: a@x.example\r\nCc: b@x.example\r\n"
         + DATE.encode(), None),
        ("/m/cur/1", "/m/cur/1", b"From: me@ours.example\r\n", ARRIVED)])
    assert [(e.account, e.folder, e.handle, e.location, e.sent_folder, e.uid, e.recipients,
             e.sent_at, e.error) for e in got] == [
        ("acct", "Sent", 3, "acct/Sent;UID=3", True, 3, ("a@x.example", "b@x.example"),
         "2026-08-04T07:30:00Z", None),
        ("acct", "Sent", "/m/cur/1", "/m/cur/1", True, None, (), "2026-08-05T10:00:00Z", None)]


def test_recipients_stop_at_the_limit_without_counting_repeats_or_junk():
    values = ["a0@x.example, junk, A0@X.example"] + [
        f"Name {i} <a{i}@x.example>" for i in range(1, MAX_RECIPIENTS + 5)]
    got = addresses(values)
    assert got == tuple(f"a{i}@x.example" for i in range(MAX_RECIPIENTS))


def test_the_key_without_a_message_id_is_of_from_to_cc_date_subject_even_in_8bit():
    head = b"From: a@x.example\r\nTo: b@x.example\r\n" + DATE.encode()
    plain = _read(head + b"Subject: Caf\xc3\xa9\r\n")
    latin = _read(head + b"Subject: Caf\xe9\r\n")
    copied = _read(head + b"Subject: Caf\xc3\xa9\r\nCc: c@x.example\r\n")
    assert (plain.error, plain.subject, latin.error, latin.subject) == \
        (None, "Café", None, "Café")
    want = "\0".join(["a@x.example", "b@x.example", "", DATE[6:-2], "Caf\udcc3\udca9"])
    assert plain.key == "sha1:" + hashlib.sha1(want.encode("utf-8", "surrogateescape")).hexdigest()
    assert len({plain.key, latin.key, copied.key}) == 3


def test_the_fields_kept_are_the_wanted_ones_by_lower_case_name_the_first_of_each():
    env = _read(b"From: a@x.example\r\nSUBJECT: one\r\nSubject: two\r\nX-Other: no\r\n"
                b"List-Id: <news.x.example>\r\nAuto-Submitted: auto-replied\r\n" + DATE.encode())
    assert env.headers == {"from": "a@x.example", "subject": "one",
                           "list-id": "<news.x.example>", "auto-submitted": "auto-replied",
                           "date": DATE[6:-2]}


@pytest.mark.parametrize(("value", "fallback", "want"), [
    ("Tue, 04 Aug 2026 09:30:00 +0200", None, datetime(2026, 8, 4, 7, 30)),
    ("4 Aug 2026 09:30:00 -0000", None, datetime(2026, 8, 4, 9, 30)),  # naive: UTC
    ("4 Aug 2026 09:30:00", None, datetime(2026, 8, 4, 9, 30)),
    ("garbage", datetime(2026, 8, 5, 10, 0), datetime(2026, 8, 5, 10, 0)),  # naive: UTC
    (None, b" 5-Aug-2026 10:00:00 +0200", datetime(2026, 8, 5, 8, 0)),
    ("", datetime(2026, 8, 5, 12, 0, tzinfo=timezone(timedelta(hours=2))),
     datetime(2026, 8, 5, 10, 0)),
])
def test_a_date_is_read_as_aware_utc_whatever_the_machines_zone(value, fallback, want):
    with in_zone("Asia/Tokyo"):
        got = parse_date(value, fallback)
    assert (got, got.tzinfo) == (want.replace(tzinfo=UTC), UTC)


def test_neither_a_date_nor_a_fallback_is_none():
    assert parse_date("garbage", None) is None
    assert parse_date(None, None) is None


def test_a_parser_failure_is_the_messages_error_cut_to_500_characters(monkeypatch):
    """No known input breaks the parser: a fault stands in for a bug on hostile input."""
    from salescli.mail import parse

    def failing(raw: bytes):
        raise RuntimeError("x" * 600)

    monkeypatch.setattr(parse, "header_items", failing)
    raw = b"From: a@x.example\r\nMessage-ID: <f@x>\r\n"
    env = _read(raw)
    want = "headers could not be parsed (RuntimeError: " + "x" * 600
    assert (env.error, env.key) == (want[:500], "sha1:" + hashlib.sha1(raw).hexdigest())


@pytest.mark.parametrize("text", ["Thu, 06 Aug 2026 05:11:22 -0000",  # unknown zone: naive
                                  "6 Aug 2026 05:11:22 +0000", "6 Aug 2026 05:11:22 -0130"])
def test_the_usual_date_reads_as_the_stdlib_reads_it_zone_and_all(text):
    from email.utils import parsedate_to_datetime

    from salescli.mail.parse import date_header

    got, want = date_header(text), parsedate_to_datetime(text)
    assert (got, got.tzinfo is None, got.utcoffset()) == \
        (want, want.tzinfo is None, want.utcoffset())
