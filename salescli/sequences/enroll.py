"""Enrolment: who is in a sequence, who was skipped and why, status and preview.

A prospect is skipped (with a reason, counted) when already enrolled in that sequence,
suppressed, hard-bounced, archived, won or lost, or when its owner has no email address to
send from. Each step goes out from the owner's address at enrolment, so a thread keeps
one sender.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.enums import EmailStatus, EnrollmentState, StageKind
from salescli.core.errors import InvalidValue, NotFound
from salescli.core.timeutil import iso, now
from salescli.pipeline import prospects, suppressions
from salescli.sequences import plans, store
from salescli.sequences.schedule import Window, due_after, utc

STATUS_COLUMNS = ["id", "email", "state", "step", "next_due_at", "reason", "sender",
                  "last_sent_at", "enrolled_at", "ended_at"]


def owner_of(conn: sqlite3.Connection, owner: str | None) -> dict[str, Any] | None:
    """The owner's user (username, email) when it has an address to send from."""
    if not owner:
        return None
    row = conn.execute("SELECT username, email FROM users WHERE username = ? AND disabled = 0"
                       " AND email IS NOT NULL AND email != ''", (owner,)).fetchone()
    if row:
        return {"username": row["username"], "name": row["username"], "email": row["email"]}
    return None


def _candidates(conn: sqlite3.Connection, keys: Iterable[str], stage: str | None,
                tag: str | None, search: str | None) -> list[dict[str, Any]]:
    keys = list(keys)
    if keys and (stage or tag or search):
        raise InvalidValue("ID|EMAIL", keys[0], "cannot be combined with --stage, --tag or "
                           "--search")
    if keys:
        return [prospects.resolve(conn, k) for k in keys]
    if not (stage or tag or search):
        raise InvalidValue("prospects", "", "name some: ID|EMAIL…, --stage, --tag or --search")
    found = list(prospects.list_prospects(conn, stage=stage, tag=tag, search=search))
    return found


def enroll(conn: sqlite3.Connection, actor: str, name: str, keys: Iterable[str] = (), *,
           stage: str | None = None, tag: str | None = None, search: str | None = None,
           now_: datetime | str | None = None) -> dict[str, Any]:
    """Enroll prospects; returns {"enrolled": n, "skipped": {reason: n}}."""
    moment = utc(now_)
    with transaction(conn):
        seq = store.get(conn, name)
        plan = store.plan_of(conn, seq)
        window = Window.of(plan.window, plan.days, plan.timezone)
        first_due = iso(due_after(moment, plan.steps[0].wait, window))
        people = _candidates(conn, keys, stage, tag, search)
        kinds = {r["name"].lower(): r["kind"] for r in conn.execute(
            "SELECT name, kind FROM stages")}
        already = {r[0] for r in conn.execute(
            "SELECT prospect_id FROM enrollments WHERE sequence_id = ?", (seq["id"],))}
        blocked = suppressions.blocked_prospects(conn, [(p["id"], p["email"]) for p in people])
        skipped: Counter[str] = Counter()
        rows, entries, seen = [], [], set()
        ts = iso(moment)
        for p in people:
            owner = owner_of(conn, p["owner"])
            reason = None
            if p["id"] in already or p["id"] in seen:
                reason = "already enrolled"
            elif p["id"] in blocked:

                reason = "suppressed"
            elif p["email_status"] == EmailStatus.BOUNCED_HARD:
                reason = "bounced"
            elif p["archived_at"]:
                reason = "archived"
            elif kinds.get(str(p["stage"]).lower()) in (StageKind.WON, StageKind.LOST):
                reason = kinds[str(p["stage"]).lower()]
            elif owner is None:
                reason = "owner has no email address"
            if reason:
                skipped[reason] += 1
                continue
            seen.add(p["id"])
            rows.append((seq["id"], p["id"], owner["email"], first_due,
                         secrets.token_urlsafe(12), ts, ts))
        if rows:
            cur = conn.cursor()
            for row in rows:
                cur.execute(
                    "INSERT INTO enrollments(sequence_id, prospect_id, sender, next_due_at,"
                    " token, enrolled_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
                entries.append(audit.Entry("enroll", "enrollment", cur.lastrowid, None,
                                           {"sequence": seq["name"], "sender": row[2],
                                            "next_due_at": first_due}, prospect_id=row[1]))
            audit.record_many(conn, actor, entries, at=now())
    return {"enrolled": len(rows), "skipped": dict(sorted(skipped.items()))}


def end(conn: sqlite3.Connection, actor: str, enrollment: dict[str, Any],
        state: EnrollmentState, reason: str, *, at: str | None = None) -> None:
    """End an active enrollment with a state and a reason, audited (in the caller's
    transaction)."""
    ts = at or now()
    conn.execute("UPDATE enrollments SET state = ?, reason = ?, ended_at = ?, next_due_at = NULL,"
                 " updated_at = ? WHERE id = ? AND state = 'active'",
                 (state.value, reason, ts, ts, enrollment["id"]))
    audit.record(conn, actor, "end", "enrollment", enrollment["id"], {"state": "active"},
                 {"state": state.value, "reason": reason}, prospect_id=enrollment["prospect_id"],
                 at=ts)


def unenroll(conn: sqlite3.Connection, actor: str, name: str, keys: Iterable[str]) -> int:
    """End the active enrollments of these prospects in the sequence; returns how many."""
    keys = list(keys)
    if not keys:
        raise InvalidValue("ID|EMAIL", "", "name at least one prospect")
    n = 0
    with transaction(conn):
        seq = store.get(conn, name)
        for key in keys:
            p = prospects.resolve(conn, key)
            row = conn.execute("SELECT * FROM enrollments WHERE sequence_id = ? AND"
                               " prospect_id = ?", (seq["id"], p["id"])).fetchone()
            if row is None:
                raise NotFound(f"enrollment in {seq['name']!r} of", p["email"])
            if row["state"] == EnrollmentState.ACTIVE:
                end(conn, actor, dict(row), EnrollmentState.STOPPED, f"unenrolled by {actor}")
                n += 1
    return n


def status(conn: sqlite3.Connection, name: str) -> list[dict[str, Any]]:
    """Each enrollment: steps done of how many, next send, state and why it ended."""
    seq = store.get(conn, name)
    total = conn.execute(  # (read by position: the result column's name never matters)
        "SELECT count(*) FROM sequence_steps WHERE sequence_id = ?",  # pragma: no mutate
        (seq["id"],)).fetchone()[0]
    return [{**dict(r), "step": f"{r['step']}/{total}"} for r in conn.execute(
        "SELECT e.id, p.email, e.state, e.step, e.next_due_at, e.reason, e.sender,"
        " (SELECT max(sent_at) FROM sends WHERE enrollment_id = e.id) AS last_sent_at,"
        " e.enrolled_at, e.ended_at FROM enrollments e JOIN prospects p ON p.id = e.prospect_id"
        " WHERE e.sequence_id = ? ORDER BY e.id", (seq["id"],))]


def scope_for(conn: sqlite3.Connection, prospect: dict[str, Any],
              sender: str | None = None) -> dict[str, Any]:
    """The template scope of a prospect: its fields, its owner, its company."""
    owner = owner_of(conn, prospect.get("owner")) or {
        "username": prospect.get("owner"), "email": sender,
        "name": prospect.get("owner"),  # pragma: no mutate: context() falls back to username
    }
    return plans.context(prospect, owner)


def preview(conn: sqlite3.Connection, name: str, key: str) -> list[dict[str, Any]]:
    """Every step rendered for one prospect (TemplateError names the step and variable)."""
    seq = store.get(conn, name)
    plan = store.plan_of(conn, seq)
    p = prospects.resolve(conn, key)
    scope = scope_for(conn, p)
    out, subject = [], None
    for step in plan.steps:
        if step.is_email:
            subject, body = plans.render_step(plan.name, step, scope, subject)
            out.append({"step": step.position, "wait": step.wait, "kind": "email",
                        "subject": subject, "body": body})
        else:
            out.append({"step": step.position, "wait": step.wait, "kind": "task",
                        "subject": None, "body": task_text(plan.name, step, scope)})
    return out


def task_text(plan_name: str, step: plans.Step, scope: dict[str, Any]) -> str:
    """The text of a task step (its ``text`` template, else a sentence naming it)."""
    if step.text:
        return plans.render(step.text, scope, f"sequence {plan_name!r} step {step.position} "
                            "text")
    who = scope["prospect"].get("name") or scope["prospect"].get("email")
    return f"{step.task} {who} ({plan_name}, step {step.position})"
