"""The reason a bounce gives, as a user reads it on the prospect (``bounce_reason``): the
server's own words from a delivery report that needs a full MIME parse, and the SMTP error
line of a text bounce, at most 300 characters."""

from __future__ import annotations

import base64
from datetime import timedelta

from salescli.mail import sample
from salescli.pipeline import prospects
from tests.mail.helpers import CREATED, ME, ago, kinds, state
from tests.support.cli import ok

ADDR = "zed@example.com"

# The delivery-status part's Content-Type is folded (as some MTAs write it), so the report
# is read by a full MIME parse, not the fast reader of plain reports.
FOLDED_DSN = f"""From: MAILER-DAEMON@mx.example.net
To: {ME}
Subject: Undelivered Mail Returned to Sender
Date: {{date}}
Message-ID: <folded.1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type:
 message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {ADDR}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{ADDR}>:   Recipient address rejected; User unknown

--B--
"""

EXIM = f"""From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: {ME}
Subject: Mail delivery failed: returning message to sender
Date: {{date}}
Message-ID: <exim.long@mx.example.org>
X-Failed-Recipients: {ADDR}

A message that you sent could not be delivered. The following address failed:

  {ADDR}
    SMTP error from remote mail server after RCPT TO:<{ADDR}>:
    550 5.1.1 {{words}}
"""


def _scan_one(tmp_path, invoke, conn, text: str, mangle=lambda raw: raw) -> dict:
    """Our mail to Zed, then ``text`` (its {date} filled in, its bytes ``mangle``d) scanned."""
    prospects.add(conn, "tester", ADDR, name="Zed", at=CREATED)
    box = tmp_path / "Maildir"
    t = ago(days=1)
    raw, _ = sample.outbound(ME, {"email": ADDR, "name": "Zed"}, t, "Hello")
    sample.write_maildir_message(box / ".Sent", raw, t)
    when = t + timedelta(minutes=5)
    sample.write_maildir_message(
        box, mangle(text.replace("{date}", sample._date(when)).encode()), when)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert kinds(conn, ADDR) == ["email_out", "bounce"]
    assert conn.execute("SELECT count(*) FROM mail_quarantine").fetchone()[0] == 0
    return state(conn, ADDR)


def test_a_report_that_needs_a_full_parse_gives_the_servers_words(tmp_path, invoke, conn):
    s = _scan_one(tmp_path, invoke, conn, FOLDED_DSN)
    assert s["email_status"] == "bounced_hard"
    assert s["bounce_reason"] == f"550 5.1.1 <{ADDR}>: Recipient address rejected; User unknown"


def test_a_long_smtp_error_line_is_cut_at_300_characters(tmp_path, invoke, conn):
    words = " ".join(["mailbox unavailable"] * 30)  # 599 characters
    s = _scan_one(tmp_path, invoke, conn, EXIM.replace("{words}", words))
    assert s["email_status"] == "bounced_hard"
    assert s["bounce_reason"] == ("550 5.1.1 " + words)[:300]


NO_RECIPIENT = f"""From: MAILER-DAEMON@mx.example.net
To: {ME}
Subject: Undelivered Mail Returned to Sender
Date: {{date}}
Message-ID: <norcpt.1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Action: failed
Status: 5.1.1

--B--
"""


def test_a_report_naming_no_recipient_is_quarantined_saying_so(tmp_path, invoke, conn):
    box = tmp_path / "Maildir"
    when = ago(days=1)
    sample.write_maildir_message(
        box, NO_RECIPIENT.replace("{date}", sample._date(when)).encode(), when)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert [r[0] for r in conn.execute("SELECT reason FROM mail_quarantine")] == \
        ["delivery report (RFC 3464) without a readable recipient"]


# A delivery-status part sent quoted-printable (some MTAs encode every part): the long
# Diagnostic-Code is soft-broken ("=" at the line end) and "=3D" stands for "=".
QP_DSN = f"""From: MAILER-DAEMON@mx.example.net
To: {ME}
Subject: Undelivered Mail Returned to Sender
Date: {{date}}
Message-ID: <qp.1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status
Content-Transfer-Encoding: quoted-printable

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {ADDR}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{ADDR}>: Recipient address rejected: User un=
known in virtual mailbox table (code=3D42)

--B--
"""


def test_a_quoted_printable_report_gives_the_decoded_words(tmp_path, invoke, conn):
    s = _scan_one(tmp_path, invoke, conn, QP_DSN)
    assert s["email_status"] == "bounced_hard"
    assert s["bounce_reason"] == (f"550 5.1.1 <{ADDR}>: Recipient address rejected: User"
                                  " unknown in virtual mailbox table (code=42)")


def _base64_report() -> str:
    """QP_DSN's report sent base64, its part's encoding named before its type."""
    fields = (f"Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; {ADDR}\n"
              "Action: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 mailbox full\n")
    encoded = base64.encodebytes(fields.encode()).decode()
    head, _, _ = QP_DSN.partition("--B\nContent-Type: message/delivery-status")
    return (head + "--B\nContent-Transfer-Encoding: base64\n"
            "Content-Type: message/delivery-status\n\n" + encoded + "\n--B--\n")


def test_a_base64_report_is_decoded_whatever_the_order_of_its_headers(tmp_path, invoke,
                                                                       conn):
    s = _scan_one(tmp_path, invoke, conn, _base64_report())
    assert (s["email_status"], s["bounce_reason"]) == ("bounced_soft", "552 5.2.2 mailbox full")


def test_the_encoding_of_another_part_does_not_decode_the_report(tmp_path, invoke, conn):
    """A quoted-printable explanation before a plain report: the report is read as it is
    ('code=42' stays: decoded as quoted-printable it would be 'codeB')."""
    text = QP_DSN.replace("Content-Type: text/plain\n\nYour message",
                          "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable"
                          "\n\nYour message")
    text = text.replace("Content-Transfer-Encoding: quoted-printable\n\nReporting-MTA",
                        "\nReporting-MTA")
    text = text.replace("User un=\nknown in virtual mailbox table (code=3D42)",
                        "User unknown (code=42)")
    s = _scan_one(tmp_path, invoke, conn, text)
    assert s["email_status"] == "bounced_hard"
    assert s["bounce_reason"] == (f"550 5.1.1 <{ADDR}>: Recipient address rejected: User"
                                  " unknown (code=42)")


def test_a_text_bounce_with_bytes_invalid_in_its_charset_still_gives_the_error_line(
        tmp_path, invoke, conn):
    """A latin-1 name in a bounce that says utf-8: the bad byte reads as U+FFFD and the
    SMTP error line after it is the reason."""
    text = EXIM.replace("{words}", "user unknown").replace(
        "X-Failed-Recipients", "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "X-Failed-Recipients").replace("A message that you sent",
                                       "Dear Ren@e, a message that you sent")
    s = _scan_one(tmp_path, invoke, conn, text, lambda raw: raw.replace(b"@e,", b"\xe9e,"))
    assert (s["email_status"], s["bounce_reason"]) == ("bounced_hard",
                                                       "550 5.1.1 user unknown")
