"""``salescli send``: every due step of every active enrollment, over SMTP, never twice.

The outbox discipline of ``salescli.notify.outbox``, with a ledger (``sends``):

1. In one transaction per chunk, each due enrollment is checked against the exit rules
   (``exits``), its window and its sender's daily cap; then a ``pending`` sends row with
   the Message-ID the mail will carry is committed. No mail leaves before its row exists.
2. The mails go to the SMTP server.
3. In one transaction: each accepted mail's row becomes ``sent``, its enrollment moves on
   and an ``email_out`` interaction with our Message-ID is recorded (so the scanner's copy
   from the Sent folder is the same message, not a second one).

A crash between 1 and 3 leaves ``pending`` rows: the next run sends them again with the
same Message-ID (receivers drop the duplicate) after checking the exit rules again. The
job lock (``salescli.ops.runner``) keeps a second sender out. Step 2 runs on one SMTP
thread while the next chunk is prepared; when a sender has a minimum gap, chunks are one
mail and nothing overlaps, so the exit rules are read just before each mail goes out.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.enums import (
    EmailStatus,
    EnrollmentState,
    InteractionKind,
    SendState,
    SuppressionSource,
)
from salescli.core.errors import SalescliError
from salescli.core.faults import failpoint
from salescli.core.timeutil import iso
from salescli.pipeline import interactions, prospects, suppressions, unsubscribe
from salescli.sequences import compose, enroll, exits, plans
from salescli.sequences.plans import Plan
from salescli.sequences.pool import Plans, SenderPool
from salescli.sequences.schedule import Window, due_after, utc

log = logging.getLogger("salescli.send")

ACTOR = "send"
CHUNK = 100
MAX_RETRIES = 5
RETRY_BASE = timedelta(minutes=10)


@dataclass
class Item:
    """One mail prepared in phase 1."""

    send_id: int
    enrollment: dict[str, Any]
    step: int
    sender: str
    recipient: str
    subject: str
    msg_id: str
    data: bytes
    resend: bool


def due_ids(conn: sqlite3.Connection, moment: datetime, limit: int | None = None
            ) -> list[int]:
    """Active enrollments of unpaused sequences whose step is due; follow-ups first
    (when a cap is tight they matter more than first mails), then oldest due."""
    sql = ("SELECT e.id FROM enrollments e JOIN sequences s ON s.id = e.sequence_id"
           " WHERE e.state = 'active' AND e.next_due_at <= ? AND s.paused_at IS NULL"
           " ORDER BY e.step = 0, e.next_due_at, e.id")
    params: list[Any] = [iso(moment)]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [r[0] for r in conn.execute(sql, params)]


SentCopy = Callable[[str, bytes, datetime], bool]


def send_due(conn: sqlite3.Connection, *, now: datetime | str | None = None,
             limit: int | None = None, dry_run: bool = False,
             sleep: Callable[[float], None] = time.sleep, progress: Any = None,
             sent_copy: SentCopy | None = None) -> dict:
    """Send every due step (at most ``limit``); returns counts. ``dry_run`` decides
    everything, rolls it back and returns the decisions under ``"plan"``.
    ``sent_copy(sender, message, when)`` files each mail once it is recorded as sent
    (the owner's Sent folder: ``salescli.mail.sent_copy``), best effort."""
    if conn.in_transaction:
        raise SalescliError("send must run outside a transaction (each step is committed "
                            "on its own)")
    moment = utc(now)
    counts: Counter[str] = Counter()
    ids = due_ids(conn, moment, limit)
    failpoint("send.selected")
    one_click = compose.one_click()  # a missing secret stops the run before any mail
    cache = Plans(conn)
    pool = SenderPool(conn, moment, sleep, one_click=one_click, dry=dry_run)
    if dry_run:
        return _dry_run(conn, ids, moment, cache, pool, counts)
    # (one chunk is in flight at a time: the pool's size and its thread's name change
    # nothing a user can see, so its mutants are equivalent)
    sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp")  # pragma: no mutate
    try:
        i = 0
        in_flight: tuple[Future, list[Item]] | None = None
        while True:
            items: list[Item] = []
            gap = False  # pragma: no mutate: True only stops the overlap; the same mails go
            if i < len(ids):
                with transaction(conn):
                    while i < len(ids) and len(items) < CHUNK:
                        item = _prepare(conn, ids[i], moment, cache, pool, counts)
                        i += 1
                        if item is not None:
                            items.append(item)
                            if pool.get(item.sender).min_gap:
                                gap = True
                                break
                if items:
                    failpoint("send.pending.committed")
            if in_flight is not None:  # the previous chunk went out while this one was made
                future, sent = in_flight
                results = future.result()
                _finish(conn, results, moment, cache, counts)
                failpoint("send.sent.committed")
                _file_copies(sent_copy, results, moment, counts)
                if progress is not None:
                    progress(len(sent))
                in_flight = None
            if not items:
                if i >= len(ids):
                    break
                continue
            if gap:  # read the exit rules right before each mail: no overlap
                results = _hand_all(pool, items)
                _finish(conn, results, moment, cache, counts)
                failpoint("send.sent.committed")
                _file_copies(sent_copy, results, moment, counts)
                if progress is not None:
                    progress(len(items))
            else:
                in_flight = (sender.submit(_hand_all, pool, items), items)
    finally:
        sender.shutdown(wait=True)
        pool.close()
    return dict(counts)


def _dry_run(conn: sqlite3.Connection, ids: list[int], moment: datetime, cache: Plans,
             pool: SenderPool, counts: Counter) -> dict:
    decided: list[dict[str, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for eid in ids:
            before = dict(counts)
            item = _prepare(conn, eid, moment, cache, pool, counts)
            if item is not None:
                counts["would_send"] += 1
            what = next((k for k in counts if counts[k] != before.get(k, 0)), "skipped")
            decided.append({"enrollment": eid, "action": "send" if item else what,
                            "to": item.recipient if item else None,
                            "subject": item.subject if item else None,
                            "step": item.step if item else None})
    finally:
        conn.execute("ROLLBACK")
    return {**dict(counts), "plan": decided}


def _prepare(conn: sqlite3.Connection, eid: int, moment: datetime, cache: Plans,
             pool: SenderPool, counts: Counter) -> Item | None:
    """Phase 1 for one enrollment, inside the chunk's transaction."""
    row = conn.execute("SELECT * FROM enrollments WHERE id = ? AND state = 'active'"
                       " AND next_due_at <= ?", (eid, iso(moment))).fetchone()
    if row is None:
        return None  # ended or moved on since it was selected
    e = dict(row)
    seq, plan, window = cache.get(e["sequence_id"])
    total = len(plan.steps)
    nxt = plan.steps[e["step"]] if e["step"] < total else None
    prow = conn.execute(exits.PROSPECT, (e["prospect_id"],)).fetchone()
    v = exits.verdict(conn, e, next_wait=nxt.wait if nxt else None, window=window,
                      moment=moment, prospect=prow)
    if v.seen != e["seen_interaction_id"]:
        conn.execute("UPDATE enrollments SET seen_interaction_id = ? WHERE id = ?",
                     (v.seen, eid))
    ts = iso(moment)
    if v.action == "end":
        _end(conn, e, v.state, v.reason, ts)
        counts[v.state.value] += 1
        return None
    if v.action == "delay":
        _reschedule(conn, e, v.until, v.reason, ts)
        counts["delayed"] += 1
        return None
    if v.action == "retry":
        conn.execute("UPDATE enrollments SET step = step - 1, attempt = 2, next_due_at = ?,"
                     " updated_at = ? WHERE id = ?", (iso(v.until), ts, eid))
        audit.record(conn, ACTOR, "retry", "enrollment", eid, {"step": e["step"]},
                     {"step": e["step"] - 1, "next_due_at": iso(v.until), "reason": v.reason},
                     prospect_id=e["prospect_id"], at=ts)
        counts["retried"] += 1
        return None
    if nxt is None:
        _end(conn, e, EnrollmentState.FINISHED, "all steps done", ts)
        counts["finished"] += 1
        return None
    if not window.contains(moment):
        conn.execute("UPDATE enrollments SET next_due_at = ?, updated_at = ? WHERE id = ?",
                     (iso(window.next_open(moment)), ts, eid))
        counts["outside_window"] += 1
        return None
    p = prospects.public(prow)
    scope = pool.scope(p, e["sender"])
    if not nxt.is_email:
        made = _task_step(conn, e, nxt, plan, window, scope, p, ts, moment)
        counts["tasks" if made else "template_errors"] += 1
        return None
    if pool.full(e["sender"]):
        counts["capped"] += 1
        return None
    pos, attempt = nxt.position, e["attempt"]
    old = conn.execute("SELECT * FROM sends WHERE enrollment_id = ? AND step = ? AND"
                       " attempt = ?", (eid, pos, attempt)).fetchone()
    try:
        subject, body = plans.render_step(plan.name, nxt, scope, e["thread_subject"])
    except plans.TemplateError as exc:
        if old is not None:
            _fail_send(conn, old["id"], f"not sent: {exc}")
        _end(conn, e, EnrollmentState.STOPPED, f"template error: {exc}", ts)
        counts["template_errors"] += 1
        return None
    if old is not None and old["state"] != SendState.PENDING:
        log.error("enrollment %s step %s: ledger says %s; not sent again", eid, pos,
                  old["state"])
        return None
    if old is None:
        msg_id = compose.message_id(e["sender"], eid, pos, attempt)
        send_id = conn.execute(
            "INSERT INTO sends(enrollment_id, step, attempt, message_id, sender, recipient,"
            " subject, state, handoffs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending',"
            " 1, ?)", (eid, pos, attempt, msg_id, e["sender"], p["email"], subject, ts)
        ).lastrowid
    else:
        msg_id, send_id, subject = old["message_id"], old["id"], old["subject"]
        conn.execute("UPDATE sends SET handoffs = handoffs + 1 WHERE id = ?", (send_id,))
        counts["resent"] += 1
    refs = e["refs"].split() if e["refs"] else []
    msg = compose.build(sender=e["sender"], sender_name=scope["owner"].get("name"),
                        recipient=p["email"], recipient_name=p["name"], subject=subject,
                        body=body, msg_id=msg_id, refs=refs, token=e["token"], date=moment,
                        link=_link(pool, eid, p["email"]))
    pool.count[e["sender"]] = pool.count.get(e["sender"], 0) + (0 if old else 1)
    return Item(send_id=send_id, enrollment=e, step=pos, sender=e["sender"],
                recipient=p["email"], subject=subject, msg_id=msg_id, data=msg,
                resend=old is not None)


def _link(pool: SenderPool, eid: int, address: str) -> str | None:
    """The one-click unsubscribe URL of an enrollment, when configured."""
    if pool.one_click is None:
        return None
    url, key = pool.one_click
    return f"{url}/{unsubscribe.make_token(key, eid, address)}"


def _hand_all(pool: SenderPool, items: list[Item]) -> list[tuple[Item, Any]]:
    """Phase 2 for a chunk (on the SMTP thread): each mail to the server, in order."""
    results = []
    for item in items:
        pool.wait_gap(item.sender)
        results.append((item, _hand_over(pool, item)))
        pool.last[item.sender] = time.monotonic()
        failpoint("send.smtp.accepted")
    return results


def _hand_over(pool: SenderPool, item: Item) -> Any:
    """Phase 2: give one mail to the server; the SmtpError, or None once accepted."""
    from salescli.notify import smtp

    try:
        pool.session(item.sender).send_bytes(item.sender, [item.recipient], item.data)
    except smtp.SmtpError as exc:
        pool.drop(item.sender)
        return exc
    return None


def _finish(conn: sqlite3.Connection, results: list[tuple[Item, Any]], moment: datetime,
            cache: Plans, counts: Counter) -> None:
    """Phase 3, one transaction: the ledger, the enrollments, the email_out interactions
    (one bulk insert per sender, each with its audit row)."""
    done: dict[str, list[dict]] = {}
    with transaction(conn):
        for item, error in results:
            if error is None:
                done.setdefault(item.sender, []).append(_sent(conn, item, moment, cache))
                counts["sent"] += 1
            else:
                _refused(conn, item, error, moment, counts)
        for sender, rows in done.items():
            interactions.record_many(conn, sender, rows)
        failpoint("send.before_commit")


def _file_copies(sent_copy: SentCopy | None, results: list[tuple[Item, Any]],
                 moment: datetime, counts: Counter) -> None:
    """After the commit: a copy of each accepted mail in its sender's Sent folder. A
    failure is counted and logged (by the filer), never retried by sending again."""
    if sent_copy is None:
        return
    for item, error in results:
        if error is not None:
            continue
        try:
            if sent_copy(item.sender, item.data, moment):
                counts["filed"] += 1
        except Exception:
            counts["filing_failed"] += 1


def _refused(conn: sqlite3.Connection, item: Item, error: Any, moment: datetime,
             counts: Counter) -> None:
    """An SMTP refusal: a hard bounce, a permanent failure, or a retry with backoff."""
    e, ts = item.enrollment, iso(moment)
    reply = str(error)[:1000]
    if error.permanent and "refused recipient" in reply:
        _fail_send(conn, item.send_id, reply)
        _end(conn, e, EnrollmentState.BOUNCED, f"hard bounce at SMTP: {reply}", ts)
        prospects.set_fields(conn, ACTOR, e["prospect_id"],
                             {"email_status": EmailStatus.BOUNCED_HARD.value,
                              "bounce_reason": reply[:300]}, action="bounce")
        suppressions.add(conn, ACTOR, item.recipient, reason=reply[:300],
                         source=SuppressionSource.BOUNCE, exist_ok=True)
        counts["bounced"] += 1
    elif error.permanent:
        _fail_send(conn, item.send_id, reply)
        _end(conn, e, EnrollmentState.STOPPED, f"SMTP refused the mail: {reply}", ts)
        counts["failed"] += 1
    else:
        retries = e["retries"] + 1
        conn.execute("UPDATE sends SET smtp_reply = ? WHERE id = ?", (reply, item.send_id))
        if retries >= MAX_RETRIES:
            _fail_send(conn, item.send_id, reply)
            _end(conn, e, EnrollmentState.STOPPED, f"gave up after {retries} tries: {reply}",
                 ts)
            counts["failed"] += 1
        else:
            until = moment + RETRY_BASE * 2 ** (retries - 1)
            conn.execute("UPDATE enrollments SET retries = ?, next_due_at = ?, updated_at = ?"
                         " WHERE id = ?", (retries, iso(until), ts, e["id"]))
            counts["deferred"] += 1
        log.warning("enrollment %s step %s to %s: %s", e["id"], item.step, item.recipient,
                    reply)


def _sent(conn: sqlite3.Connection, item: Item, moment: datetime, cache: Plans) -> dict:
    """The ledger row and the enrollment of an accepted mail; returns its interaction."""
    e, ts = item.enrollment, iso(moment)
    _seq, plan, window = cache.get(e["sequence_id"])
    msg_id = item.msg_id
    conn.execute("UPDATE sends SET state = 'sent', sent_at = ?, smtp_reply = '250 accepted'"
                 " WHERE id = ?", (ts, item.send_id))
    refs = (e["refs"].split() if e["refs"] else []) + [msg_id]
    done = item.step
    nxt = plan.steps[done] if done < len(plan.steps) else None
    conn.execute(
        "UPDATE enrollments SET step = ?, attempt = 1, retries = 0, last_message_id = ?,"
        " refs = ?, thread_subject = ?, next_due_at = ?, updated_at = ? WHERE id = ?",
        (done, msg_id, " ".join(refs[-20:]), item.subject,
         iso(due_after(moment, nxt.wait, window)) if nxt else None, ts, e["id"]))
    if nxt is None:
        enroll.end(conn, ACTOR, e, EnrollmentState.FINISHED, "all steps done", at=ts)
    return {"prospect_id": e["prospect_id"], "kind": InteractionKind.EMAIL_OUT,
            "occurred_at": ts, "subject": item.subject, "message_id": msg_id,
            "thread_key": refs[0], "account": "send",
            "detail": {"sequence": plan.name, "step": item.step, "enrollment": e["id"]}}


def _task_step(conn: sqlite3.Connection, e: dict, step: plans.Step, plan: Plan,
               window: Window, scope: dict, p: dict, ts: str, moment: datetime) -> bool:
    """A task step: a task for the owner, due today, and the enrollment moves on; False
    when its text cannot be rendered (the enrollment is stopped, no task is made)."""
    try:
        text = enroll.task_text(plan.name, step, scope)
    except plans.TemplateError as exc:
        _end(conn, e, EnrollmentState.STOPPED, f"template error: {exc}", ts)
        return False
    day = moment.astimezone(window.tz).date().isoformat()
    tid = conn.execute(
        "INSERT INTO tasks(prospect_id, owner, kind, text, due_on, source, enrollment_id,"
        " actor, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (p["id"], p["owner"], step.task, text, day, f"sequence:{plan.name}:{step.position}",
         e["id"], ACTOR, ts, ts)).lastrowid
    audit.record(conn, ACTOR, "create", "task", tid, None,
                 {"kind": step.task, "text": text, "owner": p["owner"], "due_on": day,
                  "source": f"sequence:{plan.name}:{step.position}"},
                 prospect_id=p["id"], at=ts)
    nxt = plan.steps[step.position] if step.position < len(plan.steps) else None
    conn.execute("UPDATE enrollments SET step = ?, next_due_at = ?, updated_at = ?"
                 " WHERE id = ?", (step.position, iso(due_after(moment, nxt.wait, window))
                                   if nxt else None, ts, e["id"]))
    if nxt is None:
        enroll.end(conn, ACTOR, e, EnrollmentState.FINISHED, "all steps done", at=ts)
    return True


def _end(conn: sqlite3.Connection, e: dict, state: EnrollmentState, reason: str,
         ts: str) -> None:
    pending = conn.execute("SELECT id FROM sends WHERE enrollment_id = ? AND state = 'pending'",
                           (e["id"],)).fetchall()
    for r in pending:
        _fail_send(conn, r["id"], f"not sent: enrollment ended ({reason})")
    enroll.end(conn, ACTOR, e, state, reason, at=ts)


def _fail_send(conn: sqlite3.Connection, send_id: int, reply: str) -> None:
    conn.execute("UPDATE sends SET state = 'failed', smtp_reply = ? WHERE id = ?",
                 (reply[:1000], send_id))


def _reschedule(conn: sqlite3.Connection, e: dict, until: datetime, reason: str | None,
                ts: str) -> None:
    conn.execute("UPDATE enrollments SET next_due_at = ?, updated_at = ? WHERE id = ?",
                 (iso(until), ts, e["id"]))
    audit.record(conn, ACTOR, "delay", "enrollment", e["id"],
                 {"next_due_at": e["next_due_at"]}, {"next_due_at": iso(until),
                                                     "reason": reason},
                 prospect_id=e["prospect_id"], at=ts)
