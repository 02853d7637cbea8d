"""Unsubscribing: the signed one-click token and what an unsubscribe does.

An unsubscribe (a one-click POST, a mail to our ``List-Unsubscribe`` mailto, a reply
whose first line says "unsubscribe") puts the address on the do-not-contact list and
ends its active enrollments as ``unsubscribed``, audited, in one transaction. It is here,
low, because the web server, the scanner and the sender all use it.

The one-click token names an enrollment and is signed (HMAC-SHA256) with a key derived
from ``SALESCLI_SECRET``, over the enrollment *and* its address: it cannot be guessed or
moved to another enrollment, and nothing secret is stored in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.enums import EnrollmentState, SuppressionSource
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import now
from salescli.pipeline import suppressions

MIN_SECRET_BYTES = 32
MAC_BYTES = 16  # 128 bits
_TOKEN = re.compile(r"^([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{22})$")


def signing_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The token key, derived from ``SALESCLI_SECRET`` (the web server's secret, so the
    sender and the server agree); InvalidValue when it is missing or short."""
    value = (os.environ if environ is None else environ).get("SALESCLI_SECRET", "")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise InvalidValue("SALESCLI_SECRET", "…" if value else "",
                           f"must be set to at least {MIN_SECRET_BYTES} bytes for one-click"
                           " unsubscribe links (SALESCLI_UNSUBSCRIBE_URL)")
    return key_from_secret(value.encode())


def key_from_secret(secret: bytes) -> bytes:
    """The token key derived from the raw ``SALESCLI_SECRET`` (kept apart from the JWT and
    cookie keys derived from the same secret)."""
    return hmac.new(secret, b"salescli:unsubscribe", hashlib.sha256).digest()


def _mac(key: bytes, enrollment_id: int, address: str) -> str:
    digest = hmac.new(key, f"{enrollment_id}:{address.strip().lower()}".encode(),
                      hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(key: bytes, enrollment_id: int, address: str) -> str:
    """The one-click token of one enrollment to one address: ``ID.MAC``."""
    return f"{enrollment_id}.{_mac(key, enrollment_id, address)}"


def resolve(conn: sqlite3.Connection, key: bytes, token: str) -> dict[str, Any] | None:
    """The enrollment a token names (``enrollment_id``, ``prospect_id``, ``email``,
    ``sequence``), or None when it is malformed, forged or its enrollment is gone."""
    m = _TOKEN.match(token or "")  # pragma: no mutate (any non-token string is refused)
    if not m:
        return None
    row = conn.execute(
        "SELECT e.id AS enrollment_id, e.prospect_id, p.email, s.name AS sequence"
        " FROM enrollments e JOIN prospects p ON p.id = e.prospect_id"
        " JOIN sequences s ON s.id = e.sequence_id WHERE e.id = ?", (int(m.group(1)),)
    ).fetchone()
    if row is None or not hmac.compare_digest(_mac(key, row["enrollment_id"], row["email"]),
                                              m.group(2)):
        return None
    return dict(row)


def unsubscribe(conn: sqlite3.Connection, actor: str, address: str, *, reason: str,
                at: str | None = None) -> dict[str, Any]:
    """Suppress ``address`` and end its active enrollments as unsubscribed with
    ``reason``, audited, in one transaction. Idempotent: a second call changes nothing.
    Returns ``address``, ``suppressed`` (newly) and ``ended`` (enrollments)."""
    ts = at or now()
    with transaction(conn):
        key = suppressions.normalise(address)
        suppressed = suppressions.match(conn, key) is None
        if suppressed:
            suppressions.add(conn, actor, key, reason=reason,
                             source=SuppressionSource.UNSUBSCRIBE, exist_ok=True)
        rows = conn.execute(
            "SELECT e.id, e.prospect_id FROM enrollments e JOIN prospects p"
            " ON p.id = e.prospect_id WHERE p.email = ? AND e.state = 'active'",
            (key,)).fetchall()
        for r in rows:
            conn.execute("UPDATE enrollments SET state = ?, reason = ?, ended_at = ?,"
                         " next_due_at = NULL, updated_at = ? WHERE id = ?",
                         (EnrollmentState.UNSUBSCRIBED.value, reason, ts, ts, r["id"]))
            conn.execute("UPDATE sends SET state = 'failed', smtp_reply = ? WHERE"
                         " enrollment_id = ? AND state = 'pending'",
                         (f"not sent: enrollment ended ({reason})", r["id"]))
            audit.record(conn, actor, "end", "enrollment", r["id"], {"state": "active"},
                         {"state": EnrollmentState.UNSUBSCRIBED.value, "reason": reason},
                         prospect_id=r["prospect_id"], at=ts)
    return {"address": key, "suppressed": suppressed, "ended": len(rows)}
