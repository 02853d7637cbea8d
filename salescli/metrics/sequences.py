"""Sequence analytics: per sequence and step, mails sent and how enrollments ended there.

An ending (replied, bounced, unsubscribed) counts at the last step that was sent or refused
before it, so "replied at step 2" means the person answered after the second mail.
"""

from __future__ import annotations

import sqlite3
from typing import Any

COLUMNS = ["sequence", "step", "sent", "replied", "bounced", "unsubscribed", "reply_rate"]


def by_step(conn: sqlite3.Connection, *, start: str | None = None,
            end: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``COLUMNS``: mails sent in [start, end) and endings in [start, end)."""
    lo, hi = start or "", end or "9999"
    sent = {(r[0], r[1]): r[2] for r in conn.execute(
        "SELECT q.name, s.step, count(*) FROM sends s JOIN enrollments e ON e.id ="
        " s.enrollment_id JOIN sequences q ON q.id = e.sequence_id WHERE s.state = 'sent'"
        " AND s.sent_at >= ? AND s.sent_at < ? GROUP BY 1, 2", (lo, hi))}
    ended: dict[tuple[str, int], dict[str, int]] = {}
    for name, step, state, n in conn.execute(
            "SELECT q.name, coalesce((SELECT max(step) FROM sends WHERE enrollment_id = e.id"
            " AND state IN ('sent', 'failed')), 0), e.state, count(*) FROM enrollments e"
            " JOIN sequences q ON q.id = e.sequence_id WHERE e.state IN"
            " ('replied', 'bounced', 'unsubscribed') AND e.ended_at >= ? AND e.ended_at < ?"
            " GROUP BY 1, 2, 3", (lo, hi)):
        ended.setdefault((name, step), {})[state] = n
    steps = {(r[0], r[1]) for r in conn.execute(
        "SELECT q.name, t.position FROM sequence_steps t JOIN sequences q"
        " ON q.id = t.sequence_id WHERE t.task IS NULL")}
    rows = []
    for key in sorted(steps | set(sent) | set(ended), key=lambda k: (k[0].lower(), k[1])):
        outcome = ended.get(key, {})
        n = sent.get(key, 0)
        replied = outcome.get("replied", 0)
        rows.append({"sequence": key[0], "step": key[1], "sent": n, "replied": replied,
                     "bounced": outcome.get("bounced", 0),
                     "unsubscribed": outcome.get("unsubscribed", 0),
                     "reply_rate": round(replied / n, 4) if n else None})
    return rows
