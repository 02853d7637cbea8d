"""The text the scanner reads from the start of a message (``mail.body``): the exact text of
a plain or HTML part however it is encoded or cut, the lines its sender wrote (quotes,
attributions and signatures dropped), its first line and the snippet kept of it."""

from __future__ import annotations

import pytest

from salescli.mail.body import SNIPPET_CHARS, first_line, own_lines, snippet, text_of

PLAIN = b"Content-Type: text/plain; charset=utf-8"
HTML = b"Content-Type: text/html; charset=utf-8"
ALT = b'Content-Type: multipart/alternative; boundary="b"'

TEXT_CASES = {
    "plain, lines kept": (PLAIN, b"Hi Ada,\r\n\r\nthanks.\r\n", "Hi Ada,\n\nthanks.\n"),
    "headers ending in a line break": (PLAIN + b"\r\n", b"caf\xc3\xa9", "café"),
    "headers ending in a blank line": (PLAIN + b"\r\n\r\n", b"caf\xc3\xa9", "café"),
    "no headers: plain text": (b"", b"caf\xc3\xa9\r\n", "café\n"),
    "blank headers: plain text": (b" \r\n", b"caf\xc3\xa9", "café"),
    "no charset: utf-8": (b"Content-Type: text/plain", b"caf\xc3\xa9", "café"),
    "latin-1": (b"Content-Type: text/plain; charset=iso-8859-1", b"caf\xe9", "café"),
    "an unknown charset: utf-8": (b"Content-Type: text/plain; charset=x-nope",
                                  b"caf\xc3\xa9", "café"),
    "bad bytes replaced": (PLAIN, b"caf\xe9!", "caf\ufffd!"),
    "bad bytes in ascii": (b"Content-Type: text/plain; charset=us-ascii", b"caf\xc3\xa9",
                           "caf\ufffd\ufffd"),
    "bad bytes, no charset": (b"Content-Type: text/plain", b"caf\xe9!", "caf\ufffd!"),
    "bad bytes, unknown charset": (b"Content-Type: text/plain; charset=x-nope", b"caf\xe9!",
                                   "caf\ufffd!"),
    "an empty part": (PLAIN, b"", ""),
    "quoted-printable, cut": (PLAIN + b"\r\nContent-Transfer-Encoding: quoted-printable",
                              b"caf=C3=A9 au l=\r\nait =C3", "café au lait \ufffd"),
    "base64": (PLAIN + b"\r\nContent-Transfer-Encoding: base64", b"Y2Fmw6k=\r\n", "café"),
    "html only": (HTML, b"<p>Hello <b>Ada</b></p><p>Bye</p>", "\nHello Ada\n\nBye\n"),
    "html with crlf": (HTML, b"<div>a\r\nb</div>", "\na\nb\n"),
    "html blocks": (HTML, b"<body>one<br>two<br/>three<ul><li>x</li><li>y</li></ul>"
                          b"<table><tr><td>c1</td><td>c2</td></tr><tr><td>d</td></tr></table>"
                          b"<blockquote>q</blockquote>after</body>",
                    "one\ntwo\nthree\nx\ny\nc1c2\nd\n> q\nafter"),
    "html hidden parts": (HTML, b"<html><head><style>p {}</style><title>T</title></head>"
                                b"<body><script>var x = 1;</script>shown<style>b {}</style>"
                                b"<SCRIPT>y()</SCRIPT> too</body></html>", "shown too"),
    "html stray end tags": (HTML, b"</style></head></script>still shown</p>",
                            "still shown\n"),
    "html entities": (HTML, b"caf&eacute; &amp; &#233;", "café & é"),
    "html the parser gives up on": (HTML, b"<p>mine</p><![foo[ bar ]]>", ""),
    "plain first, html second": (ALT, b"--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
                                      b"--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b--",
                                 "plain"),
    "the first html part": (ALT, b"--b\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n"
                                 b"--b\r\nContent-Type: text/html\r\n\r\n<i>one</i>\r\n"
                                 b"--b\r\nContent-Type: text/html\r\n\r\n<i>two</i>\r\n--b--",
                            "one"),
    "no text part": (ALT, b"--b\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n--b--", ""),
    "a multipart cut in its first part": (ALT, b"--b\r\nContent-Type: text/plain\r\n\r\n"
                                               b"the start of it", "the start of it"),
}


@pytest.mark.parametrize("name", list(TEXT_CASES))
def test_the_text_of_a_message_start(name):
    head, body, text = TEXT_CASES[name]
    assert text_of(head, body) == text


LINES_CASES = {
    "blank and spaced lines": ("\n  Hi Ada,  \n\n\tThanks\u00a0a lot \n",
                               ["Hi Ada,", "Thanks a lot"]),
    "quoted lines skipped": ("> quoted\nmine\n  > also quoted\nmore", ["mine", "more"]),
    "a signature ends it": ("mine\n-- \nsig", ["mine"]),
    "a bare signature mark": ("mine\n--\nsig", ["mine"]),
    "an indented -- is text": ("mine\n  --\nmore", ["mine", "--", "more"]),
    "--- is text": ("mine\n---\nmore", ["mine", "---", "more"]),
    "English attribution": ("mine\nOn Mon, 7 Dec 2026, Ada <a@x> wrote:\n> q", ["mine"]),
    "German attribution": ("mine\nAm 7.12.2026 schrieb Ada:\nold", ["mine"]),
    "French attribution": ("mine\nLe 7 déc. 2026, Ada a écrit :\nold", ["mine"]),
    "French, no accent": ("mine\nLe lundi, Ada a ecrit:\nold", ["mine"]),
    "Spanish attribution": ("mine\nEl lun, Ada escribió:\nold", ["mine"]),
    "Spanish, no accent": ("mine\nEl lun, Ada escribio:\nold", ["mine"]),
    "Outlook separator": ("mine\n----- Original Message -----\nold", ["mine"]),
    "German separator": ("mine\n-----Ursprüngliche Nachricht-----\nold", ["mine"]),
    "German, no umlaut": ("mine\n-- Ursprungliche Nachricht --\nold", ["mine"]),
    "a quoted From: line": ("mine\nFrom: Ada\nold", ["mine"]),
    "not attributions": ("On time\nWe wrote it\nAm I late\nfrom there\nLe bon\nFrom:x\n"
                         "El fin\noriginal message\n- original message", [
                             "On time", "We wrote it", "Am I late", "from there", "Le bon",
                             "From:x", "El fin", "original message", "- original message"]),
    "on ... wrote, a word apart": ("Only if someone rewrote it\nmine", [
        "Only if someone rewrote it", "mine"]),
    "a non-breaking space line": ("\u00a0\nmine", ["mine"]),
}


@pytest.mark.parametrize("name", list(LINES_CASES))
def test_the_lines_the_sender_wrote(name):
    text, lines = LINES_CASES[name]
    assert own_lines(text) == lines
    assert first_line(text) == (lines[0] if lines else None)


@pytest.mark.parametrize("text", [None, "", "\n> quoted\n", "On Mon, Ada wrote:\nmine"])
def test_no_first_line_and_no_snippet_without_own_text(text):
    assert (first_line(text), snippet(text)) == (None, None)


def test_the_snippet_is_the_own_words_on_one_line():
    assert snippet("  Out of   the office\n\nuntil\t14 December.\n> Hello\n-- \nAda") == \
        "Out of the office until 14 December."


def test_the_snippet_is_cut_at_its_length_even_inside_a_line():
    words = " ".join(f"w{i:03}" for i in range(400))  # 1,999 characters on one line
    assert snippet(words + "\nnext line") == words[:SNIPPET_CHARS]
    assert snippet("x" * (SNIPPET_CHARS + 5)) == "x" * SNIPPET_CHARS
    exact = "y" * (SNIPPET_CHARS - 2)
    assert snippet(exact + "\nz") == exact + " z"
