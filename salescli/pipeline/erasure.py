"""Right to erasure: ``forget`` removes a person everywhere, the audit log included.

The prospect, its interactions, stage history, tags, notifications, tasks and
sequence enrollments (with their send ledger) are deleted; personal values inside
audit JSON are redacted; one tombstone activity without personal data records that
it happened. A do-not-contact entry stays (it is what keeps the person unmailed).
Freed pages are zeroed (``secure_delete``) and the WAL is checkpointed so no copy
lingers on disk; a reader that keeps an old snapshot open (``db replicate``'s Litestream
always does) defers that to the next checkpoint, and the caller is told.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from salescli.core import audit
from salescli.core.db import busy_timeout_ms, transaction
from salescli.core.errors import NotFound
from salescli.pipeline.prospects import normalise_email, resolve

REDACTED = "[forgotten]"

# How long forget waits for readers of an older snapshot before it empties the WAL.
# Emptying it holds every writer back while it waits, and a replicator holds a snapshot
# for as long as it runs: past this, the next checkpoint (Litestream's own) finishes it.
CHECKPOINT_WAIT_MS = 2000


def _redact(value: Any, needles: list[str]) -> Any:
    if isinstance(value, dict):
        if str(value.get("email")).lower() == needles[0]:  # (no address: "none", no match)
            # A snapshot of the person (a create, delete or merge record): all of it goes.
            return {k: v if k == "id" or v in (None, "", []) else REDACTED
                    for k, v in value.items()}
        return {k: _redact(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, needles) for v in value]
    if isinstance(value, str) and any(n in value.lower() for n in needles):
        return REDACTED
    return value


def _snapshots(value: Any, address: str) -> Iterator[dict[str, Any]]:
    """Every dict inside audit JSON that is a snapshot of the prospect with ``address``."""
    if isinstance(value, dict):
        if str(value.get("email") or "").lower() == address:
            yield value
        for v in value.values():
            yield from _snapshots(v, address)
    elif isinstance(value, list):
        for v in value:
            yield from _snapshots(v, address)


def _mentions(addresses: list[str]) -> tuple[str, list[str]]:
    """A WHERE clause (and its parameters) for activities whose JSON mentions any of the
    addresses: each as audit JSON stores it (non-ASCII escaped) and as written, with LIKE's
    wildcards escaped ('_' is common in addresses and must match only itself)."""
    forms = {f for a in addresses for f in (json.dumps(a)[1:-1], a)}
    patterns = ["%" + f.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                for f in sorted(forms)]
    mentions = " OR ".join("before LIKE ? ESCAPE '\\' OR after LIKE ? ESCAPE '\\'"
                           for _ in patterns)
    return mentions, [pat for pat in patterns for _ in (0, 1)]


def forget(conn: sqlite3.Connection, actor: str, email: str) -> dict[str, int]:
    """Erase the prospect with this address; returns counts of what was removed, and
    ``wal_kept`` 1 when a reader kept the WAL (and the erased pages in it) from emptying.

    Also works when the prospect itself is gone (hard-deleted, or merged into another)
    but audit rows still carry the address. Given one of a prospect's other addresses, it
    erases that prospect; its other addresses go with it, from the audit log too.
    """
    address = normalise_email(email)
    conn.execute("PRAGMA secure_delete = ON")
    with transaction(conn):
        try:
            p = resolve(conn, address)
        except NotFound:
            p = None
        others: list[str] = []
        if p is not None:
            address = p["email"]
            others = [r[0] for r in conn.execute(
                "SELECT email FROM prospect_addresses WHERE prospect_id = ?", (p["id"],))]
        mentions, params = _mentions([address, *others])
        rows = conn.execute(
            "SELECT id, entity, action, prospect_id, before, after FROM activities"
            " WHERE " + mentions, params).fetchall()
        if p is None and not rows:
            raise NotFound("prospect", email)
        names = {p["name"]} if p and p["name"] else set()
        # Records of this address that no longer exist: their own audit rows go whole.
        ids = {p["id"]} if p else set()
        for row in rows:
            before = json.loads(row["before"] or "null")
            after = json.loads(row["after"] or "null")
            for snap in _snapshots([before, after], address):
                if snap.get("name"):
                    names.add(str(snap["name"]))
            own_record = after if row["action"] == "create" else before
            if (row["entity"] == "prospect" and row["action"] in ("create", "delete")
                    and isinstance(own_record, dict)
                    and str(own_record.get("email") or "").lower() == address
                    and row["prospect_id"] is not None
                    and not conn.execute("SELECT 1 FROM prospects WHERE id = ?",
                                         (row["prospect_id"],)).fetchone()):
                ids.add(row["prospect_id"])
        needles = [address, *others] + sorted(n.lower() for n in names if len(n) >= 3)
        interactions = 0
        if p:
            interactions = conn.execute("DELETE FROM interactions WHERE prospect_id = ?",
                                        (p["id"],)).rowcount
            conn.execute("DELETE FROM notifications WHERE prospect_id = ?", (p["id"],))
            # Tasks, enrollments and their send ledger (which holds the address) go too.
            conn.execute("DELETE FROM tasks WHERE prospect_id = ?", (p["id"],))
            conn.execute("DELETE FROM enrollments WHERE prospect_id = ?", (p["id"],))
            conn.execute("DELETE FROM prospect_addresses WHERE prospect_id = ?", (p["id"],))
            conn.execute("DELETE FROM prospects WHERE id = ?", (p["id"],))
        own = conn.execute(
            "UPDATE activities SET before = NULL, after = NULL WHERE prospect_id IN"
            f" ({','.join('?' * len(ids))}) AND (before IS NOT NULL OR after IS NOT NULL)",
            sorted(ids)).rowcount if ids else 0
        others = 0
        rows = conn.execute(
            "SELECT id, before, after FROM activities WHERE " + mentions, params).fetchall()
        for row in rows:
            before = _redact(json.loads(row["before"]), needles) if row["before"] else None
            after = _redact(json.loads(row["after"]), needles) if row["after"] else None
            conn.execute("UPDATE activities SET before = ?, after = ? WHERE id = ?",
                         (json.dumps(before) if before is not None else None,
                          json.dumps(after) if after is not None else None, row["id"]))
            others += 1
        conn.execute("INSERT INTO prospects_fts(prospects_fts) VALUES ('optimize')")
        counts = {"interactions": interactions, "activities_redacted": own + others}
        audit.record(conn, actor, "forget", "prospect", p["id"] if p else min(ids, default=None),
                     None, {"forgotten": True, **counts})
    counts["wal_kept"] = int(not _empty_wal(conn))
    conn.execute("PRAGMA secure_delete = OFF")
    return counts


def _empty_wal(conn: sqlite3.Connection) -> bool:
    """Checkpoint the WAL and truncate it, waiting at most CHECKPOINT_WAIT_MS for readers;
    False when one still reads an older snapshot (SQLite then copies what it can)."""
    conn.execute(f"PRAGMA busy_timeout = {min(CHECKPOINT_WAIT_MS, busy_timeout_ms())}")
    try:
        # (its mode is read ignoring case, which the SQL-case rule cannot see in brackets)
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()  # pragma: no mutate
    finally:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
    return not busy
