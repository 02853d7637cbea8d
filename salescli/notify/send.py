"""Compose notification mails and POST webhooks: the sending half of ``salescli.notify``.

No outbox bookkeeping here (no SQL): ``notify.deliver`` picks the due rows and records each
outcome; this module builds what goes on the wire, with stable Message-ID/Idempotency-Key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

WEBHOOK_TIMEOUT = 10.0


def message_id(key: str, sender: str | None) -> str:
    """A Message-ID that is the same every time the same event (or digest) is sent."""
    domain = (sender or "").rpartition("@")[2].strip(" >") or "salescli.invalid"
    return f"<salescli.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def idempotency_key(key: str) -> str:
    """The Idempotency-Key (webhook) / X-Salescli-Event (mail) of an event: stable too."""
    return "salescli-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _payload(row: dict[str, Any]) -> dict:
    try:
        return json.loads(row["payload"]) if row["payload"] else {}
    except ValueError:
        return {}


_SKIP_FIELDS = {"event_key", "prospect"}


def _describe(row: dict[str, Any]) -> list[str]:
    payload = _payload(row)
    prospect = payload.get("prospect") or {}
    lines = [row["subject"] or row["rule"], ""]
    for key in ("email", "name", "company", "stage", "owner"):
        if prospect.get(key):
            lines.append(f"  {key.capitalize() + ':':<10} {prospect[key]}")
    for key, value in sorted(payload.items()):
        if key not in _SKIP_FIELDS and value not in (None, "", [], {}):
            label = key.replace("_", " ").capitalize() + ":"
            lines.append(f"  {label:<10} {value}")
    lines.append(f"  {'Event:':<10} {row['rule']} at {row['created_at']}")
    return lines


def _base_message(sender: str | None, to: str, subject: str, key: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id(key, sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Salescli-Event"] = idempotency_key(key)
    return msg


def event_message(row: dict[str, Any], sender: str | None) -> EmailMessage:
    """One event's mail; a payload with ``text`` (a composed digest) is sent as written."""
    msg = _base_message(sender, row["recipient"], row["subject"] or row["rule"],
                        row["event_key"])
    text = _payload(row).get("text")
    body = text.rstrip("\n") if isinstance(text, str) else "\n".join(_describe(row))
    msg.set_content(body + "\n\n-- \nsalescli notifications\n")
    return msg


def digest_message(rows: list[dict[str, Any]], sender: str | None) -> EmailMessage:
    key = "digest:" + "\n".join(sorted(r["event_key"] for r in rows))
    n = len(rows)
    subject = f"[salescli] {n} notification{'s' if n != 1 else ''}"
    msg = _base_message(sender, rows[0]["recipient"], subject, key)
    parts = [f"{n} event{'s' if n != 1 else ''} since the last digest:", ""]
    for i, row in enumerate(rows, 1):
        lines = _describe(row)
        parts.append(f"{i}. {lines[0]}")
        parts.extend(lines[2:])
        parts.append("")
    msg.set_content("\n".join(parts) + "-- \nsalescli notifications\n")
    return msg


def post_webhook(url: str, where: str, row: dict[str, Any]) -> tuple[str, bool] | None:
    """POST one notifications row to the webhook ``url`` (shown as ``where`` in errors).
    None when it was accepted, else (error, permanent: a 4xx other than 408/425/429)."""
    import urllib.error
    import urllib.request

    from salescli import __version__

    payload = _payload(row)
    body = json.dumps({
        "event_key": payload.get("event_key", row["event_key"].rpartition("|")[0]),
        "rule": row["rule"], "prospect_id": row["prospect_id"], "subject": row["subject"],
        "created_at": row["created_at"], "payload": payload,
    },  # the payload was stored as JSON: it is JSON already
        sort_keys=True,  # pragma: no mutate: the order of keys means nothing in JSON
    ).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type":  # pragma: no mutate: urllib capitalizes header names itself
            "application/json",
        "Idempotency-Key":  # pragma: no mutate: urllib capitalizes header names itself
            idempotency_key(row["event_key"]),
        "User-Agent": f"salescli/{__version__}",
    })
    permanent = False
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 425, 429)
        error = f"webhook {where} answered HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        error = f"webhook {where} unreachable: {exc.reason}"
    except (OSError, ValueError) as exc:
        error = f"webhook {where} failed: {type(exc).__name__}: {exc}"
    else:
        return None
    return error, permanent
