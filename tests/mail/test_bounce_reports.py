"""What a bounce says, read from its bytes: every failed recipient with hard or soft and
the server's words, for RFC 3464 reports (plain, quoted-printable, base64, folded, several
recipients) and for the non-standard bounces the full parse reads; and the rule that makes
a recipient block hard or soft. One table per reader, each row the whole result."""

from __future__ import annotations

import base64
import quopri

import pytest

from salescli.mail.classify import Failure, UnreadableBounce, bounce_failures, is_hard

HEAD = ("From: MAILER-DAEMON@mx.example.net\nTo: me@ours.example\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Date: Tue, 1 Dec 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n")


def _report(*blocks: str, part_head: str = "Content-Type: message/delivery-status\n",
            encode=None, nl: str = "\n") -> bytes:
    """A multipart/report whose delivery-status part holds these recipient blocks (the
    part's text in Latin-1, as an MTA quoting a server's 8-bit words sends it)."""
    status = "Reporting-MTA: dns; mx.example.net\n\n" + "\n".join(blocks)
    body = encode(status.encode("latin-1")) if encode else status.encode("latin-1")
    raw = (HEAD + "--B\n" + part_head + "\n").encode() + body + b"\n--B--\n"
    return raw.replace(b"\n", nl.encode())


def _block(rcpt: str, action: str | None, status: str | None, diag: str | None = None,
           original: str | None = None) -> str:
    lines = [f"Original-Recipient: {original}"] if original else []
    lines.append(f"Final-Recipient: {rcpt}")
    lines += [f"Action: {action}"] if action else []
    lines += [f"Status: {status}"] if status else []
    lines += [f"Diagnostic-Code: {diag}"] if diag else []
    return "\n".join(lines) + "\n"


A = "rfc822; ada@example.com"
B = "rfc822; bo@example.org"
UNKNOWN = "smtp; 550 5.1.1 <ada@example.com>: User unknown"
LONG = "smtp; 550 5.7.1 " + "blocked " * 60

DSN_CASES = {
    "failed, with a diagnostic": (
        [_block(A, "failed", "5.1.1", UNKNOWN)],
        [Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>: User unknown")]),
    "two recipients, one delayed without a diagnostic": (
        [_block(A, "failed", "5.1.1", UNKNOWN), _block(B, "delayed", "4.4.1")],
        [Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>: User unknown"),
         Failure("bo@example.org", False, "status 4.4.1")]),
    "the original recipient first, as the sender wrote it": (
        [_block("rfc822; ada@relay.example.com", "Failed", "5.1.1", UNKNOWN,
                original="rfc822;Ada@Example.com")],
        [Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>: User unknown")]),
    "no address type": ([_block("ada@example.com", "failed", "5.1.1")],
                        [Failure("ada@example.com", True, "status 5.1.1")]),
    "a quoted local part with a semicolon": (
        [_block('rfc822; "a;b"@example.com', "failed", "5.1.1")],
        [Failure('"a;b"@example.com', True, "status 5.1.1")]),
    "an unreadable recipient, then a readable one": (
        [_block("rfc822; nobody", "failed", "5.1.1"), _block(B, "failed", "5.1.1")],
        [Failure("bo@example.org", True, "status 5.1.1")]),
    "no recipient field": (
        ["Action: failed\nStatus: 5.1.1\n", _block(B, "failed", "5.1.1")],
        [Failure("bo@example.org", True, "status 5.1.1")]),
    "no action, then a failure": (
        [_block(A, None, "5.1.1"), _block(B, "Failed (permanent)", "5.1.1")],
        [Failure("bo@example.org", True, "status 5.1.1")]),
    "error is hard, even with a 4.x.x status": (
        [_block(A, "error", "4.4.7")], [Failure("ada@example.com", True, "status 4.4.7")]),
    "failed with a full mailbox is soft": (
        [_block(A, "failed", "5.2.2 (mailbox full)", "smtp; 552 5.2.2 Over quota")],
        [Failure("ada@example.com", False, "552 5.2.2 Over quota")]),
    "delivered and relayed recipients are no failures": (
        [_block(A, "delivered", "2.0.0"), _block(B, "relayed", "2.0.0"),
         _block("rfc822; cy@example.net", "failed", "5.0.0")],
        [Failure("cy@example.net", True, "status 5.0.0")]),
    "no status, no diagnostic": (
        [_block(A, "failed", None)], [Failure("ada@example.com", True, None)]),
    "a diagnostic with semicolons": (
        [_block(A, "failed", "5.1.1", "smtp; 550 unknown; see https://x.example/?a;b")],
        [Failure("ada@example.com", True, "550 unknown; see https://x.example/?a;b")]),
    "a diagnostic in Latin-1": (
        [_block(A, "failed", "5.1.1", "smtp; 550 caf\xe9 closed")],
        [Failure("ada@example.com", True, "550 caf\ufffd closed")]),
    "a diagnostic without a type": (
        [_block(A, "failed", "5.1.1", "550 no such user")],
        [Failure("ada@example.com", True, "550 no such user")]),
    "a folded diagnostic is one line": (
        [_block(A, "failed", "5.1.1", "smtp; 550 5.1.1 The email account\n\t  that you"
                                      "\n tried to reach   does not exist")],
        [Failure("ada@example.com", True,
                 "550 5.1.1 The email account that you tried to reach does not exist")]),
    "a stray continuation line before the fields": (
        ["  (continued)\n" + _block(A, "failed", "5.1.1", UNKNOWN)],
        [Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>: User unknown")]),
    "a long diagnostic is cut at 300 characters": (
        [_block(A, "failed", "5.7.1", LONG)],
        [Failure("ada@example.com", True, " ".join(LONG[6:].split())[:300])]),
    "the same recipient soft then hard: hard": (
        [_block(A, "delayed", "4.4.1"), _block(A, "failed", "5.1.1", UNKNOWN)],
        [Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>: User unknown")]),
    "the same recipient hard then soft: hard": (
        [_block(A, "failed", "5.1.1", UNKNOWN), _block(A, "delayed", "4.4.1")],
        [Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>: User unknown")]),
    "the same recipient soft twice: the first": (
        [_block(A, "delayed", "4.4.1"), _block(A, "delayed", "4.4.2")],
        [Failure("ada@example.com", False, "status 4.4.1")]),
}


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "base64"])
@pytest.mark.parametrize("name", list(DSN_CASES))
def test_each_recipient_block_of_a_delivery_report_gives_its_failure(name, encoded):
    # (base64: only the report reader reads it; the full parse reads a plain one too)
    blocks, expected = DSN_CASES[name]
    raw = _report(*blocks, part_head=DS + B64, encode=_b64) if encoded else _report(*blocks)
    assert bounce_failures(raw) == expected


TWO = [_block(A, "failed", "5.1.1", UNKNOWN), _block(B, "delayed", "4.4.1")]
TWO_FAILURES = [Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>: User unknown"),
                Failure("bo@example.org", False, "status 4.4.1")]
QP = "Content-Transfer-Encoding: quoted-printable\n"
B64 = "Content-Transfer-Encoding: base64\n"
DS = "Content-Type: message/delivery-status\n"


def _qp(data: bytes) -> bytes:
    return quopri.encodestring(data, quotetabs=True)  # every space as =20


def _b64(data: bytes) -> bytes:
    text = base64.b64encode(data).decode()
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76)).encode()


@pytest.mark.parametrize(("part_head", "encode", "nl"), [
    (DS, None, "\n"),
    (DS, None, "\r\n"),
    (DS + QP, _qp, "\n"),
    (QP.upper() + DS, _qp, "\r\n"),
    (DS + "Content-Transfer-Encoding:\tBase64\n", _b64, "\n"),
    (B64 + DS, _b64, "\r\n"),
    (DS + "Content-Transfer-Encoding: 8bit\n", None, "\n"),
    (DS + "Content-Transfer-Encoding: binary\n", None, "\n"),
    (DS + "Content-Transfer-Encoding: 7bit\n", None, "\n"),
], ids=["plain", "crlf", "qp", "qp-first", "base64", "base64-first", "8bit", "binary", "7bit"])
def test_a_report_reads_the_same_however_its_part_is_encoded(part_head, encode, nl):
    assert bounce_failures(_report(*TWO, part_head=part_head, encode=encode, nl=nl)) == \
        TWO_FAILURES


def test_a_report_alone_not_in_a_multipart_is_read():
    raw = (b"From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\n"
           b"Content-Type: message/delivery-status\n\n" + "\n".join(TWO).encode())
    assert bounce_failures(raw) == TWO_FAILURES


def test_a_report_alone_encoded_is_decoded():
    raw = (b"Content-Transfer-Encoding: quoted-printable\nFrom: MAILER-DAEMON@mx.example.net\n"
           b"Content-Type: message/delivery-status\n\n" + _qp("\n".join(TWO).encode()))
    assert bounce_failures(raw) == TWO_FAILURES


def test_the_encoding_of_an_earlier_part_is_not_the_reports():
    raw = _report(*TWO, part_head=DS + QP, encode=_qp).replace(
        b"Content-Type: text/plain\n",
        b"Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n")
    assert bounce_failures(raw) == TWO_FAILURES


def test_the_next_part_is_not_read_as_part_of_the_report():
    raw = _report(_block(A, "failed", "5.1.1", UNKNOWN)).replace(
        b"--B--\n", b"--B\nContent-Type: text/plain\n\nFinal-Recipient: rfc822; x@example.com"
                    b"\nAction: failed\nStatus: 5.1.1\n\n--B--\n")
    assert bounce_failures(raw) == [
        Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>: User unknown")]


FATAL = "The following addresses had permanent fatal errors\n<ada@example.com>\n"


@pytest.mark.parametrize(("block", "text", "expected"), [
    (_block(A, None, "5.1.1", "smtp; 550 5.1.1 =?utf-8?q?caf=C3=A9?= \n  unknown"), FATAL,
     Failure("ada@example.com", True, "550 5.1.1 café unknown")),
    (_block(A, None, "5.1.1", "smtp; " + "y " * 200), FATAL,
     Failure("ada@example.com", True, ("y " * 150)[:300])),
    (_block(A, None, "4.4.1 (no answer)"), FATAL,
     Failure("ada@example.com", False, "status 4.4.1")),
    (_block(A, None, "5.2.2", "smtp; 552 Mailbox full"), FATAL,
     Failure("ada@example.com", False, "552 Mailbox full")),
    (_block(A, None, None), FATAL,
     Failure("ada@example.com", True, "Undelivered Mail Returned to Sender")),
    (_block(A, None, None), FATAL + "Reason:  550  5.1.1   no such user\n",
     Failure("ada@example.com", True, "550 5.1.1 no such user")),
    (_block("rfc822; someone-else@example.org", None, "4.4.1"), FATAL,
     Failure("ada@example.com", True, "Undelivered Mail Returned to Sender")),
    (_block(A, "relayed", None), FATAL,
     Failure("ada@example.com", True, "Undelivered Mail Returned to Sender")),
], ids=["decoded-diagnostic", "long-diagnostic", "status-only", "mailbox-full", "subject",
        "text-line", "other-recipient", "undecided-action"])
def test_a_report_without_an_action_is_read_by_the_full_parse(block, text, expected):
    raw = _report(block).replace(b"Your message could not be delivered.", text.encode())
    assert bounce_failures(raw) == [expected]


def test_a_recipient_named_with_a_display_name_is_read_by_the_full_parse():
    # (our field reader takes a bare address only; flufl.bounce reads the name-addr form)
    delayed = _block("rfc822; Ada <ada@example.com>", "delayed", "4.4.1")
    assert bounce_failures(_report(delayed)) == [
        Failure("ada@example.com", False, "Undelivered Mail Returned to Sender")]
    both = (_block("rfc822; not-an-address", "delayed", "4.4.1"),
            _block("rfc822; Bo <bo@example.org>", "failed", "5.1.1"))
    assert bounce_failures(_report(*both)) == [
        Failure("bo@example.org", True, "Undelivered Mail Returned to Sender")]


def test_x_failed_recipients_adds_the_recipients_the_report_did_not_name():
    # (flufl.bounce stops at its first reader that finds someone: here the report's)
    raw = _report(_block("rfc822; Bo <bo@example.org>", "delayed", "4.4.1")).replace(
        b"MIME-Version", b"X-Failed-Recipients: cy@example.net, bo@example.org\nMIME-Version")
    assert bounce_failures(raw) == [
        Failure("bo@example.org", False, "Undelivered Mail Returned to Sender"),
        Failure("cy@example.net", True, "Undelivered Mail Returned to Sender")]


def test_a_report_part_with_a_folded_content_type_is_read_by_the_full_parse():
    folded = "Content-Type:\n message/delivery-status\n"
    blocks = (_block(A, "failed", "4.4.7", "smtp; 450 4.4.7  expired; try later"),
              _block(B, "delayed", "5.1.1"),
              _block("rfc822; cy@relay.example.net", "failed", "5.1.1", "smtp;550 no",
                     original="rfc822; cy@example.net"),
              _block('rfc822; "d;e"@example.com', "failed", "5.1.1", "550 unknown"),
              "Final-Recipient: rfc822; eve@example.com\nAction: failed\nStatus: \n")
    # (flufl.bounce returns sets: the order is not the report's)
    found = bounce_failures(_report(*blocks, part_head=folded))
    assert sorted(found, key=lambda f: f.address) == [
        Failure('"d;e"@example.com', True, "550 unknown"),
        Failure("ada@example.com", True, "450 4.4.7 expired; try later"),
        Failure("bo@example.org", False, "status 5.1.1"),
        Failure("cy@example.net", True, "550 no"),
        Failure("eve@example.com", True, "Undelivered Mail Returned to Sender")]


SENDMAIL = b"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: me@ours.example
Subject: Returned mail: see transcript for details
Date: Tue, 1 Dec 2026 10:00:00 +0000
Content-Type: text/plain; charset=%s

The original message was received at Mon, 7 Dec 2026 09:59:00 +0000

   ----- The following addresses had permanent fatal errors -----
<ada@example.com>
    (reason: 550 5.1.1 User unknown)

   ----- Transcript of session follows -----
... while talking to mx.example.com.:
>>> RCPT To:<ada@example.com>
<<< 550   5.1.1 <ada@example.com>... User unknown
"""

EXIM = b"""From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: me@ours.example
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: Ada@Example.com, bo@example.org, not an address
Content-Type: text/plain; charset=utf-8

This message was created automatically by mail delivery software.
%s
"""


@pytest.mark.parametrize(("raw", "expected"), [
    (SENDMAIL % b"us-ascii",
     [Failure("ada@example.com", True, "550 5.1.1 User unknown)")]),
    (SENDMAIL % b"x-unknown-charset",
     [Failure("ada@example.com", True, "550 5.1.1 User unknown)")]),
    (SENDMAIL.replace(b"unknown)", b"unknown \xe9)") % b"us-ascii",
     [Failure("ada@example.com", True, "550 5.1.1 User unknown \ufffd)")]),
    (SENDMAIL.replace(b"unknown)", b"unknown \xe9)") % b"x-unknown-charset",
     [Failure("ada@example.com", True, "550 5.1.1 User unknown \ufffd)")]),
    (SENDMAIL.replace(b"unknown)", b"unknown \xe9)") % b"iso-8859-1",
     [Failure("ada@example.com", True, "550 5.1.1 User unknown \xe9)")]),
    (SENDMAIL.replace(b"(reason: 550 5.1.1 User unknown)", b"(reason: 550 " + b"y" * 400 + b")")
     % b"us-ascii", [Failure("ada@example.com", True, "550 " + "y" * 296)]),
    (SENDMAIL.replace(b"(reason: 550 5.1.1 User unknown)", b"(reason: unknown)"),
     [Failure("ada@example.com", True, "550 5.1.1 <ada@example.com>... User unknown")]),
    (EXIM % b"A message could not be delivered:\n  Ada@Example.com\n    "
            b"host mx.example.com: 550-5.1.1 The account does not exist",
     [Failure("ada@example.com", True, "550-5.1.1 The account does not exist"),
      Failure("bo@example.org", True, "550-5.1.1 The account does not exist")]),
    (EXIM % b"It could not be delivered.",
     [Failure("ada@example.com", True, "Mail delivery failed: returning message to sender"),
      Failure("bo@example.org", True, "Mail delivery failed: returning message to sender")]),
    (EXIM % b"Temporary failure: 452 too many recipients, try later",
     [Failure("ada@example.com", True, "452 too many recipients, try later"),
      Failure("bo@example.org", True, "452 too many recipients, try later")]),
    (EXIM % b"Reason: 4.4.7 message expired",
     [Failure("ada@example.com", True, "4.4.7 message expired"),
      Failure("bo@example.org", True, "4.4.7 message expired")]),
    (EXIM.replace(b"Subject: Mail delivery failed: returning message to sender\n", b"")
     % b"It could not be delivered.",
     [Failure("ada@example.com", True, None), Failure("bo@example.org", True, None)]),
    (EXIM.replace(b"returning message to sender", b"z" * 400) % b"It could not be delivered.",
     [Failure("ada@example.com", True, ("Mail delivery failed: " + "z" * 400)[:300]),
      Failure("bo@example.org", True, ("Mail delivery failed: " + "z" * 400)[:300])]),
], ids=["sendmail", "unknown-charset", "ascii-bad-byte", "unknown-bad-byte", "latin-1",
        "long-line", "transcript-line", "exim-smtp-line", "exim-subject",
        "exim-452", "exim-bare-status", "exim-no-subject", "exim-long-subject"])
def test_a_non_standard_bounce_gives_its_recipients_and_the_servers_first_error_line(
        raw, expected):
    assert sorted(bounce_failures(raw), key=lambda f: f.address) == expected


def test_a_report_naming_no_readable_recipient_cannot_be_read():
    raw = _report(_block("rfc822; not-an-address", "failed", "5.1.1"))
    with pytest.raises(UnreadableBounce,
                       match=r"^delivery report \(RFC 3464\) without a readable recipient$"):
        bounce_failures(raw)


def test_a_mixed_message_with_no_recipient_is_no_bounce():
    raw = (b"From: MAILER-DAEMON@mx.example.net\nSubject: Returned mail\n"
           b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
           b"Nothing here.\n--B--\n")
    assert bounce_failures(raw) == []


@pytest.mark.parametrize(("action", "status", "default", "hard"), [
    ("failed", "5.1.1", False, True),
    ("Failed", "4.4.7", False, True),
    ("error", "", False, True),
    ("ERROR", "4.0.0", False, True),
    ("failed", "5.2.2", True, False),
    ("failed", "4.2.2", True, False),
    ("delayed", "5.1.1", True, False),
    ("Delayed", "", True, False),
    ("", "5.1.1", False, True),
    ("", "4.4.1", True, False),
    ("relayed", "5.0.0", False, True),
    ("expanded", "4.0.0", True, False),
    ("", "2.0.0", True, True),
    ("", "2.0.0", False, False),
    ("", "", True, True),
    ("", "", False, False),
])
def test_hard_or_soft_by_action_and_status(action, status, default, hard):
    assert is_hard(action, status, default) is hard
