"""One sequence mail: From the owner, threaded on the previous step, with List-Unsubscribe.

``List-Unsubscribe`` always carries a mailto: to the sender with a token subject
(RFC 2369), which the scanner turns into a suppression. When ``SALESCLI_UNSUBSCRIBE_URL``
names the https address of the dashboard's ``/unsubscribe`` endpoint, it also carries
``<URL/TOKEN>`` with a signed per-enrollment token (``pipeline.unsubscribe``) and the
RFC 8058 ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` header: receivers ignore
that header beside a mailto alone.

Messages are written out as bytes: ``email.policy.default`` parses every header it is
given and cost ~5 ms a mail, more than the SMTP round trip, and compat32's folding ~0.6 ms.
"""

from __future__ import annotations

import os
import quopri
import secrets
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from urllib.parse import quote, urlsplit

UNSUBSCRIBE_WORD = "unsubscribe"


def message_id(sender: str, enrollment_id: int, step: int, attempt: int) -> str:
    """A new Message-ID of ours, in the sender's domain."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<seq.{enrollment_id}.{step}.{attempt}.{secrets.token_hex(8)}@{domain}>"


def unsubscribe_url() -> str | None:
    """``SALESCLI_UNSUBSCRIBE_URL`` (without a trailing slash) when it is https, else None."""
    url = os.environ.get("SALESCLI_UNSUBSCRIBE_URL", "").strip().rstrip("/")
    return url if url and urlsplit(url).scheme == "https" else None


def one_click() -> tuple[str, bytes] | None:
    """(endpoint URL, token key) for one-click links, or None without an https
    ``SALESCLI_UNSUBSCRIBE_URL``; InvalidValue when ``SALESCLI_SECRET`` is missing then
    (checked before anything is sent)."""
    from salescli.pipeline.unsubscribe import signing_key

    url = unsubscribe_url()
    return (url, signing_key()) if url else None


def _header(text: str) -> str:
    """A header value: as is when ASCII, else an RFC 2047 encoded word."""
    if text.isascii():
        return " ".join(text.split())
    return Header(text, "utf-8").encode()


def _address(name: str | None, addr: str) -> str:
    return formataddr((" ".join((name or "").split()), addr), charset="utf-8")


def build(*, sender: str, sender_name: str | None, recipient: str, recipient_name: str | None,
          subject: str, body: str, msg_id: str, refs: list[str], token: str,
          date: datetime, link: str | None = None) -> bytes:
    """The message as it goes over SMTP (and as a resend carries it again), CRLF-ended.

    Written out directly: header values are ASCII or encoded words, long ``References``
    are folded between ids, and a body that is not short-lined ASCII is quoted-printable
    UTF-8. ``link`` is the one-click URL of this enrollment, if any."""
    mailto = f"<mailto:{sender}?subject={quote(f'{UNSUBSCRIBE_WORD} {token}')}>"
    lines = [f"From: {_address(sender_name, sender)}",
             f"To: {_address(recipient_name, recipient)}",
             f"Subject: {_header(subject)}",
             f"Date: {format_datetime(date)}",
             f"Message-ID: {msg_id}"]
    if refs:
        lines.append(f"In-Reply-To: {refs[-1]}")
        lines.append("References: " + "\r\n ".join(refs))
    if link:
        lines.append(f"List-Unsubscribe: <{link}>,\r\n {mailto}")
        lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    else:
        lines.append(f"List-Unsubscribe: {mailto}")
    text = body if body.endswith("\n") else body + "\n"
    text = text.replace("\r\n", "\n")
    lines.append("MIME-Version: 1.0")
    if text.isascii() and all(len(line) <= 998 for line in text.split("\n")):
        # (both lines are what a reader assumes without them, in any letter case: RFC 2045)
        lines += [
            "Content-Type: text/plain; charset=us-ascii",  # pragma: no mutate: the default
            "Content-Transfer-Encoding: 7bit",  # pragma: no mutate: the default too
        ]
        payload = text.replace("\n", "\r\n").encode("ascii")
    else:
        lines += ["Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: quoted-printable"]
        payload = quopri.encodestring(text.encode("utf-8")).replace(b"\n", b"\r\n")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + payload
