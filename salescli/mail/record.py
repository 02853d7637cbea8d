"""Recording fetched mail: one chunk of a folder at a time, in sent order, in batches;
each batch is one transaction with its interactions, audit rows, rule effects,
notifications and processed-message rows, and the last batch of a chunk also carries
the folder checkpoint the chunk makes safe.

Imported only when a scan found new mail, so an empty rescan stays fast.
"""

from __future__ import annotations

import copy
import logging
import sqlite3
from typing import TYPE_CHECKING

from salescli.core.db import let_writers_in, transaction
from salescli.core.enums import InteractionKind
from salescli.core.faults import failpoint
from salescli.core.timeutil import now
from salescli.mail import classify as cls
from salescli.mail import rules, unsubscribe
from salescli.mail.body import snippet
from salescli.mail.parse import Envelope
from salescli.mail.run import ACTOR, save_checkpoints
from salescli.pipeline import addresses, interactions, prospects

if TYPE_CHECKING:
    from salescli.mail.run import FolderState, ScanRun

log = logging.getLogger("salescli.mail")

# Values per ``IN (…)`` list: any size under SQLite's limit of bound variables reads the
# same rows, so it is a module constant (mutmut mutates function bodies only).
_IN_LIST = 500
_KIND_TO_INTERACTION = {cls.Kind.OUTBOUND: InteractionKind.EMAIL_OUT,
                        cls.Kind.INBOUND: InteractionKind.EMAIL_IN,
                        cls.Kind.AUTO_REPLY: InteractionKind.AUTO_REPLY,
                        cls.Kind.BOUNCE: InteractionKind.BOUNCE}
_COUNTER = {cls.Kind.OUTBOUND: "outbound", cls.Kind.INBOUND: "replies",
            cls.Kind.AUTO_REPLY: "auto_replies", cls.Kind.BOUNCE: "bounces"}


def record(run: ScanRun, envs: list[Envelope], state: FolderState, covered: int) -> None:
    """Classify, sort by sent date and record one fetched chunk of ``state``'s folder
    (``covered`` handles of its plan); the chunk's last transaction advances the
    folder's checkpoint past it."""
    own = frozenset(run.own)
    for env in envs:
        if not env.error:
            env.kind = cls.classify(env, own)
    envs.sort(key=lambda e: (e.sent_at or "", e.key))
    size = max(1, run.options.batch_size)
    batches = [envs[i:i + size] for i in range(0, len(envs), size)] or [[]]
    stop = run.options.stop
    for n, batch in enumerate(batches):
        if n and stop is not None and stop.is_set():
            return  # stopping: the checkpoint stays before this chunk (refetched next time)
        advance = (state, covered) if n == len(batches) - 1 else None
        counts = copy.deepcopy(run.counts)
        mark = (state.done, state.newest)
        try:
            try:
                _batch(run, batch, own, advance, careful=False)
            except _Careful as redo:
                # Something failed inside a message: the whole batch was rolled back.
                # Do it again with a savepoint per message, quarantining the culprit.
                # Said, because the slower path hides the error (a bug, not a message,
                # would cost every batch its speed unseen).
                log.warning("%s/%s: %d message(s) recorded one by one after an error in"
                            " their batch (%s: %.300s)", state.account, state.plan.folder,
                            len(batch), type(redo.__cause__).__name__, redo.__cause__)
                run.counts.clear()
                run.counts.update(counts)
                state.done, state.newest = mark
                _batch(run, batch, own, advance, careful=True)
        except BaseException:
            state.done, state.newest = mark  # rolled back: the checkpoint stays behind
            raise
        failpoint("scan.batch.committed")
        let_writers_in(run.conn)  # a stage move made meanwhile waits one batch, not the scan


class _Careful(Exception):
    """Redo this batch message by message."""


def _batch(run: ScanRun, batch: list[Envelope], own: frozenset[str],
           advance: tuple[FolderState, int] | None, *, careful: bool) -> None:
    """One batch in one transaction: messages, rule effects, the checkpoint.

    Fast path: every message's interactions in one bulk insert, no savepoint per
    message. Careful path (after a failure): a savepoint per message, so the culprit
    alone is quarantined."""
    with transaction(run.conn):
        new: dict[int, rules.NewMail] = {}
        run.batch_time = now()
        run.ids, run.before, run.primary = _prospect_ids(run.conn, batch, own)
        if careful:
            for env in batch:
                if env.error:
                    _quarantine(run, env, env.error)
                else:
                    _record_one(run, env, own, new)
        else:
            good = [env for env in batch if not env.error]
            try:
                outcomes = _apply(run, good, own, new, [])
                _processed_many(run, good, outcomes)
            except Exception as exc:
                raise _Careful from exc
            # After the bulk insert: a failed one is redone message by message, and a
            # quarantine logged before it would be logged twice.
            for env in batch:
                if env.error:
                    _quarantine(run, env, env.error)
        for key, n in rules.apply_new(run.conn, new, run.before, {}).items():
            run.counts[key] = run.counts.get(key, 0) + n
        if unsubscribed := unsubscribe.apply(run.conn, batch):
            run.counts["unsubscribed"] = run.counts.get("unsubscribed", 0) + unsubscribed
        if advance is None:
            save_checkpoints(run)
        else:
            _advance(run, batch, *advance)
        failpoint("scan.batch.before_commit")


def _advance(run: ScanRun, batch: list[Envelope], state: FolderState, covered: int) -> None:
    """Move the folder's checkpoint past the chunk, in the batch's transaction (``record``
    moves it back in memory if the transaction fails)."""
    state.done += covered
    # The chunk's newest date (it is sorted: its last batch's); saving keeps the newest.
    state.newest = max((env.sent_at for env in batch if env.sent_at), default=None)
    save_checkpoints(run)


def _record_one(run: ScanRun, env: Envelope, own: frozenset[str],
                new: dict[int, rules.NewMail]) -> None:
    """One message in its own savepoint; anything that goes wrong quarantines it."""
    created: list[str] = []
    mine: dict[int, rules.NewMail] = {}
    try:
        with transaction(run.conn):
            _processed(run, env, _apply(run, [env], own, mine, created)[0])
        for pid, mail in mine.items():
            new.setdefault(pid, []).extend(mail)
    except Exception as exc:
        # Rolled back with the savepoint. ``run.primary`` may keep the address: it is read
        # only for an address with an id, and creating the prospect again re-adds it.
        for addr in created:
            run.ids.pop(addr, None)
        _quarantine(run, env, f"processing failed ({type(exc).__name__}: {exc})"[:500])


def _quarantine(run: ScanRun, env: Envelope, reason: str) -> None:
    run.conn.execute(
        "INSERT OR IGNORE INTO mail_quarantine(account, folder, uid, message_id, reason,"
        " created_at, location) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (env.account, env.folder, env.uid, env.message_id or env.key, reason, now(),
         env.location))
    env.kind = "quarantined"
    _processed(run, env, "quarantined")
    run.add(env.account, "quarantined")
    log.warning("quarantined %s: %s", env.location, reason)


def _processed(run: ScanRun, env: Envelope, outcome: str) -> None:
    run.conn.execute(
        "INSERT OR IGNORE INTO mail_messages(message_key, sent_at, account, folder, uid, kind,"
        " outcome, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (env.key, env.sent_at or None, env.account, env.folder, env.uid, str(env.kind),
         outcome, run.batch_time))


def _processed_many(run: ScanRun, envs: list[Envelope], outcomes: list[str]) -> None:
    run.conn.executemany(
        "INSERT OR IGNORE INTO mail_messages(message_key, sent_at, account, folder, uid, kind,"
        " outcome, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(env.key, env.sent_at or None, env.account, env.folder, env.uid, str(env.kind),
          outcome, run.batch_time) for env, outcome in zip(envs, outcomes, strict=True)])


def _targets(env: Envelope, own: frozenset[str]) -> list[str]:
    """The addresses a message is about: recipients of ours, the sender of theirs, the
    failed recipients of a bounce."""
    if env.kind == cls.Kind.OUTBOUND:
        return [a for a in env.recipients if not cls.is_own(a, own)]
    if env.kind == cls.Kind.BOUNCE:
        return [f.address for f in env.failures]
    if env.kind in (cls.Kind.INBOUND, cls.Kind.AUTO_REPLY):
        return [env.from_addr]
    return []


def _prospect_ids(conn: sqlite3.Connection, batch: list[Envelope], own: frozenset[str]
                  ) -> tuple[dict[str, int], dict[int, str | None], set[str]]:
    """Prospect ids for every address a batch is about, each one's latest interaction
    time before the batch (what ``rules.apply_new`` orders against), and which of the
    batch's bounced addresses are a prospect's primary one (the prospect found for it:
    a primary address wins in ``prospect_for``)."""
    wanted = {a for env in batch if not env.error for a in _targets(env, own)}
    ids = addresses.prospect_for(conn, wanted)  # primary and other addresses
    before: dict[int, str | None] = {}
    bounced = sorted({f.address for env in batch if not env.error
                      and env.kind == cls.Kind.BOUNCE for f in env.failures} & ids.keys())
    primary: set[str] = set()
    for i in range(0, len(bounced), _IN_LIST):
        part = bounced[i:i + _IN_LIST]
        primary.update(r[0] for r in conn.execute(
            f"SELECT email FROM prospects WHERE email IN ({','.join('?' * len(part))})", part))

    pids = sorted(ids.values())
    for i in range(0, len(pids), _IN_LIST):
        part = pids[i:i + _IN_LIST]
        before.update(conn.execute(
            "SELECT prospect_id, max(occurred_at) FROM interactions WHERE prospect_id IN"
            f" ({','.join('?' * len(part))}) GROUP BY prospect_id", part))
    return ids, before, primary


def _apply(run: ScanRun, envs: list[Envelope], own: frozenset[str],
           new: dict[int, rules.NewMail], created: list[str]) -> list[str]:
    """Record the interactions of ``envs`` (in order, one bulk insert) and queue their
    notifications; returns each message's outcome."""
    plans: list[tuple[Envelope, list[tuple[str, int, dict | None]]]] = []
    rows: list[dict] = []
    for env in envs:
        kind = cls.Kind(env.kind)
        if kind not in _KIND_TO_INTERACTION:
            plans.append((env, []))
            continue
        failures = {f.address: f for f in env.failures}
        ikind = _KIND_TO_INTERACTION[kind]
        # An auto-reply keeps the start of its text: the return date it states.
        text = snippet(env.text) if kind == cls.Kind.AUTO_REPLY else None
        found = []
        for addr in _targets(env, own):
            pid = run.ids.get(addr)
            if pid is None:
                if not _may_create(run, kind, addr, own):
                    continue
                pid = prospects.add(run.conn, ACTOR, addr, name=env.from_name if
                                    kind == cls.Kind.INBOUND else None, source="email",
                                    at=env.sent_at)["id"]
                run.ids[addr] = pid
                run.primary.add(addr)
                created.append(addr)
                run.add(env.account, "created")
            detail = None
            if kind == cls.Kind.BOUNCE:
                f = failures[addr]
                detail = {"bounce": "hard" if f.hard else "soft", "diagnostic": f.diagnostic}
                if addr not in run.primary:
                    # We only send to the primary address: a bounce from another one is
                    # history, and changes neither the email status nor a sequence.
                    detail["other_address"] = addr
            found.append((addr, pid, detail))
            rows.append({"prospect_id": pid, "kind": ikind, "occurred_at": env.sent_at,
                         "subject": env.subject, "message_id": env.key, "body": text,
                         "thread_key": env.thread_key, "account": env.account,
                         "folder": env.folder, "uid": env.uid, "detail": detail})
        plans.append((env, found))
    ids = iter(interactions.record_many(run.conn, ACTOR, rows))
    outcomes = []
    for env, found in plans:
        kind = cls.Kind(env.kind)
        if kind not in _KIND_TO_INTERACTION:
            run.add(env.account, "ignored")
            outcomes.append("ignored")
            continue
        ikind = _KIND_TO_INTERACTION[kind]
        recorded = [target for target in found if next(ids) is not None]  # None: known
        for addr, pid, detail in recorded:
            if not (detail and detail.get("other_address")):
                new.setdefault(pid, []).append((env.sent_at, ikind, env.key, detail))
            _maybe_notify(run, env, pid, ikind, detail, addr)
        if not recorded:
            run.add(env.account, "unmatched")
            outcomes.append("unmatched")
            continue
        run.add(env.account, "matched")
        run.add(env.account, _COUNTER[kind])
        outcomes.append("recorded")
    return outcomes


def _may_create(run: ScanRun, kind: cls.Kind, addr: str, own: frozenset[str]) -> bool:

    """``--create-unknown``: people we wrote to or who wrote to us, never robots or us."""
    return (run.options.create_unknown and kind in (cls.Kind.OUTBOUND, cls.Kind.INBOUND)
            and not cls.is_own(addr, own) and not cls.is_noreply(addr))


def _maybe_notify(run: ScanRun, env: Envelope, pid: int, ikind: InteractionKind,
                  detail: dict | None, addr: str) -> None:
    event = rules.event_of(ikind, detail)
    rule = rules.notify_rule(event)
    if not rule or env.sent_at < run.notify_after:
        return  # old mail found by a first import is history, not news
    from salescli.notify import outbox

    payload = {"subject": env.subject, "address": addr, "at": env.sent_at,
               "account": env.account, "folder": env.folder}
    if detail:
        payload["diagnostic"] = detail.get("diagnostic")
    outbox.enqueue(run.conn, rule=rule, prospect_id=pid, event_key=f"{rule}:{pid}:{env.key}",
                   payload=payload)


