"""One sequence mail: From the owner, threaded on the previous step, with List-Unsubscribe.

``List-Unsubscribe`` always carries a mailto: to the sender with a token subject
(RFC 2369), which the scanner turns into a suppression. The RFC 8058 one-click
``List-Unsubscribe-Post`` header is added only when ``SALESCLI_UNSUBSCRIBE_URL`` names an
https endpoint that takes the POST: receivers ignore it beside a mailto alone.

Messages are built with the stdlib's compat32 classes: ``email.policy.default`` parses
every header it is given and cost ~5 ms a mail, more than the SMTP round trip.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from urllib.parse import quote, urlsplit

UNSUBSCRIBE_WORD = "unsubscribe"
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def message_id(sender: str, enrollment_id: int, step: int, attempt: int) -> str:
    """A new Message-ID of ours, in the sender's domain."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<seq.{enrollment_id}.{step}.{attempt}.{secrets.token_hex(8)}@{domain}>"


def unsubscribe_url() -> str | None:
    """``SALESCLI_UNSUBSCRIBE_URL`` when it is https, else None."""
    url = os.environ.get("SALESCLI_UNSUBSCRIBE_URL", "").strip()
    return url if url and urlsplit(url).scheme == "https" else None


def _header(text: str) -> str | Header:
    return text if text.isascii() else Header(text, "utf-8")


def build(*, sender: str, sender_name: str | None, recipient: str, recipient_name: str | None,
          subject: str, body: str, msg_id: str, refs: list[str], token: str,
          date: datetime) -> MIMEText:
    """The message as it goes over SMTP (and as a resend carries it again)."""
    text = body if body.endswith("\n") else body + "\n"
    msg = MIMEText(text, "plain", "us-ascii" if text.isascii() else _UTF8_QP)
    msg["From"] = formataddr((sender_name or "", sender), charset="utf-8")
    msg["To"] = formataddr((recipient_name or "", recipient), charset="utf-8")
    msg["Subject"] = _header(subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = msg_id
    if refs:
        msg["In-Reply-To"] = refs[-1]
        msg["References"] = " ".join(refs)
    mailto = f"<mailto:{sender}?subject={quote(f'{UNSUBSCRIBE_WORD} {token}')}>"
    url = unsubscribe_url()
    if url:
        sep = "&" if "?" in url else "?"
        msg["List-Unsubscribe"] = f"<{url}{sep}token={quote(token)}>, {mailto}"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    else:
        msg["List-Unsubscribe"] = mailto
    return msg
