"""The do-not-contact list: addresses and whole domains (``@example.com``) we never mail.

It sits low (layer 1) because everything that could reach a person consults it: the
sequence sender before every mail, enrolment, and the scanner when someone unsubscribes.
Every change is audited like any other write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.enums import SuppressionSource
from salescli.core.errors import Conflict, InvalidValue, NotFound
from salescli.core.timeutil import now
from salescli.pipeline import addresses
from salescli.pipeline.prospects import normalise_email

COLUMNS = ["address", "reason", "source", "actor", "created_at"]


def normalise(value: Any) -> str:
    """An address (lower-case) or ``@domain``; InvalidValue naming the value otherwise."""
    text = str(value or "").strip().lower()
    if text.startswith("@"):
        domain = text[1:]
        try:
            normalise_email(f"x@{domain}")
        except InvalidValue:
            raise InvalidValue("address", value, "is not an email address or @domain") \
                from None
        return "@" + domain
    try:
        return normalise_email(text)
    except InvalidValue:
        raise InvalidValue("address", value, "is not an email address or @domain") from None


def _keys(email: str) -> tuple[str, str]:
    address = email.strip().lower()
    return address, "@" + address.rpartition("@")[2]


def match(conn: sqlite3.Connection, email: str) -> dict[str, Any] | None:
    """The suppression that covers ``email`` (its address first, then its domain), or None."""
    address, domain = _keys(email)
    row = conn.execute("SELECT * FROM suppressions WHERE address IN (?, ?)"
                       " ORDER BY address = ? DESC LIMIT 1", (address, domain, address)).fetchone()
    return dict(row) if row else None


def is_suppressed(conn: sqlite3.Connection, email: str) -> bool:
    """Whether nothing may be sent to ``email``."""
    return match(conn, email) is not None


def suppressed_among(conn: sqlite3.Connection, emails: Iterable[str]) -> set[str]:
    """The addresses of ``emails`` that are suppressed, in one query per 400."""
    wanted = {e.strip().lower() for e in emails}
    keys = sorted({k for e in wanted for k in _keys(e)})
    hit: set[str] = set()
    for i in range(0, len(keys), 400):
        part = keys[i:i + 400]
        hit.update(r[0] for r in conn.execute(
            f"SELECT address FROM suppressions WHERE address IN ({','.join('?' * len(part))})",
            part))
    return {e for e in wanted if any(k in hit for k in _keys(e))}


def blocking(conn: sqlite3.Connection, prospect_id: int, email: str) -> dict[str, Any] | None:
    """The suppression that keeps mail from a prospect: one covering its primary address
    (``email``, where we send), else one covering any of its other addresses (the person
    asked not to be contacted from there: we do not mail them at another address)."""
    hit = match(conn, email)
    if hit is None:
        for other in addresses.of(conn, prospect_id):
            if (hit := match(conn, other)) is not None:
                break
    return hit


def blocked_prospects(conn: sqlite3.Connection, people: Iterable[tuple[int, str]]) -> set[int]:
    """The ids among ``(id, primary email)`` pairs that ``blocking`` would refuse."""
    people = list(people)
    ids = [pid for pid, _ in people]
    others: dict[int, list[str]] = {}
    for i in range(0, len(ids), 400):
        part = ids[i:i + 400]
        for pid, email in conn.execute(
                "SELECT prospect_id, email FROM prospect_addresses WHERE prospect_id IN"
                f" ({','.join('?' * len(part))})", part):
            others.setdefault(pid, []).append(email)
    every = [e for _, e in people] + [e for es in others.values() for e in es]
    hit = suppressed_among(conn, every)
    return {pid for pid, email in people
            if email.lower() in hit or any(e in hit for e in others.get(pid, ()))}


def _prospect_ids(conn: sqlite3.Connection, address: str) -> list[int]:
    """The prospects an entry covers, by their primary or an other address (for audit)."""
    if address.startswith("@"):
        like = "%" + address.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return [r[0] for r in conn.execute(
            "SELECT id FROM prospects WHERE email LIKE ? ESCAPE '\\' UNION SELECT prospect_id"
            " FROM prospect_addresses WHERE email LIKE ? ESCAPE '\\' ORDER BY 1", (like, like))]
    return [r[0] for r in conn.execute(
        "SELECT id FROM prospects WHERE email = ? UNION SELECT prospect_id FROM"
        " prospect_addresses WHERE email = ? ORDER BY 1", (address, address))]


def add(conn: sqlite3.Connection, actor: str, address: str, *, reason: str | None = None,
        source: SuppressionSource | str = SuppressionSource.MANUAL,
        exist_ok: bool = False) -> dict[str, Any]:
    """Put an address or @domain on the list, audited; Conflict if it is already there
    (unless ``exist_ok``, for the scanner and the sender, which may see it twice)."""
    key = normalise(address)
    source = SuppressionSource(source)
    reason = (reason or "").strip() or None
    with transaction(conn):
        old = conn.execute("SELECT * FROM suppressions WHERE address = ?", (key,)).fetchone()
        if old is not None:
            if exist_ok:
                return dict(old)
            raise Conflict(f"{key} is already suppressed (since {old['created_at']})")
        ts = now()
        cur = conn.execute(
            "INSERT INTO suppressions(address, reason, source, actor, created_at)"
            " VALUES (?, ?, ?, ?, ?)", (key, reason, source.value, actor, ts))
        row = {"address": key, "reason": reason, "source": source.value}
        ids = _prospect_ids(conn, key)
        audit.record_many(conn, actor, [
            audit.Entry("suppress", "suppression", cur.lastrowid, None, row,
                        prospect_id=pid) for pid in ids or [None]], at=ts)
    return {**row, "actor": actor, "created_at": ts}


def remove(conn: sqlite3.Connection, actor: str, address: str) -> dict[str, Any]:
    """Take an address or @domain off the list, audited; NotFound if it is not there."""
    key = normalise(address)
    with transaction(conn):
        old = conn.execute("SELECT * FROM suppressions WHERE address = ?", (key,)).fetchone()
        if old is None:
            raise NotFound("suppression", key)
        conn.execute("DELETE FROM suppressions WHERE id = ?", (old["id"],))
        before = {k: old[k] for k in ("address", "reason", "source")}
        audit.record_many(conn, actor, [
            audit.Entry("unsuppress", "suppression", old["id"], before, None, prospect_id=pid)
            for pid in _prospect_ids(conn, key) or [None]])
    return dict(old)


def list_suppressions(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The whole list, newest first."""
    return [dict(r) for r in conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM suppressions ORDER BY created_at DESC, id DESC")]
