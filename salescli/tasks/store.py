"""Tasks for owners: add, list (overdue first), done, snooze, reopen — each write audited.

Due dates are local days (``SALESCLI_TZ``): "due today" means today where the team works.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime, timedelta
from typing import Any

from salescli.core import audit
from salescli.core.db import row_id, transaction
from salescli.core.enums import TaskKind
from salescli.core.errors import InvalidValue, NotFound
from salescli.core.timeutil import now, zone
from salescli.pipeline.prospects import resolve

COLUMNS = ["id", "due_on", "state", "kind", "owner", "prospect_id", "email", "text",
           "source", "done_at"]
DUE_FILTERS = ("overdue", "today", "week")
_RELATIVE = re.compile(r"^\+(\d+)([dw])$")


def today_local(today: date | None = None) -> date:
    """Today in ``SALESCLI_TZ`` (or the injected day)."""
    return today or datetime.now(zone()).date()


def parse_due(value: str | None, *, field: str = "--due", today: date | None = None) -> str | None:
    """``YYYY-MM-DD``, ``today``, ``tomorrow``, ``+3d`` or ``+2w`` → a local day."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().lower()
    base = today_local(today)
    if text == "today":
        return base.isoformat()
    if text == "tomorrow":
        return (base + timedelta(days=1)).isoformat()
    rel = _RELATIVE.match(text)
    if rel:
        n = int(rel.group(1)) * (7 if rel.group(2) == "w" else 1)
        try:
            return (base + timedelta(days=n)).isoformat()
        except OverflowError:  # past the year 9999
            raise InvalidValue(field, value, "is too far ahead") from None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue(field, value, "is not a day (YYYY-MM-DD, today, tomorrow, +3d, +2w)") \
            from None


def parse_kind(value: str | None) -> TaskKind:
    """A task kind (call, email, meeting, todo); todo when empty."""
    try:
        return TaskKind((value or "todo").strip().lower())
    except ValueError:
        raise InvalidValue("--kind", value, "must be one of " + ", ".join(TaskKind)) from None


def _row(conn: sqlite3.Connection, task_id: Any) -> dict[str, Any]:
    tid = row_id(str(task_id))
    if tid is None and not str(task_id).strip().isdigit():
        raise InvalidValue("task", task_id, "is not a task id")
    row = conn.execute("SELECT t.*, p.email FROM tasks t JOIN prospects p ON p.id ="
                       " t.prospect_id WHERE t.id = ?", (tid,)).fetchone()  # None: no row
    if row is None:
        raise NotFound("task", task_id)
    return _public(row)


def _public(row: sqlite3.Row | dict, today: date | None = None) -> dict[str, Any]:
    d = dict(row)
    day = today_local(today).isoformat()
    if d["done_at"]:
        state = "done"
    elif d["due_on"] and d["due_on"] < day:
        state = "overdue"
    elif d["due_on"] == day:
        state = "due today"
    else:
        state = "open"
    d["state"] = state
    return d


def _audited(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t.get(k) for k in ("kind", "text", "owner", "due_on", "snoozed_until",
                                  "done_at", "note", "source")}


def add(conn: sqlite3.Connection, actor: str, prospect: Any, text: str, *,
        due: str | None = None, owner: str | None = None, kind: str | None = None,
        source: str = "manual", enrollment_id: int | None = None,
        today: date | None = None) -> dict[str, Any]:
    """Create a task on a prospect (owner defaults to the prospect's owner), audited."""
    text = (text or "").strip()
    if not text:
        raise InvalidValue("TEXT", text, "must not be empty")
    kind_ = parse_kind(kind)
    due_on = parse_due(due, today=today)
    with transaction(conn):
        p = resolve(conn, prospect)
        who = (owner or "").strip() or p["owner"]
        ts = now()
        cur = conn.execute(
            "INSERT INTO tasks(prospect_id, owner, kind, text, due_on, source,"
            " enrollment_id, actor, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (p["id"], who, kind_.value, text, due_on, source, enrollment_id, actor, ts, ts))
        task = _row(conn, cur.lastrowid)
        audit.record(conn, actor, "create", "task", task["id"], None,
                     {k: v for k, v in _audited(task).items() if v is not None},
                     prospect_id=p["id"], at=ts)
    return task


def _change(conn: sqlite3.Connection, actor: str, task_id: Any, action: str,
            changes: dict[str, Any]) -> dict[str, Any]:
    with transaction(conn):
        before = _row(conn, task_id)
        cols = ", ".join(f"{k} = ?" for k in changes)
        conn.execute(f"UPDATE tasks SET {cols}, updated_at = ? WHERE id = ?",
                     [*changes.values(), now(), before["id"]])
        after = _row(conn, before["id"])
        b, a = audit.diff(_audited(before), _audited(after))
        audit.record(conn, actor, action, "task", before["id"], b, a,
                     prospect_id=before["prospect_id"])
    return after


def done(conn: sqlite3.Connection, actor: str, task_id: Any, *,
         note: str | None = None) -> dict[str, Any]:
    """Mark a task done (with an optional note); done twice is an error."""
    if _row(conn, task_id)["done_at"]:
        raise InvalidValue("task", task_id, "is already done (reopen it first)")
    changes: dict[str, Any] = {"done_at": now()}
    if note and note.strip():
        changes["note"] = note.strip()
    return _change(conn, actor, task_id, "done", changes)


def snooze(conn: sqlite3.Connection, actor: str, task_id: Any, until: str, *,
           today: date | None = None) -> dict[str, Any]:
    """Move an open task's due day to ``until`` (a day after today)."""
    day = parse_due(until, field="--until", today=today)
    if day is None or day <= today_local(today).isoformat():
        raise InvalidValue("--until", until, "must be a day after today")
    if _row(conn, task_id)["done_at"]:
        raise InvalidValue("task", task_id, "is done; reopen it to snooze it")
    return _change(conn, actor, task_id, "snooze", {"due_on": day, "snoozed_until": day})


def reopen(conn: sqlite3.Connection, actor: str, task_id: Any) -> dict[str, Any]:
    """Make a done task open again."""
    if not _row(conn, task_id)["done_at"]:
        raise InvalidValue("task", task_id, "is not done")
    return _change(conn, actor, task_id, "reopen",
                   {"done_at": None},  # pragma: no mutate: a column name; SQL ignores case
                   )


def list_tasks(conn: sqlite3.Connection, *, owner: str | None = None,
               prospect: Any = None, due: str | None = None, include_done: bool = False,
               today: date | None = None) -> list[dict[str, Any]]:
    """Open tasks (all with ``include_done``), overdue first, then by due day; tasks
    without a due day last."""
    where, params = [], []
    if not include_done:
        where.append("t.done_at IS NULL")
    if owner:
        where.append("t.owner = ?")
        params.append(owner)
    if prospect is not None:
        where.append("t.prospect_id = ?")
        params.append(resolve(conn, prospect)["id"])
    day = today_local(today)
    if due:
        if due not in DUE_FILTERS:
            raise InvalidValue("--due", due, "must be one of " + ", ".join(DUE_FILTERS))
        if due == "overdue":
            where.append("t.due_on < ?")  # pragma: no mutate: a name (no keyword for the rule)
            params.append(day.isoformat())
        elif due == "today":
            where.append("t.due_on <= ?")
            params.append(day.isoformat())
        else:
            where.append("t.due_on <= ?")
            params.append((day + timedelta(days=7)).isoformat())
        where.append("t.done_at IS NULL")
    sql = ("SELECT t.*, p.email FROM tasks t"
           " JOIN prospects p ON p.id = t.prospect_id"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY t.done_at IS NOT NULL, t.due_on IS NULL, t.due_on, t.id")
    return [_public(r, today) for r in conn.execute(sql, params)]
