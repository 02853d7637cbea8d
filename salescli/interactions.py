"""Interactions: emails, calls, meetings and notes attached to a prospect.

The CLI's ``log`` command and the mail monitor both write through ``record`` so
that audit rows and the owner-at-the-time are the same whoever writes.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from salescli import audit
from salescli.db import now, transaction
from salescli.enums import InteractionKind
from salescli.errors import InvalidValue
from salescli.prospects import resolve

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
            "INSERT OR IGNORE INTO interactions(prospect_id, kind, occurred_at, subject, body,"
            " message_id, thread_key, account, folder, uid, owner, actor, detail, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (prospect_id, kind.value, occurred_at, subject, body, message_id, thread_key,
             account, folder, uid, owner_row["owner"] if owner_row else None, actor,
             json.dumps(detail) if detail else None, now()),
        )
        if cur.rowcount == 0:
            return None
        iid = cur.lastrowid
        after = {"kind": kind.value, "occurred_at": occurred_at}
        for key, value in (("subject", subject), ("message_id", message_id),
                           ("folder", folder)):
            if value:
                after[key] = value
        audit.record(conn, actor, "create", "interaction", iid, None, after,
                     prospect_id=prospect_id)
    return iid


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
