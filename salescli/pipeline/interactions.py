"""Interactions: emails, calls, meetings and notes attached to a prospect.

The CLI's ``log`` command writes through ``record`` and the mail monitor through
``record_many`` (the same rows, in bulk), so that audit rows and the owner-at-the-time
are the same whoever writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from typing import Any

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.enums import InteractionKind
from salescli.core.errors import InvalidValue, NotFound
from salescli.core.timeutil import now
from salescli.pipeline.prospects import resolve

# What an operator may log by hand; ``email`` means an email sent outside the monitor.
MANUAL_KINDS = {"call": InteractionKind.CALL, "meeting": InteractionKind.MEETING,
                "note": InteractionKind.NOTE, "email": InteractionKind.EMAIL_OUT}


def record(conn: sqlite3.Connection, actor: str, prospect_id: int, kind: InteractionKind | str,
           occurred_at: str, *, subject: str | None = None, body: str | None = None,
           message_id: str | None = None, thread_key: str | None = None,
           account: str | None = None, folder: str | None = None, uid: int | None = None,
           detail: dict[str, Any] | None = None) -> int | None:
    """Insert one interaction with an audit row; None if this message is already recorded
    for this prospect (unique message_id, prospect_id)."""
    kind = InteractionKind(kind)
    with transaction(conn):
        owner_row = conn.execute("SELECT owner FROM prospects WHERE id = ?",
                                 (prospect_id,)).fetchone()
        cur = conn.execute(
            _INSERT,
            (prospect_id, kind.value, occurred_at, subject, body, message_id, thread_key,
             account, folder, uid, owner_row["owner"] if owner_row else None, actor,
             json.dumps(detail) if detail else None, now()),
        )
        if cur.rowcount == 0:
            return None
        iid = cur.lastrowid
        audit.record(conn, actor, "create", "interaction", iid, None,
                     _audited(kind, occurred_at, subject, message_id, folder),
                     prospect_id=prospect_id)
    return iid


def record_many(conn: sqlite3.Connection, actor: str,
                rows: Iterable[Mapping[str, Any]]) -> list[int | None]:
    """Insert many interactions, each with its audit row, as ``record`` would one by one;
    returns their ids in order, None where the message is already recorded for that
    prospect (also earlier in ``rows``).

    Each row holds ``record``'s arguments by name (prospect_id, kind, occurred_at and
    optionally subject, body, message_id, thread_key, account, folder, uid, detail).
    Everything is checked before the first write. No savepoint per row: inside an open
    transaction the caller's transaction is the unit (roll it back on an error), else
    one transaction is opened for all rows."""
    prepared = [_prepare(row) for row in rows]
    if not prepared:
        return []
    with nullcontext(conn) if conn.in_transaction else transaction(conn):
        owners = _owners(conn, {r[0] for r in prepared})
        ts = now()
        ids: list[int | None] = []
        entries: list[audit.Entry] = []
        cur = conn.cursor()
        for (pid, kind, occurred_at, subject, body, message_id, thread_key, account, folder,
             uid, detail) in prepared:
            cur.execute(_INSERT, (pid, kind.value, occurred_at, subject, body, message_id,
                                  thread_key, account, folder, uid, owners[pid], actor,
                                  detail, ts))
            if cur.rowcount == 0:
                ids.append(None)
                continue
            iid = cur.lastrowid
            ids.append(iid)
            entries.append(audit.Entry("create", "interaction", iid, None,
                                       _audited(kind, occurred_at, subject, message_id, folder),
                                       pid))
        audit.record_many(conn, actor, entries, at=ts)
    return ids


_INSERT = ("INSERT OR IGNORE INTO interactions(prospect_id, kind, occurred_at, subject, body,"
           " message_id, thread_key, account, folder, uid, owner, actor, detail, created_at)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_FIELDS = frozenset(("prospect_id", "kind", "occurred_at", "subject", "body", "message_id",
                     "thread_key", "account", "folder", "uid", "detail"))


def _audited(kind: InteractionKind, occurred_at: str, subject: str | None,
             message_id: str | None, folder: str | None) -> dict[str, Any]:
    """The ``after`` of an interaction's create activity."""
    after = {"kind": kind.value, "occurred_at": occurred_at}
    for key, value in (("subject", subject), ("message_id", message_id), ("folder", folder)):
        if value:
            after[key] = value
    return after


def _prepare(row: Mapping[str, Any]) -> tuple:
    """One ``record_many`` row as insert values (kind checked, detail as JSON)."""
    unknown = row.keys() - _FIELDS
    if unknown:
        raise TypeError(f"record_many: unknown field(s) {sorted(unknown)}")
    for name in ("prospect_id", "kind", "occurred_at"):
        if row.get(name) is None:
            raise TypeError(f"record_many: {name} is required")
    detail = row.get("detail")
    return (row["prospect_id"], InteractionKind(row["kind"]), row["occurred_at"],
            row.get("subject"), row.get("body"), row.get("message_id"), row.get("thread_key"),
            row.get("account"), row.get("folder"), row.get("uid"),
            json.dumps(detail) if detail else None)


def _owners(conn: sqlite3.Connection, prospect_ids: set[int]) -> dict[int, str | None]:
    """Owner of each prospect, in a few queries; NotFound names the first missing one."""
    wanted = sorted(prospect_ids)
    owners: dict[int, str | None] = {}
    for i in range(0, len(wanted), 500):
        part = wanted[i:i + 500]
        owners.update((r[0], r[1]) for r in conn.execute(
            f"SELECT id, owner FROM prospects WHERE id IN ({','.join('?' * len(part))})",
            part))
    missing = [pid for pid in wanted if pid not in owners]
    if missing:
        raise NotFound("prospect", missing[0])
    return owners


def log(conn: sqlite3.Connection, actor: str, key: Any, kind: str, *, body: str | None = None,
        subject: str | None = None, at: str | None = None) -> dict[str, Any]:
    """Log a call, meeting, note or email by hand against a prospect (id or email)."""
    if kind not in MANUAL_KINDS:
        raise InvalidValue("--kind", kind, "must be one of " + ", ".join(MANUAL_KINDS))
    with transaction(conn):
        p = resolve(conn, key)
        iid = record(conn, actor, p["id"], MANUAL_KINDS[kind], at or now(), subject=subject,
                     body=body)
        row = conn.execute("SELECT * FROM interactions WHERE id = ?", (iid,)).fetchone()
    return dict(row)
