"""The morning digest: each owner's overdue and due-today tasks and the sequence replies
waiting for them, one mail a day through the notification outbox.

It lives with the sequences (layer 3) because it reads tasks and enrollments and queues
into ``notify``; delivery, retries and the once-only guarantee are the outbox's.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

from salescli.core.enums import Rule
from salescli.notify import outbox
from salescli.tasks import store as tasks


def owners(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Enabled users with an address."""
    return [dict(r) for r in conn.execute(
        "SELECT username, email FROM users WHERE disabled = 0 AND email IS NOT NULL"
        " AND email != '' ORDER BY username"  # pragma: no mutate: SQL ignores case
    )]


def waiting_replies(conn: sqlite3.Connection, owner: str) -> list[dict[str, Any]]:
    """Prospects of ``owner`` whose sequence ended with a reply nobody has answered yet
    (no mail, call or meeting of ours recorded after it)."""
    return [dict(r) for r in conn.execute(
        "SELECT p.id, p.email, p.name, q.name AS sequence, p.last_reply_at"
        " FROM enrollments e JOIN prospects p ON p.id = e.prospect_id"
        " JOIN sequences q ON q.id = e.sequence_id"
        " WHERE e.state = 'replied' AND p.owner = ? AND p.archived_at IS NULL"
        " AND p.last_reply_at IS NOT NULL"
        " AND coalesce(p.last_contacted_at, '') < p.last_reply_at"
        " ORDER BY p.last_reply_at", (owner,))]


def compose(conn: sqlite3.Connection, owner: str, today: date) -> str | None:
    """The digest text for one owner, or None when there is nothing to say."""
    due = tasks.list_tasks(conn, owner=owner, due="today", today=today)
    replies = waiting_replies(conn, owner)
    if not due and not replies:
        return None
    lines = [f"Good morning {owner}, here is {today.isoformat()}.", ""]
    overdue = [t for t in due if t["state"] == "overdue"]
    today_ = [t for t in due if t["state"] != "overdue"]
    for title, rows in (("Overdue tasks", overdue), ("Due today", today_)):
        if rows:
            lines.append(f"{title} ({len(rows)}):")
            lines += [f"  #{t['id']} {t['kind']}: {t['text']} ({t['email']}"
                      + (f", due {t['due_on']}" if t["state"] == "overdue" else "") + ")"
                      for t in rows]
            lines.append("")
    if replies:
        lines.append(f"Sequence replies waiting for you ({len(replies)}):")
        lines += [f"  {r['name'] or r['email']} <{r['email']}> replied {r['last_reply_at']}"
                  f" ({r['sequence']})" for r in replies]
        lines.append("")
    lines.append("salescli tasks list --owner " + owner)
    return "\n".join(lines)


def enqueue_morning(conn: sqlite3.Connection, *, today: date | None = None) -> int:
    """Queue today's digest for every owner who has something in it (once per owner per
    day); returns how many were queued."""
    day = tasks.today_local(today)
    n = 0
    for user in owners(conn):
        text = compose(conn, user["username"], day)
        if text is None:
            continue
        subject = f"[salescli] Your day: {text.count(chr(10) + '  ')} item(s)"
        if outbox.enqueue_mail(conn, rule=Rule.MORNING, recipient=user["email"],
                               event_key=f"morning:{user['username']}:{day.isoformat()}",
                               subject=subject, text=text):
            n += 1
    return n
