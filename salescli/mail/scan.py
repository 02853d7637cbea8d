"""The scan pipeline: collect new headers from every source, then record them in the
order the mails were sent, in short transactions that also carry the checkpoints.

1. Collect: per account and folder, what is new since the checkpoint (headers only;
   whole messages only for bounce candidates). Messages already processed (by key)
   are dropped. No database transaction is open while talking to a server.
2. Record: every collected message of the run, all folders and accounts, sorted by
   sent date, in batches. Each batch is one transaction holding its interactions, audit
   rows, rule effects, notifications, processed-message rows and the checkpoints that
   the batch makes safe — so a run killed at any point is simply resumed by the next.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from salescli.db import now, transaction
from salescli.errors import InvalidValue, SalescliError
from salescli.mail.config import MailError
from salescli.mail.faults import failpoint
from salescli.mail.sources import Checkpoint, FolderPlan, Source
from salescli.timeutil import iso

if TYPE_CHECKING:
    from salescli.mail.parse import Envelope

log = logging.getLogger("salescli.mail")
ACTOR = "monitor"
NOTIFY_MAX_AGE = timedelta(days=7)
COUNT_KEYS = ("seen", "matched", "outbound", "replies", "auto_replies", "bounces", "ignored",
              "unmatched", "duplicates", "quarantined", "created")


class Progress(Protocol):
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[str, int], Progress]


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class ScanOptions:
    """How to scan: ``since`` (ISO UTC) bounds a first import; ``create_unknown`` makes
    leads of unknown correspondents; ``progress`` draws bars (the CLI's, on a terminal)."""

    since: str | None = None
    create_unknown: bool = False
    batch_size: int = field(default_factory=lambda: int(os.environ.get("SALESCLI_SCAN_BATCH")
                                                        or 1000))
    progress: ProgressFactory | None = None
    deliver: bool = True


@dataclass
class _Folder:
    account: str
    plan: FolderPlan
    base: Checkpoint | None
    pending: set = field(default_factory=set)
    newest: str | None = None
    saved: tuple | None = None

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint that is safe now: final when nothing is pending, else the UID
        just below the oldest pending one (numeric sources only)."""
        final = self.plan.final
        if final is None:
            return None
        if not self.pending:
            return final
        if not self.plan.numeric:
            return None
        last = max(self.plan.base_last, min(self.pending) - 1)
        hms = self.base.highestmodseq if self.base and not self.plan.reset else None
        return Checkpoint(final.uidvalidity, last, hms)


class _Run:
    """State of one scan: folders, collected envelopes, counts, our own addresses."""

    def __init__(self, conn: sqlite3.Connection, counts: dict, options: ScanOptions):
        self.conn = conn
        self.counts = counts
        self.options = options
        self.folders: dict[tuple[str, str], _Folder] = {}
        self.envelopes: list[Envelope] = []
        self.keys: set[str] = set()
        self.ids: dict[str, int] = {}
        self.batch_time: str | None = None
        self.own: set[str] = set()
        self.learn: dict[str, set[str]] = {}
        self.progress = options.progress or (lambda label, total: _NoProgress())
        self.notify_after = iso(datetime.now(UTC) - NOTIFY_MAX_AGE)
        counts.setdefault("accounts", {})
        for key in (*COUNT_KEYS, "moves", "status_changes"):
            counts.setdefault(key, 0)

    def add(self, account: str, key: str, n: int = 1) -> None:
        acc = self.counts["accounts"].setdefault(account, dict.fromkeys(COUNT_KEYS, 0))
        acc[key] = acc.get(key, 0) + n
        self.counts[key] = self.counts.get(key, 0) + n


def scan(conn: sqlite3.Connection, sources: list[Source], options: ScanOptions | None = None,
         counts: dict | None = None) -> dict[str, Any]:
    """Scan every source once; returns (and fills) ``counts``. Raises MailError naming the
    accounts that failed, after the others have been recorded."""
    options = options or ScanOptions()
    counts = {} if counts is None else counts
    # Recording touches many index pages at random: a larger page cache for this
    # connection saves re-reading them (this connection only; 16 MB). Statement
    # journals (each insert fires a trigger) stay in memory instead of temp files.
    conn.execute("PRAGMA cache_size = -16000")
    conn.execute("PRAGMA temp_store = MEMORY")
    run = _Run(conn, counts, options)
    failed: list[str] = []
    started, cpu = time.monotonic(), time.process_time()
    for source in sources:
        run.counts["accounts"].setdefault(source.account, dict.fromkeys(COUNT_KEYS, 0))
        run.own |= set(source.own)
        try:
            _collect(run, source)
        except SalescliError as exc:
            failed.append(str(exc))
            run.counts["accounts"][source.account]["error"] = str(exc)
            log.error("%s", exc)
        finally:
            source.close()
    for account, learned in run.learn.items():
        if not any(s.own for s in sources if s.account == account):
            run.own |= learned
    failpoint("scan.collected")
    log.debug("collected %d new messages in %.2fs (CPU %.2fs)", len(run.envelopes),
              time.monotonic() - started, time.process_time() - cpu)
    started, cpu = time.monotonic(), time.process_time()
    if run.envelopes:
        from salescli.mail.record import record

        record(run)
    _save_all_checkpoints(run)
    log.debug("recorded them in %.2fs (CPU %.2fs)", time.monotonic() - started,
              time.process_time() - cpu)
    if options.deliver:
        failpoint("scan.before_deliver")
        _deliver(run)
    if failed:
        raise MailError("; ".join(failed))
    return counts


# -- collect ------------------------------------------------------------------------------
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


def _collect(run: _Run, source: Source) -> None:
    source.open()
    for folder, sent in source.folders():
        cp = _load_checkpoint(run.conn, source.account, folder)
        plan = source.plan(folder, sent, cp, run.options.since)
        state = _Folder(source.account, plan, cp, set(plan.handles))
        run.folders[(source.account, folder)] = state
        if not plan.handles:
            continue
        # Parsing and classifying are imported only when there is new mail.
        from salescli.mail import classify as cls
        from salescli.mail.parse import Envelope, parse_envelope

        if plan.reset:
            log.warning("account %s: folder %s has a new UIDVALIDITY: rescanning it "
                        "(known messages are skipped)", source.account, folder)
        bar = run.progress(f"{source.account} {folder}", len(plan.handles))
        candidates: list[Envelope] = []
        found: list[Envelope] = []
        try:
            for chunk in source.headers(plan):
                envs = []
                for handle, raw, arrived in chunk:
                    env = Envelope(source.account, folder, handle,
                                   source.location(folder, handle), sent_folder=sent)
                    envs.append(parse_envelope(env, raw, arrived))
                known = _known(run.conn, [e.key for e in envs])
                for env in envs:
                    run.add(source.account, "seen")
                    if env.key in known or env.key in run.keys:
                        state.pending.discard(env.handle)
                        run.add(source.account, "duplicates")
                        continue
                    if not env.error and run.options.since and env.sent_at < run.options.since:
                        state.pending.discard(env.handle)
                        continue
                    run.keys.add(env.key)
                    if not env.error:
                        learn = run.learn.setdefault(source.account, set())
                        learn.update(env.delivered_to)  # the mailbox's own address(es)
                        if sent:
                            learn.add(env.from_addr)
                        if cls.is_bounce_candidate(env):
                            candidates.append(env)
                    found.append(env)
                bar.update(len(chunk))
            if candidates:
                _read_bounces(source, plan, candidates)
        finally:
            bar.close()
        # Reached only when the whole folder was read: a failure above drops this
        # folder's messages (a bounce whose body was never read must not be recorded as
        # ordinary mail); they stay pending and the next run fetches them again.
        for env in found:
            if not env.error:
                cls.mark(env)
        run.envelopes.extend(found)


def _read_bounces(source: Source, plan: FolderPlan, candidates: list[Envelope]) -> None:
    from salescli.mail import classify as cls

    by_handle = {e.handle: e for e in candidates}
    for handle, raw in source.bodies(plan, [e.handle for e in candidates]):
        env = by_handle.get(handle)
        if env is None:
            continue
        try:
            env.failures = cls.bounce_failures(raw)
        except cls.UnreadableBounce as exc:
            env.error = str(exc)
        except Exception as exc:
            env.error = f"bounce could not be parsed ({type(exc).__name__}: {exc})"[:500]


# -- checkpoints and notifications ------------------------------------------------------
def _save_checkpoints(run: _Run, *, final: bool = False) -> None:
    ts = now()
    for (account, folder), state in run.folders.items():
        cp = state.checkpoint()
        if cp is None:
            continue
        values = (cp.uidvalidity, cp.last_uid, cp.highestmodseq, state.newest)
        if values == state.saved and not final:
            continue
        run.conn.execute(
            "INSERT INTO mail_checkpoints(account, folder, uidvalidity, last_uid, highestmodseq,"
            " newest_message_at, last_scan_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
            " last_uid = excluded.last_uid, highestmodseq = excluded.highestmodseq,"
            " newest_message_at = max(coalesce(newest_message_at, ''),"
            " coalesce(excluded.newest_message_at, '')),"
            " last_scan_at = excluded.last_scan_at",
            (account, folder, *values[:3], state.newest, ts))
        state.saved = values


def _save_all_checkpoints(run: _Run) -> None:
    if run.folders:
        with transaction(run.conn):
            _save_checkpoints(run, final=True)


def _deliver(run: _Run) -> None:
    from salescli import notify

    try:
        result = notify.deliver(run.conn)
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
    from salescli.runner import run_job

    sources = sources_for(source, account, my_addresses=my_addresses)  # errors: no job row
    with run_job("scan", db_file) as job:
        scan(job.conn, sources, options, counts=job.counts)
        return job.counts
