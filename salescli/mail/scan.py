"""The scan pipeline: fetch, classify and record new mail in bounded batches, as it
arrives, so memory stays flat and a killed run keeps its progress.

Accounts are fetched on threads of their own (``--jobs``, each over its own IMAP
connection; ``fetch``), which send parsed chunks to the one writer here. Per folder,
what is new since the checkpoint comes one chunk at a time; the writer drops what is
recorded already (by key) and records the rest in sent order, in batches: one
transaction holds a batch's interactions, audit rows, rule effects, notifications,
processed-message rows and the folder checkpoint the chunk makes safe. No transaction is
open while waiting for a server. A run killed at any point is resumed by the next, which
fetches only what was not recorded; an account that fails is reported, the others go on.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from salescli.core.db import transaction
from salescli.core.errors import InvalidValue
from salescli.core.faults import failpoint
from salescli.mail.config import MailError
from salescli.mail.run import COUNT_KEYS, FolderState, ScanOptions, ScanRun, save_checkpoints
from salescli.mail.sources import Checkpoint, Source

if TYPE_CHECKING:
    from salescli.mail.fetch import ChunkEvent, Event
    from salescli.mail.parse import Envelope
    from salescli.mail.run import Progress

log = logging.getLogger("salescli.mail")
CHECKPOINT_PAGES = 10000  # the scan's WAL checkpoint interval (``_tune``)


def scan(conn: sqlite3.Connection, sources: list[Source], options: ScanOptions | None = None,
         counts: dict | None = None) -> dict[str, Any]:
    """Scan every source once, ``options.jobs`` accounts at a time; returns (and fills)
    ``counts``. Raises MailError naming the accounts that failed, after the others have
    been recorded."""
    from salescli.mail.fetch import ChunkEvent, DoneEvent, FolderEvent, Stopped, fetch_account

    options = options or ScanOptions()
    counts = {} if counts is None else counts
    _tune(conn)
    run = ScanRun(conn, counts, options)
    for source in sources:
        run.own |= set(source.own)
        run.counts["accounts"].setdefault(source.account, dict.fromkeys(COUNT_KEYS, 0))
    checkpoints = _load_checkpoints(conn)
    text_from = _enrolled(conn)
    jobs = max(1, min(options.jobs, len(sources)))
    events: queue.Queue[Event] = queue.Queue(maxsize=2 * jobs)
    halt = threading.Event()

    def put(event: Event) -> None:
        while True:
            if halt.is_set():
                raise Stopped
            try:
                events.put(event, timeout=0.2)
                return
            except queue.Full:
                continue

    todo = list(sources)
    own_of = {s.account: bool(s.own) for s in sources}

    def start_next() -> None:
        source = todo.pop(0)
        threading.Thread(target=fetch_account,
                         args=(source, checkpoints, options, put, text_from),
                         name=f"fetch {source.account}", daemon=True).start()

    failed: list[str] = []
    started, cpu = time.monotonic(), time.process_time()
    running = 0
    bars: dict[tuple[str, str], Progress] = {}
    try:
        while todo and running < jobs:
            start_next()
            running += 1
        while running:
            if options.stop is not None and options.stop.is_set():
                log.info("stop requested: the scan ends after the batches recorded")
                run.counts["stopped"] = True
                break
            try:
                event = events.get(timeout=0.5)  # a stop request is seen while waiting
            except queue.Empty:
                continue
            if isinstance(event, FolderEvent):
                _folder(run, event.state, bars if jobs == 1 else None)
            elif isinstance(event, ChunkEvent):
                if not own_of[event.account]:
                    run.own |= event.learned
                _chunk(run, event)
                bar = bars.get((event.account, event.state.plan.folder))
                if bar is not None:
                    bar.update(event.covered)
            elif isinstance(event, DoneEvent):
                running -= 1
                if event.crash is not None:
                    raise event.crash
                if event.error:
                    failed.append(event.error)
                    run.counts["accounts"][event.account]["error"] = event.error
                    log.error("%s", event.error)
                if todo:
                    start_next()
                    running += 1
    finally:
        halt.set()
        for bar in bars.values():
            bar.close()
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
    # A first scan rewrites the same index pages batch after batch. Copying the WAL back
    # (and syncing it) every 1,000 pages, SQLite's default, wrote each such page again and
    # waited for the disk ~200 times per 100k messages; every CHECKPOINT_PAGES pages, a
    # page rewritten by many batches is copied once (writer 20 % faster at 100k). The WAL
    # file grows to that size (40 MB) and stays; readers are unaffected.
    conn.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")


def _load_checkpoints(conn: sqlite3.Connection) -> dict[tuple[str, str], Checkpoint]:
    return {(r[0], r[1]): Checkpoint(r[2], r[3], r[4]) for r in conn.execute(
        "SELECT account, folder, uidvalidity, last_uid, highestmodseq FROM mail_checkpoints")}


def _enrolled(conn: sqlite3.Connection) -> frozenset[str]:
    """Addresses (primary and other) of prospects with a live enrollment: their mail's
    text is read (a first line "unsubscribe" ends the enrollment)."""
    return frozenset(r[0] for r in conn.execute(
        "SELECT p.email FROM enrollments e JOIN prospects p ON p.id = e.prospect_id"
        " WHERE e.state = 'active'"
        " UNION SELECT a.email FROM enrollments e JOIN prospect_addresses a"
        " ON a.prospect_id = e.prospect_id WHERE e.state = 'active'"))


def _folder(run: ScanRun, state: FolderState, bars: dict | None) -> None:
    """A folder is planned: register it (its checkpoint is saved with the next batch or
    at the end), open its progress bar when there is new mail."""
    plan = state.plan
    run.folders[(state.account, plan.folder)] = state
    if plan.reset:
        log.warning("account %s: folder %s has a new UIDVALIDITY: rescanning it "
                    "(known messages are skipped)", state.account, plan.folder)
    if bars is not None and plan.handles:
        for bar in bars.values():
            bar.close()
        bars.clear()
        bars[(state.account, plan.folder)] = run.progress(f"{state.account} {plan.folder}",
                                                          len(plan.handles))


def _known(conn: sqlite3.Connection, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        found.update(r[0] for r in conn.execute(
            "SELECT message_key FROM mail_messages WHERE message_key IN"
            f" ({','.join('?' * len(part))})", part))
    return found


def _chunk(run: ScanRun, event: ChunkEvent) -> None:
    """Record one fetched chunk: what is not recorded already, with the checkpoint."""
    from salescli.mail.record import record

    run.add(event.account, "seen", event.seen)
    if event.duplicates:
        run.add(event.account, "duplicates", event.duplicates)
    known = _known(run.conn, [e.key for e in event.envs])
    fresh: list[Envelope] = []
    for env in event.envs:
        if env.key in known:
            run.add(event.account, "duplicates")
        else:
            fresh.append(env)
    record(run, fresh, event.state, event.covered)


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
