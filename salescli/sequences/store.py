"""Sequences in the database: load a file (create or update), list, show, pause, resume.

Steps are numbered by their place in the file. A step someone has already reached keeps
its number: a load that would drop it (fewer steps than an enrollment has done) is refused,
so no enrollment ever finds a different step under the number it reached.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.enums import EnrollmentState
from salescli.core.errors import Conflict, InvalidValue, NotFound
from salescli.core.timeutil import now
from salescli.sequences.plans import Plan, Step, read_file

LIST_COLUMNS = ["name", "steps", "window", "days", "timezone", "paused_at",
                *(s.value for s in EnrollmentState)]


def get(conn: sqlite3.Connection, name: str) -> dict[str, Any]:
    """The sequence called ``name`` (case-insensitive) or NotFound."""
    row = conn.execute("SELECT * FROM sequences WHERE name = ?", (str(name).strip(),)) \
        .fetchone()
    if row is None:
        raise NotFound("sequence", name)
    return dict(row)


# The columns in Step's order, read by position (a sqlite3.Row's keys ignore case).
_STEPS = ("SELECT position, wait, subject, body, task, text FROM sequence_steps"
          " WHERE sequence_id = ? ORDER BY position")


def steps(conn: sqlite3.Connection, sequence_id: int) -> list[Step]:
    """The steps of a sequence in order."""
    return [Step(*r) for r in conn.execute(_STEPS, (sequence_id,))]


def plan_of(conn: sqlite3.Connection, seq: dict[str, Any]) -> Plan:
    """A stored sequence as a Plan (for rendering and scheduling)."""
    return Plan(name=seq["name"], window=seq["window"], days=seq["days"],
                timezone=seq["timezone"], steps=steps(conn, seq["id"]))


def _summary(plan: Plan) -> dict[str, Any]:
    return {"name": plan.name, "window": plan.window, "days": plan.days,
            "timezone": plan.timezone,
            "steps": [{k: v for k, v in vars(s).items() if v is not None}
                      for s in plan.steps]}


def load(conn: sqlite3.Connection, actor: str, path: str | Path) -> dict[str, Any]:
    """Create or update the sequence a file describes; returns {name, created, steps}."""
    plan = read_file(path)
    with transaction(conn):
        row = conn.execute("SELECT * FROM sequences WHERE name = ?", (plan.name,)).fetchone()
        ts = now()
        if row is None:
            sid = conn.execute(
                "INSERT INTO sequences(name, window, days, timezone, source, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (plan.name, plan.window, plan.days, plan.timezone, str(path), ts, ts)).lastrowid
            before = None
        else:
            sid = row["id"]
            reached = conn.execute("SELECT max(step) FROM enrollments WHERE sequence_id = ?",
                                   (sid,)).fetchone()[0] or 0
            if len(plan.steps) < reached:
                raise Conflict(
                    f"sequence {plan.name!r}: an enrollment has done {reached} step(s); the "
                    f"file has {len(plan.steps)}: steps already reached cannot be removed "
                    "(load it under a new name instead)")
            before = _summary(plan_of(conn, dict(row)))
            conn.execute("UPDATE sequences SET window = ?, days = ?, timezone = ?, source = ?,"
                         " updated_at = ? WHERE id = ?",
                         (plan.window, plan.days, plan.timezone, str(path), ts, sid))
            conn.execute("DELETE FROM sequence_steps WHERE sequence_id = ?", (sid,))
        conn.executemany(
            "INSERT INTO sequence_steps(sequence_id, position, wait, subject, body, task, text)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(sid, s.position, s.wait, s.subject, s.body, s.task, s.text) for s in plan.steps])
        after = _summary(plan)
        if before != after:
            audit.record(conn, actor, "load" if before is None else "update", "sequence", sid,
                         before, after, at=ts)
    return {"name": plan.name, "created": row is None, "steps": len(plan.steps),
            "changed": before != after}


# Read by position (a sqlite3.Row's keys ignore case: a misspelt key could not fail).
_LIST = ("SELECT s.id, s.name, (SELECT count(*) FROM sequence_steps WHERE sequence_id = s.id),"
         " s.window, s.days, s.timezone, s.paused_at FROM sequences s ORDER BY s.name")


def list_sequences(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every sequence with its step count and enrollments by state."""
    out = []
    for sid, name, n, window, days, timezone, paused_at in conn.execute(_LIST):
        counts = dict(conn.execute("SELECT state, count(*) FROM enrollments"
                                   " WHERE sequence_id = ? GROUP BY state", (sid,))
                      .fetchall())
        out.append({"name": name, "steps": n, "window": window, "days": days,
                    "timezone": timezone, "paused_at": paused_at,
                    **{s.value: counts.get(s.value, 0) for s in EnrollmentState}})
    return out


def show(conn: sqlite3.Connection, name: str) -> dict[str, Any]:
    """A sequence with its steps."""
    seq = get(conn, name)
    return {**{k: seq[k] for k in ("name", "window", "days", "timezone", "paused_at",
                                   "source", "created_at", "updated_at")},
            "steps": [{k: v for k, v in vars(s).items() if v is not None}
                      for s in steps(conn, seq["id"])]}


def set_paused(conn: sqlite3.Connection, actor: str, name: str, paused: bool) -> dict:
    """Pause (nothing is sent; due steps wait) or resume a sequence, audited."""
    with transaction(conn):
        seq = get(conn, name)
        if bool(seq["paused_at"]) == paused:
            raise InvalidValue("sequence", seq["name"],
                               "is already paused" if paused else "is not paused")
        ts = now() if paused else None
        conn.execute(  # the pragma: SQL keywords ignore case, an equivalent mutant
            "UPDATE sequences SET paused_at = ?, updated_at = ? WHERE id = ?",  # pragma: no mutate
            (ts, now(), seq["id"]))
        audit.record(conn, actor, "pause" if paused else "resume", "sequence", seq["id"],
                     {"paused_at": seq["paused_at"]}, {"paused_at": ts})
    return get(conn, name)
