"""The scan pipeline: fetch, classify and record new mail in bounded batches, as it
arrives, so memory stays flat and a killed run keeps its progress.

Per account, the Sent folder first (our own mail mostly comes before the answers to
it), then the others; per folder, what is new since the checkpoint, one fetched chunk
at a time (headers only; whole messages only for bounce candidates). Each chunk is
parsed, stripped of messages already recorded (by key), classified and recorded in
sent order, in batches: one transaction holds a batch's interactions, audit rows, rule
effects, notifications, processed-message rows and the folder checkpoint the chunk
makes safe. No transaction is open while talking to a server. A run killed at any point
is resumed by the next, which fetches only what was not recorded.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from salescli.core.db import transaction
from salescli.core.errors import InvalidValue, SalescliError
from salescli.mail.config import MailError
from salescli.mail.faults import failpoint
from salescli.mail.run import COUNT_KEYS, FolderState, ScanOptions, ScanRun, save_checkpoints
from salescli.mail.sources import Checkpoint, Fetched, FolderPlan, Source

if TYPE_CHECKING:
    from salescli.mail.parse import Envelope

log = logging.getLogger("salescli.mail")


def scan(conn: sqlite3.Connection, sources: list[Source], options: ScanOptions | None = None,
         counts: dict | None = None) -> dict[str, Any]:
    """Scan every source once; returns (and fills) ``counts``. Raises MailError naming the
    accounts that failed, after the others have been recorded."""
    options = options or ScanOptions()
    counts = {} if counts is None else counts
    _tune(conn)
    run = ScanRun(conn, counts, options)
    for source in sources:
        run.own |= set(source.own)
    failed: list[str] = []
    started, cpu = time.monotonic(), time.process_time()
    for source in sources:
        error = scan_source(run, source)
        if error:
            failed.append(error)
    failpoint("scan.collected")
    _save_all_checkpoints(run)
    log.debug("scanned in %.2fs (CPU %.2fs)", time.monotonic() - started,
              time.process_time() - cpu)
    if options.deliver:
        failpoint("scan.before_deliver")
        _deliver(run)
    if failed:
        raise MailError("; ".join(failed))
    return counts


def _tune(conn: sqlite3.Connection) -> None:
    # Recording touches many index pages at random: a larger page cache for this
    # connection saves re-reading them (this connection only; 16 MB). Statement
    # journals (each insert fires a trigger) stay in memory instead of temp files.
    conn.execute("PRAGMA cache_size = -16000")
    conn.execute("PRAGMA temp_store = MEMORY")


def scan_source(run: ScanRun, source: Source) -> str | None:
    """Scan one source to the end, recording as it goes; returns the error text when
    the source failed (what was recorded before the failure stays), else None."""
    run.counts["accounts"].setdefault(source.account, dict.fromkeys(COUNT_KEYS, 0))
    try:
        source.open()
        for folder, sent in sorted(source.folders(), key=lambda f: not f[1]):
            _scan_folder(run, source, folder, sent)
    except SalescliError as exc:
        run.counts["accounts"][source.account]["error"] = str(exc)
        log.error("%s", exc)
        return str(exc)
    finally:
        source.close()
    return None


# -- fetch ---------------------------------------------------------------------------------
def _load_checkpoint(conn: sqlite3.Connection, account: str, folder: str) -> Checkpoint | None:
    row = conn.execute("SELECT uidvalidity, last_uid, highestmodseq FROM mail_checkpoints"
                       " WHERE account = ? AND folder = ?", (account, folder)).fetchone()
    return Checkpoint(row[0], row[1], row[2]) if row else None


def _known(conn: sqlite3.Connection, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        found.update(r[0] for r in conn.execute(
            "SELECT message_key FROM mail_messages WHERE message_key IN"
            f" ({','.join('?' * len(part))})", part))
    return found


def plan_folder(run: ScanRun, source: Source, folder: str, sent: bool) -> FolderState:
    """What is new in one folder since its checkpoint, registered with the run."""
    cp = _load_checkpoint(run.conn, source.account, folder)
    plan = source.plan(folder, sent, cp, run.options.since)
    state = FolderState(source.account, plan, cp)
    run.folders[(source.account, folder)] = state
    if plan.reset:
        log.warning("account %s: folder %s has a new UIDVALIDITY: rescanning it "
                    "(known messages are skipped)", source.account, folder)
    return state


def _scan_folder(run: ScanRun, source: Source, folder: str, sent: bool) -> None:
    state = plan_folder(run, source, folder, sent)
    if not state.plan.handles:
        return
    # Parsing, classifying and recording are imported only when there is new mail.
    from salescli.mail.record import record

    bar = run.progress(f"{source.account} {folder}", len(state.plan.handles))
    try:
        for covered, chunk in source.headers(state.plan):
            envs = read_chunk(run, source, state.plan, chunk)
            record(run, envs, state, covered)
            bar.update(covered)
    finally:
        bar.close()


def read_chunk(run: ScanRun, source: Source, plan: FolderPlan,
               chunk: list[Fetched]) -> list[Envelope]:
    """Parse one fetched chunk, drop what is recorded already (or outside ``--since``),
    read the bounce candidates whole, and note the header marks; returns the envelopes
    to record (errors included: they are quarantined)."""
    from salescli.mail import classify as cls
    from salescli.mail.parse import Envelope, parse_envelope

    envs = [parse_envelope(Envelope(source.account, plan.folder, handle,
                                    source.location(plan.folder, handle),
                                    sent_folder=plan.sent), raw, arrived)
            for handle, raw, arrived in chunk]
    known = _known(run.conn, [e.key for e in envs])
    found: list[Envelope] = []
    candidates: list[Envelope] = []
    for env in envs:
        run.add(source.account, "seen")
        if env.key in known:
            run.add(source.account, "duplicates")
            continue
        known.add(env.key)
        if not env.error and run.options.since and env.sent_at < run.options.since:
            continue
        if not env.error:
            learn = run.learn.setdefault(source.account, set())
            learn.update(env.delivered_to)  # the mailbox's own address(es)
            if plan.sent and env.from_addr:
                learn.add(env.from_addr)
            # Bounces first: before the From check and every filter.
            if cls.is_bounce_candidate(env):
                candidates.append(env)
            elif env.from_error:
                env.error = env.from_error
        found.append(env)
    if candidates:
        _read_bounces(source, plan, candidates)
    if not source.own:
        run.own |= run.learn.get(source.account, set())
    for env in found:
        if not env.error:
            cls.mark(env)
    return found


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
    for env in by_handle.values():  # vanished before its body was read
        if env.from_error and not env.error:
            env.error = env.from_error


# -- checkpoints and notifications ------------------------------------------------------
def _save_all_checkpoints(run: ScanRun) -> None:
    if run.folders:
        with transaction(run.conn):
            save_checkpoints(run, final=True)


def _deliver(run: ScanRun) -> None:
    from salescli.notify import outbox

    try:
        result = outbox.deliver(run.conn)
    except Exception as exc:  # a delivery problem must not fail the scan
        log.error("notification delivery failed: %s", exc)
        result = {"error": str(exc)[:300]}
    run.counts["notifications"] = result


# -- entry points -------------------------------------------------------------------------
def parse_source(spec: str) -> tuple[str, str | None]:
    """``imap``, ``maildir:PATH`` or ``mbox:PATH`` → (kind, path)."""
    text = (spec or "imap").strip()
    if text == "imap":
        return "imap", None
    kind, _, path = text.partition(":")
    if kind in ("maildir", "mbox") and path.strip():
        return kind, path.strip()
    raise InvalidValue("--source", spec, "must be imap, maildir:PATH or mbox:PATH")


def sources_for(spec: str = "imap", account: str | None = None,
                env: Mapping[str, str] | None = None,
                my_addresses: list[str] | None = None) -> list[Source]:
    """The sources a scan reads: the configured IMAP accounts, or one local mailbox.
    ``my_addresses`` adds to ``SALESCLI_MY_ADDRESSES``."""
    from salescli.mail import config
    from salescli.mail.local import MaildirSource, MboxSource
    from salescli.mail.sources import ImapSource

    kind, path = parse_source(spec)
    extra = config.normalise_addresses(list(my_addresses or []), "my_addresses")
    if kind == "imap":
        accounts = config.select(config.load_accounts(env), account)
        for a in accounts:
            a.my_addresses = a.my_addresses | extra
        return [ImapSource(a) for a in accounts]
    own = config.my_addresses(env) | extra
    return [MaildirSource(path, own) if kind == "maildir" else MboxSource(path, own)]


def scan_sources(db_file: str | os.PathLike | None = None, *, source: str = "imap",
                 account: str | None = None, my_addresses: list[str] | None = None,
                 options: ScanOptions | None = None) -> dict[str, Any]:
    """One ``scan`` job (lock, job_runs row, summary log line) over the configured
    accounts or a local mailbox; returns the counts. Raises JobLocked when another scan
    holds the lock."""
    from salescli.ops.runner import run_job

    sources = sources_for(source, account, my_addresses=my_addresses)  # errors: no job row
    with run_job("scan", db_file) as job:
        scan(job.conn, sources, options, counts=job.counts)
        return job.counts
