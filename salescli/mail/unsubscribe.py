"""Unsubscribe mail: a message to us whose subject is ``unsubscribe TOKEN`` (the mailto: of
our ``List-Unsubscribe`` header), or just "unsubscribe" / "remove me" from a prospect,
puts the address on the do-not-contact list (an audited suppression).

The scan reads headers only, so this looks at the subject. A reply whose *first body line*
says "unsubscribe" is not seen here (that needs the body, which the scan does not fetch).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable

from salescli.core.enums import SuppressionSource
from salescli.mail.parse import Envelope
from salescli.pipeline import addresses, suppressions

ACTOR = "monitor"
_TOKEN = re.compile(r"^\s*unsubscribe\s+([A-Za-z0-9_-]{8,64})\s*$", re.I)
_PLAIN = re.compile(r"^\s*(?:unsubscribe|remove me|please remove me|stop)\s*[.!]?\s*$", re.I)
_SKIP = {"outbound", "bounce", "internal", "quarantined"}


def address_of(conn: sqlite3.Connection, env: Envelope) -> tuple[str, str] | None:
    """(address, reason) an unsubscribe mail asks us to suppress, or None."""
    subject = env.subject or ""
    match = _TOKEN.match(subject)
    if match:
        row = conn.execute("SELECT p.email FROM enrollments e JOIN prospects p ON"
                           " p.id = e.prospect_id WHERE e.token = ?",
                           (match.group(1),)).fetchone()
        if row:
            return row["email"], "unsubscribe link"
    if (match or _PLAIN.match(subject)) and env.from_addr:
        known = addresses.prospect_for(conn, [env.from_addr])  # primary or other address

        if known:
            return env.from_addr, "unsubscribe mail"
    return None


def apply(conn: sqlite3.Connection, envelopes: Iterable[Envelope]) -> int:
    """Suppress the address of every unsubscribe mail among ``envelopes`` (inside the
    scan's batch transaction); returns how many addresses were newly suppressed."""
    n = 0
    for env in envelopes:
        if env.error or str(env.kind) in _SKIP or not env.subject:
            continue
        found = address_of(conn, env)
        if found is None:
            continue
        address, reason = found
        if suppressions.match(conn, address) is None:
            suppressions.add(conn, ACTOR, address, reason=f"{reason} {env.sent_at}",
                             source=SuppressionSource.UNSUBSCRIBE, exist_ok=True)
            n += 1
    return n
