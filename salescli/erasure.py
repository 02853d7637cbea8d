"""Right to erasure: ``forget`` removes a person everywhere, the audit log included.

The prospect, its interactions, stage history, tags and notifications are
deleted; personal values inside audit JSON are redacted; one tombstone activity
without personal data records that it happened. Freed pages are zeroed
(``secure_delete``) and the WAL is checkpointed so no copy lingers on disk.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from salescli import audit
from salescli.db import transaction
from salescli.errors import NotFound
from salescli.prospects import normalise_email, resolve

REDACTED = "[forgotten]"


def _redact(value: Any, needles: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, needles) for v in value]
    if isinstance(value, str) and any(n in value.lower() for n in needles):
        return REDACTED
    return value


def forget(conn: sqlite3.Connection, actor: str, email: str) -> dict[str, int]:
    """Erase the prospect with this address; returns counts of what was removed."""
    address = normalise_email(email)
    conn.execute("PRAGMA secure_delete = ON")
    with transaction(conn):
        try:
            p = resolve(conn, address)
        except NotFound:
            raise NotFound("prospect", email) from None
        pid = p["id"]
        needles = [address] + [p[f].lower() for f in ("name",) if p[f] and len(p[f]) >= 3]
        interactions = conn.execute("DELETE FROM interactions WHERE prospect_id = ?",
                                    (pid,)).rowcount
        conn.execute("DELETE FROM notifications WHERE prospect_id = ?", (pid,))
        conn.execute("DELETE FROM prospects WHERE id = ?", (pid,))
        own = conn.execute("UPDATE activities SET before = NULL, after = NULL"
                           " WHERE prospect_id = ?", (pid,)).rowcount
        others = 0
        pattern = "%" + address.replace("%", "").replace("_", "") + "%"
        rows = conn.execute(
            "SELECT id, before, after FROM activities WHERE before LIKE ? OR after LIKE ?",
            (pattern, pattern)).fetchall()
        for row in rows:
            before = _redact(json.loads(row["before"]), needles) if row["before"] else None
            after = _redact(json.loads(row["after"]), needles) if row["after"] else None
            conn.execute("UPDATE activities SET before = ?, after = ? WHERE id = ?",
                         (json.dumps(before) if before is not None else None,
                          json.dumps(after) if after is not None else None, row["id"]))
            others += 1
        conn.execute("INSERT INTO prospects_fts(prospects_fts) VALUES ('optimize')")
        counts = {"interactions": interactions, "activities_redacted": own + others}
        audit.record(conn, actor, "forget", "prospect", pid, None,
                     {"forgotten": True, **counts})
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA secure_delete = OFF")
    return counts
