"""Unsubscribe mail: a message to us whose subject is ``unsubscribe TOKEN`` (the mailto: of
our ``List-Unsubscribe`` header), "unsubscribe" / "remove me" as the subject of a mail
from a prospect, or as the first line a prospect wrote in a reply (what is quoted below
does not count, nor the word later in the text), puts the address on the do-not-contact
list and ends its enrollments (``pipeline.unsubscribe``, audited).

The text is read only for mail from prospects with a live enrollment (``mail.fetch``).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable

from salescli.mail.body import first_line
from salescli.mail.parse import Envelope
from salescli.pipeline import addresses, suppressions
from salescli.pipeline import unsubscribe as unsub

ACTOR = "monitor"
_TOKEN = re.compile(r"^\s*unsubscribe\s+([A-Za-z0-9_-]{8,64})\s*$", re.I)
# The whole line, in a few languages, with "please" and a trailing mark or two allowed.
_PLAIN = re.compile(
    r"^\s*(?:please\s+|pls\s+|bitte\s+|merci\s+de\s+|por\s+favor,?\s+)?"
    r"(?:unsubscribe(?:\s+me)?|remove\s+me(?:\s+from\s+(?:your|this|the)\s+"
    r"(?:mailing\s+)?list)?|take\s+me\s+off(?:\s+(?:your|this|the)\s+list)?|opt[\s-]?out|"
    r"stop|abmelden|abbestellen|austragen|mich\s+austragen|"
    r"d[ée]sabonner|me\s+d[ée]sabonner|d[ée]sinscri(?:re|vez[\s-]moi)|d[ée]sabonnez[\s-]moi|"
    r"darme\s+de\s+baja|dar\s+de\s+baja|baja|"
    r"afmelden|uitschrijven|cancella(?:mi)?|disiscrivimi)"
    r"(?:,?\s+(?:please|bitte|s'il\s+vous\s+pla[iî]t|por\s+favor|thanks?|thank\s+you))?"
    r"\s*[.!]{0,3}\s*$", re.I)
_SKIP = {"outbound", "bounce", "internal", "quarantined"}


def asks_to_unsubscribe(line: str | None) -> bool:
    """Whether a subject or a first line is, as a whole, a request to unsubscribe."""
    return bool(line) and bool(_PLAIN.match(line))


def address_of(conn: sqlite3.Connection, env: Envelope) -> tuple[str, str] | None:
    """(address, reason) an unsubscribe mail asks us to suppress, or None."""
    subject = env.subject
    match = _TOKEN.match(subject) if subject else None
    if match:
        row = conn.execute("SELECT p.email FROM enrollments e JOIN prospects p ON"
                           " p.id = e.prospect_id WHERE e.token = ?",
                           (match.group(1),)).fetchone()
        if row:
            return row[0], "unsubscribe link"
    if match or asks_to_unsubscribe(subject):
        why = "unsubscribe mail"
    elif str(env.kind) == "inbound" and asks_to_unsubscribe(first_line(env.text)):
        why = "unsubscribe reply"
    else:
        return None
    if env.from_addr and addresses.prospect_for(conn, [env.from_addr]):  # primary or other
        return env.from_addr, why
    return None


def apply(conn: sqlite3.Connection, envelopes: Iterable[Envelope]) -> int:
    """Suppress the address of every unsubscribe mail among ``envelopes`` and end its
    enrollments (inside the scan's batch transaction); returns how many addresses were
    newly suppressed."""
    n = 0
    for env in envelopes:
        if env.error or str(env.kind) in _SKIP or not (env.subject or env.text):
            continue
        found = address_of(conn, env)
        if found is None:
            continue
        address, reason = found
        if suppressions.match(conn, address) is None:
            n += 1
        unsub.unsubscribe(conn, ACTOR, address, reason=f"{reason} {env.sent_at}")
    return n
