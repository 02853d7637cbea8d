"""A prospect's other email addresses: the ones an export had beside the primary one.

Mail from or to any of them is the prospect's (the scanner asks ``prospect_for``); we only
ever send to the primary address. An address belongs to one prospect only: it is either a
prospect's primary address or one prospect's other address, never both. They are shown by
``prospects show``, exported, moved by ``merge`` and erased by ``forget``. Every change is
audited in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.errors import Conflict, NotFound
from salescli.core.timeutil import now
from salescli.pipeline.prospects import normalise_email

FIELD = "other_emails"
_CHUNK = 400  # addresses per IN (…), well under SQLite's variable limit


def _normalised(emails: Iterable[str]) -> list[str]:
    """Each address normalised like a primary one, duplicates dropped, order kept."""
    out: list[str] = []
    for email in emails:
        if email is None or not str(email).strip():
            continue
        address = normalise_email(email)
        if address not in out:
            out.append(address)
    return out


def of(conn: sqlite3.Connection, prospect_id: int) -> list[str]:
    """The prospect's other addresses, in the order they were added."""
    return [r[0] for r in conn.execute(
        "SELECT email FROM prospect_addresses WHERE prospect_id = ?"  # pragma: no mutate (SQL case)
        " ORDER BY id", (prospect_id,))]  # pragma: no mutate (SQL case)


def prospect_for(conn: sqlite3.Connection, emails: Iterable[str]) -> dict[str, int]:
    """Address → prospect id for each of ``emails`` (already normalised) that is a
    prospect's primary or other address; unknown ones are left out."""
    wanted = sorted({e for e in emails if e})
    found: dict[str, int] = {}
    for i in range(0, len(wanted), _CHUNK):  # pragma: no mutate (a step of 1 finds the same)
        part = wanted[i:i + _CHUNK]
        marks = ",".join("?" * len(part))
        found.update((r[0], r[1]) for r in conn.execute(
            f"SELECT email, prospect_id FROM prospect_addresses WHERE email IN ({marks})", part))
        # A primary address wins (the rules keep the two apart; this is the tie-break).
        found.update((r[0], r[1]) for r in conn.execute(
            f"SELECT email, id FROM prospects WHERE email IN ({marks})", part))
    return found


def add(conn: sqlite3.Connection, actor: str, prospect_id: int, emails: Iterable[str], *,
        at: str | None = None, strict: bool = False) -> list[str]:
    """Give the prospect other addresses: normalised, deduplicated, one audit row.

    Skips the prospect's primary address and addresses it already has; an address that is
    another prospect's (primary or other) is skipped too, or with ``strict`` is a Conflict
    naming it and its prospect. Returns the addresses added. InvalidValue for a malformed
    address (nothing written)."""
    wanted = _normalised(emails)
    with transaction(conn):
        row = conn.execute("SELECT email FROM prospects"  # pragma: no mutate (SQL case)
                           " WHERE id = ?",  # pragma: no mutate (SQL case)
                           (prospect_id,)).fetchone()
        if row is None:
            raise NotFound("prospect", prospect_id)
        owners = prospect_for(conn, wanted)
        added = []
        for email in wanted:
            owner = owners.get(email)
            if owner == prospect_id:
                continue
            if owner is not None:
                if strict:
                    raise Conflict(f"address {email!r} already belongs to prospect #{owner}")
                continue
            added.append(email)
        if added:
            ts = at or now()
            conn.executemany(
                "INSERT INTO prospect_addresses"  # pragma: no mutate (SQL case)
                "(prospect_id, email, created_at) VALUES (?, ?, ?)",  # pragma: no mutate (SQL case)
                [(prospect_id, email, ts) for email in added])
            audit.record(conn, actor, "add-email", "prospect", prospect_id, None,
                         {FIELD: added}, prospect_id=prospect_id, at=ts)
    return added


def remove(conn: sqlite3.Connection, actor: str, prospect_id: int, emails: Iterable[str], *,
           strict: bool = True) -> list[str]:
    """Take other addresses off the prospect, one audit row; returns those removed. With
    ``strict`` an address that is not one of the prospect's other addresses is NotFound."""
    wanted = _normalised(emails)
    with transaction(conn):
        have = set(of(conn, prospect_id))
        gone = [e for e in wanted if e in have]
        if strict and len(gone) != len(wanted):
            missing = next(e for e in wanted if e not in have)
            raise NotFound(f"other address of prospect #{prospect_id}", missing)
        if gone:
            conn.executemany("DELETE FROM prospect_addresses"  # pragma: no mutate (SQL case)
                             " WHERE prospect_id = ? AND email = ?",  # pragma: no mutate (SQL case)
                             [(prospect_id, e) for e in gone])
            audit.record(conn, actor, "remove-email", "prospect", prospect_id, {FIELD: gone},
                         prospect_id=prospect_id)
    return gone
