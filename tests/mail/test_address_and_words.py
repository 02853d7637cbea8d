"""How the header parser reads one value: an address (normalised or refused), the text of
encoded words (charsets known, unknown and broken), 8-bit text, and message ids."""

from __future__ import annotations

import pytest

from salescli.mail.parse import decode_words, fix_text, message_ids, normalise_address

LONGEST = "a" * 64 + "@" + "b" * 61 + "." + "b" * 61 + "." + "b" * 57 + ".example"


@pytest.mark.parametrize(("raw", "want"), [
    (" <Ada@Example.COM> ", "ada@example.com"),
    ("<Xavier@Example.COM>X", None),
    ("XX@Example.COM", "xx@example.com"),
    ("MAILTO:Ada@example.com", "ada@example.com"),
    ("<mailto:ada@example.com>", "ada@example.com"),
    ("mailto:", None),
    ("", None),
    (None, None),
    ("<>", None),
    (LONGEST, LONGEST),
    ("a" + LONGEST, None),
    ('"System Administrator"@Example.com', '"system administrator"@example.com'),
    ('"a \\" b"@example.com', '"a \\" b"@example.com'),
    ('"a " b"@example.com', None),
    ('"unclosed@example.com', None),
    ("a..b@example.com", None),
    ("a@example..com", None),
    ("a@localhost", None),
    ("a b@example.com", None),
    ("no address", None),
])
def test_an_address_is_normalised_or_refused(raw, want):
    assert len(LONGEST) == 254
    assert normalise_address(raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    (None, None),
    ("", ""),
    ("  plain \t text\r\n  folded  ", "plain text folded"),
    ("=?utf-8?q?caf=C3=A9?= au  lait", "café au lait"),
    ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # space between encoded words drops
    ("=?shift_jis?q?=82=A0=FF?=", "あ\ufffd"),  # a known charset, a bad byte
    ("=?us-ascii?q?caf=E9?=", "caf\ufffd"),
    ("=?x-klingon?q?Qapla=E2?=  deal", "Qapla\ufffd deal"),  # an unknown charset: UTF-8
    ("=?x-klingon?q?=C3=A9?=", "é"),
    ("=?utf-8?b?Q?=   broken  base64", "=?utf-8?b?Q?= broken base64"),  # kept as it is
    ("\u00c3\u00a9 =?utf-8?q?x?=", "\u00c3\u00a9 x"),  # text beside encoded words stays
    ("\u20ac  =?utf-8?q?x?=", "\u20ac x"),
    ("price =? not  a word ?=", "price =? not a word ?="),  # no valid encoded word
])
def test_encoded_words_decode_to_this_text(raw, want):
    assert decode_words(raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    (None, None),
    ("plain", "plain"),
    ("Caf\udcc3\udca9", "Café"),  # 8-bit UTF-8, as the parser escapes it
    ("Caf\udce9", "Café"),  # 8-bit Latin-1
])
def test_8bit_text_is_read_as_utf8_else_latin1(raw, want):
    assert fix_text(raw) == want


def test_message_ids_are_every_bracketed_id_in_order():
    assert message_ids("junk <a@x> <b@y>\r\n\t<c@z>") == ["<a@x>", "<b@y>", "<c@z>"]
    assert message_ids("<" + "i" * 250 + ">") == ["<" + "i" * 250 + ">"]
    assert message_ids("<" + "i" * 251 + "> <b@y>") == ["<b@y>"]
    assert message_ids("no id <a b>") == []
    assert message_ids(None) == []
