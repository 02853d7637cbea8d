"""Every bounce, classified right (issue 12 item 4): one fixture per class that a scanner
filtering before bounce detection gets wrong, each written here. Bounce detection comes
before the list/automated filters and before the From check; flufl.bounce and the DSN
reader decide; what truly cannot be read stays quarantined with its reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salescli.mail import sample
from salescli.pipeline import prospects
from tests.mail.helpers import CREATED, ME, ago, kinds, state
from tests.support.cli import ok

ADDR = "zed@example.com"


def _dsn(from_line: str | None, *, action: str = "failed", status: str = "5.1.1",
         extra: str = "", diag: str | None = None) -> str:
    diag = diag or f"550 {status} <{ADDR}>: Recipient address rejected: User unknown"
    head = (f"From: {from_line}\n" if from_line is not None else "")
    return f"""{head}To: {ME}
Subject: Undelivered Mail Returned to Sender
Date: {{date}}
Message-ID: <dsn.{{n}}@mx.example.net>
{extra}MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

<{ADDR}>: host mx.example.com said: {diag}

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {ADDR}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diag}

--B--
"""


EXCHANGE = """From: {sender}
To: {me}
Subject: Undeliverable: Hello
Date: {date}
Message-ID: <exch.{n}@corp.example>
Content-Type: text/plain

Your message

  Subject: Hello

did not reach the following recipient(s):

{addr} on 10/2/2023 10:00 AM
    The e-mail account does not exist at the organization this message was sent to.
    MSEXCH:IMS:Corp:Site:SERVER 0 (000C05A6) Unknown Recipient
"""

SENDMAIL = """From: Corp Mail Gateway <mailgw@corp.example>
To: {me}
Subject: Returned mail: see transcript for details
Date: {date}
Message-ID: <sm.{n}@corp.example>
{extra}
The original message was received at {date}

   ----- The following addresses had permanent fatal errors -----
<{addr}>
    (reason: 550 5.1.1 User unknown)

   ----- Transcript of session follows -----
... while talking to mx.example.com.:
>>> RCPT To:<{addr}>
<<< 550 5.1.1 <{addr}>... User unknown
"""

# The report's own recipient field is unreadable (no address); X-Failed-Recipients names it.
UNREADABLE_RECIPIENT = _dsn("MAILER-DAEMON@mx.example.net", extra=f"X-Failed-Recipients: {ADDR}\n"
                            ).replace(f"Final-Recipient: rfc822; {ADDR}",
                                      "Final-Recipient: rfc822; zed-at-example")

HARD = ("bounced_hard", "bounce")
SOFT = ("bounced_soft", "bounce")
CASES = {
    "null path sender": (_dsn("<>"), HARD),
    "named null path sender": (_dsn("Mail Delivery System <>"), HARD),
    "no From header": (_dsn(None), HARD),
    "quoted postmaster local part": (
        EXCHANGE.replace("{sender}", '"System Administrator"@corp.example'), HARD),
    "backslash-escaped postmaster": (
        EXCHANGE.replace("{sender}", 'Postmaster <"mail\\\\admin"@corp.example>'), HARD),
    "DSN with List-Id and Precedence bulk": (
        _dsn("MAILER-DAEMON@mx.example.net",
             extra="List-Id: <announce.lists.example>\nPrecedence: bulk\n"), HARD),
    "DSN with Auto-Submitted from a plain sender": (
        _dsn("Mail Gateway <mailgw@corp.example>", extra="Auto-Submitted: auto-generated\n"),
        HARD),
    "DSN from a plain sender with a plain subject: its Content-Type says so": (
        _dsn("Mail Gateway <mailgw@corp.example>").replace(
            "Undelivered Mail Returned to Sender", "Your message"), HARD),
    "sendmail text bounce from a plain sender": (SENDMAIL.replace("{extra}", ""), HARD),
    "text bounce from the null sender, no Return-Path, a plain subject": (
        SENDMAIL.replace("{extra}", "").replace("Corp Mail Gateway <mailgw@corp.example>", "<>")
        .replace("Returned mail: see transcript for details", "Your message"), HARD),
    "sendmail text bounce marked bulk": (
        SENDMAIL.replace("{extra}", "Precedence: bulk\nList-Id: <gw.corp.example>\n"), HARD),
    "failed with a 4.x.x status is final": (
        _dsn("MAILER-DAEMON@mx.example.net", status="4.4.7",
             diag="Message expired: could not deliver for 5 days"), HARD),
    "delayed with a 4.x.x status": (
        _dsn("MAILER-DAEMON@mx.example.net", action="delayed", status="4.4.1",
             diag="451 4.4.1 No answer from host"), SOFT),
    "no Action, a text saying permanent: the 4.x.x status decides": (
        _dsn("MAILER-DAEMON@mx.example.net", status="4.4.1", diag="451 4.4.1 No answer")
        .replace("Action: failed\n", "")
        .replace(f"<{ADDR}>: host mx.example.com said: 451 4.4.1 No answer",
                 f"The following addresses had permanent fatal errors\n<{ADDR}>"), SOFT),
    "an unreadable Final-Recipient, X-Failed-Recipients names the address": (
        UNREADABLE_RECIPIENT, HARD),
    "failed mailbox full stays soft": (
        _dsn("MAILER-DAEMON@mx.example.net", status="4.2.2", diag="452 4.2.2 Mailbox full"),
        SOFT),
}


@pytest.fixture
def zed(conn):
    return prospects.add(conn, "tester", ADDR, name="Zed", at=CREATED)


@pytest.mark.parametrize("case", list(CASES))
def test_bounce_class_is_recorded(case, tmp_path, zed, invoke, conn):
    template, (status, kind) = CASES[case]
    box = tmp_path / "Maildir"
    t = ago(days=1)
    raw, _ = sample.outbound(ME, {"email": ADDR, "name": "Zed"}, t, "Hello")
    sample.write_maildir_message(box / ".Sent", raw, t)
    when = t + timedelta(minutes=5)
    text = template.format(me=ME, addr=ADDR, n=1, date=sample._date(when))
    sample.write_maildir_message(box, text.encode(), when)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    s = state(conn, ADDR)
    assert s["email_status"] == status, (case, s)
    assert s["bounce_reason"]
    assert kinds(conn, ADDR) == ["email_out", kind]
    assert s["stage"] == "contacted" and s["last_reply_at"] is None
    assert conn.execute("SELECT count(*) FROM mail_quarantine").fetchone()[0] == 0


@pytest.mark.parametrize("raw, reason", [
    ("To: {me}\nSubject: hello\nDate: {date}\nMessage-ID: <nf.1@x.example>\n\nhi\n",
     "no From header"),
    ("From: <>\nTo: {me}\nSubject: Undelivered Mail Returned to Sender\nDate: {date}\n"
     "Message-ID: <nf.2@x.example>\n\nSomething went wrong, no recipient named.\n",
     "no usable From address"),
])
def test_what_cannot_be_read_is_still_quarantined(raw, reason, tmp_path, zed, invoke, conn):
    box = tmp_path / "Maildir"
    when = ago(days=1)
    sample.write_maildir_message(box, raw.format(me=ME, date=sample._date(when)).encode(),
                                 when)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    rows = [r[0] for r in conn.execute("SELECT reason FROM mail_quarantine")]
    assert rows == [reason]
    assert kinds(conn, ADDR) == []
