"""Fetching one account for the scan, on a thread of its own over its own connection.

The account's folders in order (Sent first: our mail mostly comes before the answers to
it), each folder's new mail one chunk at a time: headers parsed, bounce candidates read
whole and decided before any other test, header marks noted. Everything goes to the
scan's single writer as events through ``put``; nothing here touches the database, so
several accounts fetch at once while one connection writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from salescli.core.errors import SalescliError
from salescli.mail.run import FolderState, ScanOptions
from salescli.mail.sources import Checkpoint, Fetched, FolderPlan, Source

if TYPE_CHECKING:
    from salescli.mail.parse import Envelope
    from salescli.mail.parse_worker import ParseWorker

log = logging.getLogger("salescli.mail")
# New messages in a folder from which its headers are parsed in a child process
# (mail/parse_worker.py): here, so that a folder below it never imports that module.
WORKER_MIN = 1000


@dataclass
class FolderEvent:
    """A folder is planned: the writer registers its state (and saves its checkpoint)."""

    account: str
    state: FolderState


@dataclass
class ChunkEvent:
    """One fetched chunk, ready to record: ``covered`` handles of the folder's plan."""

    account: str
    state: FolderState
    covered: int
    envs: list[Envelope]
    seen: int
    learned: set[str] = field(default_factory=set)
    duplicates: int = 0


@dataclass
class DoneEvent:
    """An account is finished: ``error`` when it failed as a mailbox can (reported under
    its ``account``, the others go on), ``crash`` for anything else (the writer re-raises
    it). A success names no account: the writer only counts it."""

    account: str | None = None
    error: str | None = None
    crash: BaseException | None = None


Event = FolderEvent | ChunkEvent | DoneEvent


def fetch_account(source: Source, checkpoints: dict[tuple[str, str], Checkpoint],
                  options: ScanOptions, put: Callable[[Event], None],
                  text_from: frozenset[str] = frozenset()) -> None:
    """Fetch everything new in one account, sending events to the writer; always ends
    with a DoneEvent (unless ``put`` itself raises: the writer is gone). The first KB of
    the text are read for auto-replies and for mail from ``text_from`` (prospects with
    a live enrollment)."""
    worker: ParseWorker | None = None
    try:
        source.open()
        source.prefetch([folder for account, folder in checkpoints
                         if account == source.account])
        for folder, sent in sorted(source.folders(), key=lambda f: not f[1]):
            cp = checkpoints.get((source.account, folder))
            plan = source.plan(folder, sent, cp, options.since)
            state = FolderState(source.account, plan, cp)
            put(FolderEvent(source.account, state))
            if not plan.handles:
                continue
            apart = None
            if len(plan.handles) >= WORKER_MIN:  # pragma: no mutate (same envelopes either way)
                from salescli.mail.parse_worker import ParseWorker

                worker = apart = worker or ParseWorker()
            for covered, chunk in source.headers(plan):
                envs, learned, dups = read_chunk(source, plan, chunk, options.since,
                                                 text_from, apart)
                put(ChunkEvent(source.account, state, covered, envs, len(chunk), learned,
                               dups))
    except SalescliError as exc:
        put(DoneEvent(source.account, error=str(exc)))
        return
    except Stopped:
        return
    except BaseException as exc:  # a bug: the writer raises it
        put(DoneEvent(crash=exc))
        return
    finally:
        if worker is not None:
            worker.close()
        source.close()
    put(DoneEvent())


class Stopped(Exception):
    """The writer stopped (it failed): the fetch thread ends quietly."""


def read_chunk(source: Source, plan: FolderPlan, chunk: list[Fetched],
               since: str | None, text_from: frozenset[str] = frozenset(),
               worker: ParseWorker | None = None) -> tuple[list[Envelope], set[str], int]:
    """Parse one fetched chunk (in ``worker``'s process when given), drop repeats within
    it and mail outside ``--since``, read the bounce candidates whole, the start of the
    text of auto-replies and of mail from ``text_from``, and note the header marks.
    Returns the envelopes to record (errors included: they are quarantined), the
    addresses learned as ours and the number of repeats dropped."""
    from salescli.mail import classify as cls
    from salescli.mail.parse import parse_many

    items = [(handle, source.location(plan.folder, handle), raw, arrived)
             for handle, raw, arrived in chunk]
    parse = worker.parse if worker is not None else parse_many
    found: list[Envelope] = []
    candidates: list[Envelope] = []
    readers: list[Envelope] = []
    learned: set[str] = set()
    keys: set[str] = set()
    dups = 0
    for env in parse(source.account, plan.folder, plan.sent, items):
        if env.key in keys:
            dups += 1
            continue
        keys.add(env.key)
        if not env.error and since and env.sent_at < since:
            continue
        if not env.error:
            learned.update(env.delivered_to)  # the mailbox's own address(es)
            if plan.sent and env.from_addr:
                learned.add(env.from_addr)
            # Bounces first: before the From check and every filter.
            if cls.is_bounce_candidate(env):
                candidates.append(env)
            elif env.from_error:
                env.error = env.from_error
            elif not plan.sent and _wants_text(env, text_from, source.own):
                readers.append(env)
        found.append(env)
    if candidates:
        _read_bounces(source, plan, candidates)
    if readers:
        _read_texts(source, plan, readers)
    for env in found:
        if not env.error:
            cls.mark(env)
    return found, learned, dups


def _wants_text(env: Envelope, text_from: frozenset[str], own: frozenset[str]) -> bool:
    """Mail whose text a rule reads: from a prospect with a live enrollment (a first
    line "unsubscribe"), or an auto-reply (its return date); never our own mail."""
    from salescli.mail import classify as cls

    if not env.from_addr or cls.is_own(env.from_addr, own):
        return False
    return env.from_addr in text_from or cls.is_auto_reply(env)


def _read_texts(source: Source, plan: FolderPlan, readers: list[Envelope]) -> None:
    from salescli.mail.body import text_of

    by_handle = {e.handle: e for e in readers}
    for handle, head, body in source.texts(plan, list(by_handle)):
        env = by_handle.get(handle)
        if env is None:
            continue
        try:
            env.text = text_of(head, body)
        except Exception as exc:  # unreadable text: the message is still recorded
            log.warning("%s: text not readable (%s: %s)", env.location,
                        type(exc).__name__, exc)


def _read_bounces(source: Source, plan: FolderPlan, candidates: list[Envelope]) -> None:
    from salescli.mail import classify as cls

    by_handle = {e.handle: e for e in candidates}
    for handle, raw in source.bodies(plan, [e.handle for e in candidates]):
        env = by_handle.pop(handle, None)
        if env is None:
            continue
        try:
            env.failures = cls.bounce_failures(raw)
        except cls.UnreadableBounce as exc:
            env.error = str(exc)
        except Exception as exc:
            env.error = env.from_error or \
                f"bounce could not be parsed ({type(exc).__name__}: {exc})"[:500]
        if not env.failures and not env.error and env.from_error:
            env.error = env.from_error  # not a bounce after all, and no sender
    for env in by_handle.values():  # vanished before its body was read (no error yet)
        env.error = env.from_error
