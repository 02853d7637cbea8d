"""Status rules: what a recorded mail does to a prospect, as a small table.

``apply_new`` folds a batch's new mail into each prospect's stored state when all of it
was sent after everything recorded before (the common case, and a scan's cost then does
not grow with the history); otherwise it falls back to ``apply``, which re-derives a
prospect's mail-driven state from its whole mail history in
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
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from salescli.core.db import transaction
from salescli.core.enums import EmailStatus, InteractionKind, StageKind
from salescli.pipeline import prospects
from salescli.pipeline.stages import move_in_transaction

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


# ``event_of`` of a mail interaction without detail (every kind but a bounce's: a bounce
# without detail is a soft one).
_EVENTS = {kind: event_of(kind, None) for kind in MAIL_KINDS}


def notify_rule(event: Event) -> str | None:
    """The notification rule an event triggers, if any."""
    return BY_EVENT[event].notify


# ``+i.kind``: read a few prospects' mail by prospect (interactions_prospect). Without
# it, SQLite prefers interactions_kind for more than a handful of prospects and reads
# every mail interaction of the table per call: a first scan replaying out-of-order mail
# then grows with the square of the mailbox (7× the work per message at 500k vs 100k).
_HISTORY = ("SELECT i.prospect_id, i.kind, i.occurred_at, i.message_id, i.detail,"
            " coalesce(a.id, 0) AS aid"
            " FROM interactions i LEFT JOIN activities a ON a.entity = 'interaction'"
            " AND a.entity_id = i.id AND a.action = 'create'"
            " WHERE i.prospect_id IN ({}) AND i.actor = ? AND +i.kind IN (?, ?, ?, ?)")
# People's changes to prospects, from their own small partial index (m012): the monitor's
# activities (most rows) are not in it.
_PEOPLE = ("SELECT prospect_id, id, action, after FROM activities INDEXED BY activities_people"
           " WHERE prospect_id IN ({}) AND entity = 'prospect' AND actor != 'monitor'"
           " AND action != 'create' ORDER BY prospect_id, id DESC")
# Where a replay's stages start: the stage a person, an import or the creation last put
# each prospect in (the monitor's own moves are what the replay derives again).
_STARTS = ("SELECT c.prospect_id, s.name, s.position, s.kind FROM stage_changes c"
           " JOIN stages s ON s.id = c.to_stage_id WHERE c.id IN (SELECT max(id)"
           " FROM stage_changes WHERE prospect_id IN ({}) AND (actor != ?"
           " OR from_stage_id IS NULL) GROUP BY prospect_id)")
_PROSPECTS = ("SELECT p.*, s.name AS stage, s.kind AS stage_kind, s.position AS stage_position"
              " FROM prospects p JOIN stages s ON s.id = p.stage_id WHERE p.id IN ({})")
_CHUNK = 500
History = list[tuple[str, Event, dict, int]]
Baseline = tuple[int, int, str, str | None]


# For prospects no person ever changed, the order against people's changes does not
# matter: no join with the (large) activities table.
_PLAIN_HISTORY = ("SELECT i.prospect_id, i.kind, i.occurred_at, i.message_id, i.detail,"
                  f" {1 << 62} AS aid FROM interactions i"
                  " WHERE i.prospect_id IN ({}) AND i.actor = ? AND +i.kind IN (?, ?, ?, ?)")


def _histories(conn: sqlite3.Connection, ids: list[int],
               plain: bool = False) -> dict[int, History]:
    """Each prospect's mail in sent order: (occurred_at, event, detail, activity id of the
    recording, which orders it against people's changes; any large number when
    ``plain``: nobody changed these prospects)."""
    by_pid: dict[int, list] = {}
    if not ids:
        return {}
    sql = _PLAIN_HISTORY if plain else _HISTORY  # pragma: no mutate (speed only: the same events)
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: a replay reads every mail of its prospects
    for r in cur.execute(sql.format(",".join("?" * len(ids))), (*ids, ACTOR, *MAIL_KINDS)):
        by_pid.setdefault(r[0], []).append(r)
    out = {}
    order, events = _KIND_ORDER, _EVENTS
    for pid, rows in by_pid.items():
        rows.sort(key=lambda r: (r[2], order[r[1]], r[3] or ""))
        history = []
        for _pid, kind, occurred_at, _mid, detail, aid in rows:
            if detail:
                detail = json.loads(detail)
                if detail.get("other_address"):
                    continue  # a bounce of an other address: history only, as when folded
                event = event_of(kind, detail)
            else:
                detail = {}
                event = events[kind]
            history.append((occurred_at, event, detail, aid))
        out[pid] = history
    return out


def _baselines_many(conn: sqlite3.Connection, ids: list[int]) -> dict[int, Baseline]:
    """What people last did to each prospect: (activity id of their last stage move,
    activity id of their last email-status change, that status, its reason); 0 ids when
    never. Prospects nobody touched are left out."""
    rows: dict[int, list] = {}
    if not ids:
        return {}
    for r in conn.execute(_PEOPLE.format(",".join("?" * len(ids))), ids):
        rows.setdefault(r[0], []).append(r)
    return {pid: _baseline(found) for pid, found in rows.items()}


def _baseline(rows: list[sqlite3.Row]) -> Baseline:
    """One prospect's baseline from its people activities, newest first."""
    move_id, status_id, status, reason = 0, 0, EmailStatus.OK, None
    for _pid, aid, action, after_text in rows:  # _PEOPLE's columns, by position
        if not move_id and action == "move":
            move_id = aid
        if not status_id and after_text and '"email_status"' in after_text:
            after = json.loads(after_text)
            if "email_status" in after:
                status_id, status = aid, after["email_status"]
                reason = after.get("bounce_reason")
        if move_id and status_id:
            break
    return move_id, status_id, status, reason


_NOBODY: Baseline = (0, 0, EmailStatus.OK, None)


def apply(conn: sqlite3.Connection, prospect_id: int,
          stages: dict[str, dict | None] | None = None) -> dict[str, int]:
    """Bring one prospect's stage, email status and last reply in line with its mail
    history. Call inside the transaction that recorded the mail (``stages`` may cache
    stage rows within it). Returns counts."""
    return apply_many(conn, [prospect_id], stages)


def apply_many(conn: sqlite3.Connection, prospect_ids: Iterable[int],
               stages: dict[str, dict | None] | None = None) -> dict[str, int]:
    """``apply`` to each prospect in id order, reading their histories, rows and people's
    changes a few hundred prospects per query. Returns the summed counts."""
    counts = {"moves": 0, "status_changes": 0}
    stages = {} if stages is None else stages
    ids = sorted(set(prospect_ids))
    if not conn.in_transaction:
        with transaction(conn):
            return apply_many(conn, ids, stages)
    for i in range(0, len(ids), _CHUNK):
        part = ids[i:i + _CHUNK]
        # The reads of one prospect are unaffected by another's writes, so they can
        # all come first.
        people = _baselines_many(conn, part)
        histories = _histories(conn, [pid for pid in part if pid in people])
        histories.update(_histories(conn, [pid for pid in part if pid not in people],
                                    # (speed only: nobody's change to order these against)
                                    plain=True,  # pragma: no mutate
                                    ))
        marks = ",".join("?" * len(part))
        rows = {r["id"]: r for r in map(dict, conn.execute(_PROSPECTS.format(marks), part))}
        starts = {r[0]: (r[1].lower(), r[2], r[3])
                  for r in conn.execute(_STARTS.format(marks), (*part, ACTOR))}
        for pid in part:
            history, p = histories.get(pid), rows.get(pid)
            if history and p is not None:
                _derive(conn, p, history, people.get(pid, _NOBODY), stages, counts,
                        starts.get(pid))
    return counts


NewMail = list[tuple[str, str, str | None, dict | None]]  # occurred_at, kind, message-id, detail


def apply_new(conn: sqlite3.Connection, new: dict[int, NewMail], before: dict[int, str | None],
              stages: dict[str, dict | None] | None = None) -> dict[str, int]:
    """Bring prospects in line with mail just recorded (``new``, per prospect), inside
    the recording transaction. ``before`` holds each prospect's latest interaction time
    from before this batch: when all its new mail is later, the new mail alone is
    folded into the stored stage and status (what a replay of the whole history would
    end in); when some is not (mail found out of order), the whole history is replayed."""
    counts = {"moves": 0, "status_changes": 0}
    stages = {} if stages is None else stages
    replay: list[int] = []
    fold: dict[int, History] = {}
    for pid, mail in new.items():
        if not mail:
            continue
        mail = sorted(mail, key=lambda m: (m[0], _KIND_ORDER[m[1]], m[2] or ""))
        prior = before.get(pid)
        if prior is not None and mail[0][0] <= prior:
            replay.append(pid)
            continue
        # New rows come after every person's change: their order mark is "latest".
        fold[pid] = [(at, event_of(kind, detail), detail or {}, _AFTER_EVERYTHING)
                     for at, kind, _mid, detail in mail]
    ids = sorted(fold)
    for i in range(0, len(ids), _CHUNK):
        part = ids[i:i + _CHUNK]
        rows = conn.execute(_PROSPECTS.format(",".join("?" * len(part))), part)
        for p in map(dict, rows):
            baseline = (0, 0, p["email_status"], p["bounce_reason"])
            _derive(conn, p, fold[p["id"]], baseline, stages, counts)
    for key, n in apply_many(conn, replay, stages).items():
        counts[key] += n
    return counts


_AFTER_EVERYTHING = 1 << 62


def _derive(conn: sqlite3.Connection, p: sqlite3.Row, history: History, baseline: Baseline,
            stages: dict[str, dict | None], counts: dict[str, int],
            start: tuple[str, int, str] | None = None) -> None:
    """Replay one prospect's history; write what changes. The stages are replayed from
    ``start`` (a whole history: where a person last put the prospect, so that mail found
    late is judged in the order it was sent, as one scan of it all would), else from the
    current row (new mail, all of it later than what was recorded)."""
    p = dict(p)  # a plain dict: a misspelt key fails, whatever its case (a Row's ignore it)
    prospect_id = p["id"]
    moved_by_person, status_by_person, status, reason = baseline
    # Stages: replay forward-only moves; the prospect moves (at the time of the mail that
    # caused it) only where the replay goes past the stage it is in.
    position, entered, stage_kind = p["stage_position"], p["stage_entered_at"], p["stage_kind"]
    replayed, reached, replayed_kind = start or (p["stage"].lower(), position, stage_kind)
    for at, event, _detail, aid in history:
        rule = BY_EVENT[event]
        if aid <= moved_by_person or not rule.stage_to or replayed_kind != StageKind.OPEN:
            continue
        if replayed != rule.stage_from:
            continue
        if rule.stage_to not in stages:
            row = conn.execute("SELECT * FROM stages WHERE name = ? AND removed_at IS NULL",
                               (rule.stage_to,)).fetchone()
            stages[rule.stage_to] = dict(row) if row else None  # a dict: keys are exact
        target = stages[rule.stage_to]
        if target is None or target["position"] <= reached:
            continue
        replayed, reached = target["name"].lower(), target["position"]
        replayed_kind = target["kind"]
        if target["position"] <= position or stage_kind != StageKind.OPEN:
            continue
        when = max(at, entered)
        # The library's move inside our transaction: no savepoint, no second stage lookup.
        move_in_transaction(conn, ACTOR, prospect_id, target, note=rule.note,
                                     reason=None, at=when, require_reason=False)
        position, entered, stage_kind = target["position"], when, target["kind"]
        counts["moves"] += 1
    # Email status: fold the events after the last manual change; apply the end state.
    last_reply = p["last_reply_at"]
    for at, event, detail, aid in history:
        rule = BY_EVENT[event]
        if rule.sets_last_reply:
            last_reply = max(at, last_reply or at)
        if aid <= status_by_person or not rule.status_to or status not in rule.status_from:
            continue
        status = rule.status_to
        reason = detail.get("diagnostic") if status != EmailStatus.OK else None
    fields = {"email_status": str(status), "bounce_reason": reason, "last_reply_at": last_reply}
    changed = {k: v for k, v in fields.items() if p[k] != v}
    if changed:
        prospects.write_fields(conn, ACTOR, prospect_id, {k: p[k] for k in changed}, changed)
        counts["status_changes"] += 1


