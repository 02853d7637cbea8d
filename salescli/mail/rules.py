"""Status rules: what a recorded mail does to a prospect, as a small table.

``apply`` re-derives a prospect's mail-driven state from its whole mail history in
the order the mails were sent, so a first scan and any series of incremental scans
(a reply found before the mail it answers, a run killed halfway) end in the same
state. Rules only move forward, never out of won/lost, and never undo a person's
change: a manual stage move or email-status change is the new starting point, and
only mail recorded after it counts (so resetting a hard bounce sticks until a new
bounce arrives).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from salescli import pipeline, prospects
from salescli.enums import EmailStatus, InteractionKind, StageKind

ACTOR = "monitor"


class Event(StrEnum):
    OUTBOUND = "outbound"
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"


@dataclass(frozen=True)
class Rule:
    """When ``event`` happens: move ``stage_from`` → ``stage_to``; change the email status
    from one of ``status_from`` to ``status_to``; maybe set last_reply_at; maybe notify."""

    event: Event
    stage_from: str | None = None
    stage_to: str | None = None
    status_from: frozenset[EmailStatus] = frozenset()
    status_to: EmailStatus | None = None
    sets_last_reply: bool = False
    notify: str | None = None
    note: str | None = None


RULES: tuple[Rule, ...] = (
    Rule(Event.OUTBOUND, stage_from="lead", stage_to="contacted", note="first email sent"),
    Rule(Event.REPLY, stage_from="contacted", stage_to="replied",
         status_from=frozenset({EmailStatus.BOUNCED_SOFT}), status_to=EmailStatus.OK,
         sets_last_reply=True, notify="reply", note="reply received"),
    Rule(Event.HARD_BOUNCE, status_from=frozenset({EmailStatus.OK, EmailStatus.BOUNCED_SOFT}),
         status_to=EmailStatus.BOUNCED_HARD, notify="hard_bounce"),
    Rule(Event.SOFT_BOUNCE, status_from=frozenset({EmailStatus.OK}),
         status_to=EmailStatus.BOUNCED_SOFT),
    Rule(Event.AUTO_REPLY),
)
BY_EVENT = {r.event: r for r in RULES}
MAIL_KINDS = (InteractionKind.EMAIL_OUT, InteractionKind.EMAIL_IN, InteractionKind.AUTO_REPLY,
              InteractionKind.BOUNCE)
# Ties at the same second resolve the same way whatever order rows were inserted in.
_KIND_ORDER = {InteractionKind.EMAIL_OUT: 0, InteractionKind.EMAIL_IN: 1,
               InteractionKind.AUTO_REPLY: 2, InteractionKind.BOUNCE: 3}


def event_of(kind: str, detail: dict | None) -> Event:
    """The rule event of a recorded mail interaction."""
    if kind == InteractionKind.EMAIL_OUT:
        return Event.OUTBOUND
    if kind == InteractionKind.EMAIL_IN:
        return Event.REPLY
    if kind == InteractionKind.AUTO_REPLY:
        return Event.AUTO_REPLY
    return Event.HARD_BOUNCE if (detail or {}).get("bounce") == "hard" else Event.SOFT_BOUNCE


def notify_rule(event: Event) -> str | None:
    """The notification rule an event triggers, if any."""
    return BY_EVENT[event].notify


def _history(conn: sqlite3.Connection, prospect_id: int) -> list[tuple[str, Event, dict, int]]:
    """The prospect's mail in sent order: (occurred_at, event, detail, activity id of the
    recording, which orders it against people's changes)."""
    rows = conn.execute(
        "SELECT i.kind, i.occurred_at, i.message_id, i.detail, coalesce(a.id, 0) AS aid"
        " FROM interactions i LEFT JOIN activities a ON a.entity = 'interaction'"
        " AND a.entity_id = i.id AND a.action = 'create'"
        " WHERE i.prospect_id = ? AND i.actor = ? AND i.kind IN (?, ?, ?, ?)",
        (prospect_id, ACTOR, *MAIL_KINDS)).fetchall()
    rows = sorted(rows, key=lambda r: (r["occurred_at"], _KIND_ORDER[r["kind"]],
                                       r["message_id"] or ""))
    out = []
    for r in rows:
        detail = json.loads(r["detail"]) if r["detail"] else {}
        out.append((r["occurred_at"], event_of(r["kind"], detail), detail, r["aid"]))
    return out


def _baselines(conn: sqlite3.Connection, prospect_id: int) -> tuple[int, int, str, str | None]:
    """What people last did: (activity id of their last stage move, activity id of their
    last email-status change, that status, its reason); 0 ids when never."""
    move_id, status_id, status, reason = 0, 0, EmailStatus.OK, None
    # ``+entity``: look activities up by prospect (few rows), not by entity (most rows).
    for row in conn.execute(
            "SELECT id, action, after FROM activities WHERE prospect_id = ?"
            " AND +entity = 'prospect' AND actor != ? AND action != 'create'"
            " ORDER BY id DESC", (prospect_id, ACTOR)):
        if not move_id and row["action"] == "move":
            move_id = row["id"]
        if not status_id and row["after"] and '"email_status"' in row["after"]:
            after = json.loads(row["after"])
            if "email_status" in after:
                status_id, status = row["id"], after["email_status"]
                reason = after.get("bounce_reason")
        if move_id and status_id:
            break
    return move_id, status_id, status, reason


def apply(conn: sqlite3.Connection, prospect_id: int,
          stages: dict[str, sqlite3.Row | None] | None = None) -> dict[str, int]:
    """Bring one prospect's stage, email status and last reply in line with its mail
    history. Call inside the transaction that recorded the mail (``stages`` may cache
    stage rows within it). Returns counts."""
    counts = {"moves": 0, "status_changes": 0}
    history = _history(conn, prospect_id)
    if not history:
        return counts
    p = conn.execute(
        "SELECT p.*, s.name AS stage, s.kind AS stage_kind, s.position AS stage_position"
        " FROM prospects p JOIN stages s ON s.id = p.stage_id WHERE p.id = ?",
        (prospect_id,)).fetchone()
    if p is None:
        return counts
    stages = {} if stages is None else stages
    moved_by_person, status_by_person, status, reason = _baselines(conn, prospect_id)
    # Stages: replay forward-only moves, each at the time of the mail that caused it.
    stage, position, entered = p["stage"].lower(), p["stage_position"], p["stage_entered_at"]
    stage_kind = p["stage_kind"]
    for at, event, _detail, aid in history:
        rule = BY_EVENT[event]
        if aid <= moved_by_person or not rule.stage_to or stage_kind != StageKind.OPEN:
            continue
        if stage != rule.stage_from:
            continue
        if rule.stage_to not in stages:
            stages[rule.stage_to] = conn.execute(
                "SELECT * FROM stages WHERE name = ? AND removed_at IS NULL",
                (rule.stage_to,)).fetchone()
        target = stages[rule.stage_to]
        if target is None or target["position"] <= position:
            continue
        when = max(at, entered)
        pipeline.move(conn, ACTOR, prospect_id, target["name"], note=rule.note, at=when,
                      require_reason=False)
        stage, position, entered = target["name"].lower(), target["position"], when
        stage_kind = target["kind"]
        counts["moves"] += 1
    # Email status: fold the events after the last manual change; apply the end state.
    last_reply = p["last_reply_at"]
    for at, event, detail, aid in history:
        rule = BY_EVENT[event]
        if rule.sets_last_reply and (last_reply is None or at > last_reply):
            last_reply = at
        if aid <= status_by_person or not rule.status_to or status not in rule.status_from:
            continue
        status = rule.status_to
        reason = detail.get("diagnostic") if status != EmailStatus.OK else None
    fields = {"email_status": str(status), "bounce_reason": reason, "last_reply_at": last_reply}
    changed = {k: v for k, v in fields.items() if p[k] != v}
    if changed:
        prospects.set_fields(conn, ACTOR, prospect_id, changed)
        counts["status_changes"] += 1
    return counts
