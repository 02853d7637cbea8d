"""Realistic sample mail: builders for each kind the monitor knows, and a sample Maildir.

The demo writes a Maildir for its prospects and scans it with ``--source maildir:PATH``;
tests and the benchmark use the same builders to fill Dovecot.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

_counter = 0


def _date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC))


def _mid(tag: str, domain: str) -> str:
    global _counter
    _counter += 1
    return f"<{tag}.{_counter}.{os.getpid()}@{domain}>"


def _name(person: dict) -> str:
    name = person.get("name") or ""
    return f'"{name}" <{person["email"]}>' if name else person["email"]


def outbound(me: str, to: dict, when: datetime, subject: str, *, message_id: str | None = None,
             body: str = "", cc: str | None = None) -> tuple[bytes, str]:
    """A mail we sent; returns (raw bytes, Message-ID)."""
    mid = message_id or _mid("out", me.split("@")[1])
    company = to.get("company") or "your team"
    text = body or (f"Hi {(to.get('name') or 'there').split()[0]},\n\nI'd love to show "
                    f"{company} how we can help with your pipeline. Do you have 20 minutes "
                    "next week?\n\nBest,\nSales\n")
    lines = [f"From: Sales <{me}>", f"To: {_name(to)}"] + ([f"Cc: {cc}"] if cc else []) + [
        f"Subject: {subject}", f"Date: {_date(when)}", f"Message-ID: {mid}",
        "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", text]
    return "\n".join(lines).encode(), mid


def reply(person: dict, me: str, when: datetime, subject: str, in_reply_to: str | None, *,
          body: str = "") -> tuple[bytes, str]:
    """A person's genuine reply to one of our mails."""
    mid = _mid("re", person["email"].split("@")[1])
    thread = [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"] if in_reply_to \
        else []
    text = body or "Thanks for reaching out. Tuesday at 10 works for us.\n"
    lines = [f"From: {_name(person)}", f"To: {me}", f"Subject: Re: {subject}",
             f"Date: {_date(when)}", f"Message-ID: {mid}", *thread, "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8", "", text]
    return "\n".join(lines).encode(), mid


def auto_reply(person: dict, me: str, when: datetime, subject: str,
               in_reply_to: str | None = None) -> tuple[bytes, str]:
    """An out-of-office answer (RFC 3834 Auto-Submitted)."""
    mid = _mid("ooo", person["email"].split("@")[1])
    lines = [f"From: {_name(person)}", f"To: {me}", f"Subject: Automatic reply: {subject}",
             f"Date: {_date(when)}", f"Message-ID: {mid}", "Auto-Submitted: auto-replied",
             "X-Autoreply: yes"] + ([f"In-Reply-To: {in_reply_to}"] if in_reply_to else []) + [
             "Content-Type: text/plain; charset=utf-8", "",
             "I am out of the office until Monday with limited access to email.\n"]
    return "\n".join(lines).encode(), mid


def dsn_bounce(address: str, me: str, when: datetime, *, hard: bool = True,
               original_subject: str = "Hello", original_id: str | None = None,
               mta: str = "mx.salescli.example") -> tuple[bytes, str]:
    """An RFC 3464 delivery status notification: failed 5.1.1 (hard) or delayed 4.2.2."""
    mid = _mid("dsn", mta)
    status, action = ("5.1.1", "failed") if hard else ("4.2.2", "delayed")
    diag = (f"550 5.1.1 <{address}>: Recipient address rejected: User unknown" if hard
            else f"452 4.2.2 <{address}>: Mailbox full")
    subject = "Undelivered Mail Returned to Sender" if hard else \
        "Delayed Mail (still being retried)"
    b = "dsn-boundary-" + mid.strip("<>").split("@")[0]  # pragma: no mutate: any boundary works
    # (the returned headers part is read by nobody: any Message-ID there is equivalent)
    original = original_id or "<unknown@" + mta + ">"  # pragma: no mutate
    text = f"""From: Mail Delivery System <MAILER-DAEMON@{mta}>
To: {me}
Subject: {subject}
Date: {_date(when)}
Message-ID: {mid}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{b}"

--{b}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host {mta}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{address}>: host mx.{address.split('@')[1]} said: {diag}

--{b}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; {mta}
Arrival-Date: {_date(when - timedelta(minutes=1))}

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.{address.split('@')[1]}
Diagnostic-Code: smtp; {diag}

--{b}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Sales <{me}>
To: {address}
Subject: {original_subject}
Message-ID: {original}

--{b}--
"""
    return text.encode(), mid


def newsletter(me: str, when: datetime, *, sender: str = "news@vendor.example",
               subject: str = "This week in sales: 5 tips",  # pragma: no mutate: bulk: unread
               ) -> tuple[bytes, str]:
    """Bulk mail from a list: List-Id, List-Unsubscribe, Precedence: bulk."""
    mid = _mid("news", sender.split("@")[1])
    lines = [f"From: Vendor News <{sender}>", f"To: {me}", f"Subject: {subject}",
             f"Date: {_date(when)}", f"Message-ID: {mid}",
             # (List-Unsubscribe and Precedence mark it bulk as well; a List-Id's text is
             # shown nowhere: any change of this line's text is equivalent)
             "List-Id: Vendor weekly <weekly.vendor.example>",  # pragma: no mutate
             f"List-Unsubscribe: <mailto:unsubscribe@{sender.split('@')[1]}>",
             "Precedence: bulk", "Content-Type: text/plain; charset=utf-8", "",
             "Tips, tricks and news.\n",  # pragma: no mutate: bulk mail is never read
             ]
    return "\n".join(lines).encode(), mid


def write_maildir_message(folder: Path, raw: bytes, when: datetime, *,
                          seen: bool = True) -> Path:
    """Deliver one message into a Maildir folder (``cur`` with flags, or ``new``)."""
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    global _counter
    _counter += 1
    base = f"{int(when.timestamp())}.M{_counter}P{os.getpid()}.{socket.gethostname()}"
    tmp = folder / "tmp" / base
    tmp.write_bytes(raw)
    final = folder / "cur" / f"{base}:2,S" if seen else folder / "new" / base
    os.replace(tmp, final)
    stamp = when.timestamp()
    os.utime(final, (stamp, stamp))
    return final


# How long after our mail the sample's prospects reply (plus up to 8 hours): sample data,
# any delay reads the same (the demo's test checks that the reply comes after the mail).
REPLY_AFTER = timedelta(hours=5)  # pragma: no mutate


def write_sample_maildir(path: Path, prospects: list[dict], my_address: str) -> int:
    """A sample Maildir++ at ``path`` (INBOX and ``.Sent``) for the given prospects (dicts
    with email, name, company): outbound mail, replies, an auto-reply, a hard and a soft
    bounce and a newsletter, dated over the last days. Returns the number of messages."""
    path = Path(path)
    inbox, sent = path, path / ".Sent"
    now = datetime.now(UTC).replace(microsecond=0)
    count = 0
    roles = ["reply", "auto_reply", "hard_bounce", "soft_bounce", "reply", "none"]
    for i, person in enumerate(prospects):
        role = roles[i % len(roles)]
        if i >= len(roles) and role in ("hard_bounce", "soft_bounce"):
            role = "reply" if role == "hard_bounce" else "none"
        when = now - timedelta(days=9 - (i % 7), hours=3 + i % 5)
        subject = f"{person.get('company') or 'Your team'} and salescli"
        raw, mid = outbound(my_address, person, when, subject)
        write_maildir_message(sent, raw, when)
        count += 1
        later = when + REPLY_AFTER + timedelta(hours=i % 9)
        if role == "reply":
            raw, _ = reply(person, my_address, later, subject, mid)
        elif role == "auto_reply":
            raw, _ = auto_reply(person, my_address, when + timedelta(minutes=2), subject, mid)
        elif role in ("hard_bounce", "soft_bounce"):
            raw, _ = dsn_bounce(person["email"], my_address, when + timedelta(minutes=3),
                                hard=role == "hard_bounce", original_subject=subject,
                                original_id=mid)
        else:
            continue
        write_maildir_message(inbox, raw, later, seen=role != "reply")
        count += 1
    raw, _ = newsletter(my_address, now - timedelta(days=1))
    write_maildir_message(inbox, raw, now - timedelta(days=1))
    count += 1
    (sent / "maildirfolder").touch()
    return count
