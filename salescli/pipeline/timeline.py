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
    # columns unpacked, not read by name: sqlite3.Row's names ignore case
    for (sid, at, actor, owner, note, reason, from_stage, to_stage) in conn.execute(
        """SELECT c.id, c.at, c.actor, c.owner, c.note, c.reason,
                  f.name AS from_stage, t.name AS to_stage
           FROM stage_changes c LEFT JOIN stages f ON f.id = c.from_stage_id
           JOIN stages t ON t.id = c.to_stage_id
           WHERE c.prospect_id = ?""", (prospect_id,)):
        events.append({"at": at, "type": "stage_change", "id": sid, "actor": actor,
                       "from": from_stage, "to": to_stage, "owner": owner, "note": note,
                       "reason": reason})
    for (iid, at, kind, subject, body, actor, owner, message_id, thread_key, _account,
         _folder, detail) in conn.execute(
        """SELECT id, occurred_at, kind, subject, body, actor, owner, message_id, thread_key,
                  account, folder, detail FROM interactions WHERE prospect_id = ?""",
            (prospect_id,)):
        events.append({"at": at, "type": "interaction", "id": iid, "kind": kind,
                       "actor": actor, "owner": owner, "subject": subject, "body": body,
                       "message_id": message_id, "thread_key": thread_key,
                       "detail": json.loads(detail) if detail else None})
    for (aid, at, actor, action, entity, _entity_id, before, after) in conn.execute(
        "SELECT id, at, actor, action, entity, entity_id, before, after FROM activities"
        " WHERE prospect_id = ? AND NOT (entity = 'prospect' AND action IN ({}))"
        " AND entity != 'interaction' AND NOT (entity = 'task' AND action = 'create')"
        .format(",".join("?" * len(_SHOWN_ELSEWHERE))),
            (prospect_id, *_SHOWN_ELSEWHERE)):
        events.append({"at": at, "type": "activity", "id": aid, "actor": actor,
                       "action": action, "entity": entity,
                       "before": json.loads(before) if before else None,
                       "after": json.loads(after) if after else None})
    for (tid, created_at, kind, text, owner, due_on, done_at, note, source,
         actor) in conn.execute(
        "SELECT id, created_at, kind, text, owner, due_on, done_at, note, source, actor"
        " FROM tasks WHERE prospect_id = ?", (prospect_id,)):
        events.append({"at": created_at, "type": "task", "id": tid, "actor": actor,
                       "kind": kind, "text": text, "owner": owner, "due_on": due_on,
                       "done_at": done_at, "note": note, "source": source})
    order = {"stage_change": 0, "activity": 1, "task": 2, "interaction": 3}
    events.sort(key=lambda e: (e["at"] or "", order[e["type"]], e["id"]))
    return events
