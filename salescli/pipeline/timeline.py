"""A prospect's history as one list of events, oldest first, for ``prospects show``."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

# Activities already shown as a stage change or an interaction are left out.
_SHOWN_ELSEWHERE = ("move",)


def timeline(conn: sqlite3.Connection, prospect_id: int) -> list[dict[str, Any]]:
    """Stage changes, interactions, tasks and other activities of a prospect, oldest first."""
    events: list[dict[str, Any]] = []
    for r in conn.execute(
        """SELECT c.id, c.at, c.actor, c.owner, c.note, c.reason,
                  f.name AS from_stage, t.name AS to_stage
           FROM stage_changes c LEFT JOIN stages f ON f.id = c.from_stage_id
           JOIN stages t ON t.id = c.to_stage_id
           WHERE c.prospect_id = ?""", (prospect_id,)):
        events.append({"at": r["at"], "type": "stage_change", "id": r["id"],
                       "actor": r["actor"], "from": r["from_stage"], "to": r["to_stage"],
                       "owner": r["owner"], "note": r["note"], "reason": r["reason"]})
    for r in conn.execute(
        """SELECT id, occurred_at, kind, subject, body, actor, owner, message_id, thread_key,
                  account, folder, detail FROM interactions WHERE prospect_id = ?""",
            (prospect_id,)):
        events.append({"at": r["occurred_at"], "type": "interaction", "id": r["id"],
                       "kind": r["kind"], "actor": r["actor"], "owner": r["owner"],
                       "subject": r["subject"], "body": r["body"],
                       "message_id": r["message_id"], "thread_key": r["thread_key"],
                       "detail": json.loads(r["detail"]) if r["detail"] else None})
    for r in conn.execute(
        "SELECT id, at, actor, action, entity, entity_id, before, after FROM activities"
        " WHERE prospect_id = ? AND NOT (entity = 'prospect' AND action IN ({}))"
        " AND entity != 'interaction' AND NOT (entity = 'task' AND action = 'create')"
        .format(",".join("?" * len(_SHOWN_ELSEWHERE))),
            (prospect_id, *_SHOWN_ELSEWHERE)):
        events.append({"at": r["at"], "type": "activity", "id": r["id"], "actor": r["actor"],
                       "action": r["action"], "entity": r["entity"],
                       "before": json.loads(r["before"]) if r["before"] else None,
                       "after": json.loads(r["after"]) if r["after"] else None})
    for r in conn.execute(
        "SELECT id, created_at, kind, text, owner, due_on, done_at, note, source, actor"
        " FROM tasks WHERE prospect_id = ?", (prospect_id,)):
        events.append({"at": r["created_at"], "type": "task", "id": r["id"],
                       "actor": r["actor"], "kind": r["kind"], "text": r["text"],
                       "owner": r["owner"], "due_on": r["due_on"], "done_at": r["done_at"],
                       "note": r["note"], "source": r["source"]})
    order = {"stage_change": 0, "activity": 1, "task": 2, "interaction": 3}
    events.sort(key=lambda e: (e["at"] or "", order[e["type"]], e["id"]))
    return events
