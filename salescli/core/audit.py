"""The activity log: who changed what, when, with before and after as JSON.

Callers write the activity inside the same transaction as the change, so an
audit row exists exactly when the change does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

from salescli.core.timeutil import now

# One encoder for every audit row: the same text as json.dumps(default=str, sort_keys=True)
# without building an encoder per call.
_JSON = json.JSONEncoder(default=str, sort_keys=True)
_INSERT = ("INSERT INTO activities(at, actor, action, entity, entity_id, prospect_id, before,"
           " after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


class Entry(NamedTuple):
    """One activity for ``record_many``: what happened to which entity, before and after."""

    action: str
    entity: str
    entity_id: int | None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    prospect_id: int | None = None


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else _JSON.encode(value)


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[dict, dict]:
    """Keep only the fields that changed (empty → value counts as a change)."""
    before = before or {}
    after = after or {}
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def record(
    conn: sqlite3.Connection,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    prospect_id: int | None = None,
    at: str | None = None,
) -> int:
    """Insert one activity row and return its id."""
    cur = conn.execute(
        _INSERT,
        (at or now(), actor, action, entity, entity_id, prospect_id, _dump(before),
         _dump(after)),
    )
    return cur.lastrowid


def record_many(conn: sqlite3.Connection, actor: str, entries: Iterable[Entry], *,
                at: str | None = None) -> int:
    """Insert many activity rows by one actor at one time (one executemany), in order.

    For bulk writers that already hold the transaction of the changes they audit.
    Returns the number of rows inserted."""
    ts = at or now()
    rows = [(ts, actor, e.action, e.entity, e.entity_id, e.prospect_id, _dump(e.before),
             _dump(e.after)) for e in entries]
    if rows:
        conn.executemany(_INSERT, rows)
    return len(rows)


def list_activities(
    conn: sqlite3.Connection,
    *,
    prospect_id: int | None = None,
    actor: str | None = None,
    since: str | None = None,
    entity: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Activities newest last, filtered; before/after decoded from JSON."""
    where, params = [], []
    if prospect_id is not None:
        where.append("prospect_id = ?")  # pragma: no mutate (a name: no keyword for the rule)
        params.append(prospect_id)
    if actor:
        where.append("actor = ?")
        params.append(actor)
    if since:
        where.append("at >= ?")
        params.append(since)
    if entity:
        where.append("entity = ?")  # pragma: no mutate (a name: no keyword for the rule)
        params.append(entity)
    sql = "SELECT * FROM activities"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY at, id"
    if limit:
        newest_first = " ORDER BY at DESC, id DESC"
        sql = f"SELECT * FROM ({sql.replace(' ORDER BY at, id', newest_first)}"
        sql += f" LIMIT {int(limit)}) ORDER BY at, id"
    rows = []
    for row in conn.execute(sql, params):
        d = dict(row)
        d["before"] = json.loads(d["before"]) if d["before"] else None
        d["after"] = json.loads(d["after"]) if d["after"] else None
        rows.append(d)
    return rows
