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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from salescli.core.db import transaction
from salescli.core.errors import InvalidValue, SalescliError
from salescli.mail.config import MailError
from salescli.mail.faults import failpoint
from salescli.mail.run import COUNT_KEYS, FolderState, ScanOptions, ScanRun, save_checkpoints
from salescli.mail.sources import Checkpoint, FolderPlan, Source

if TYPE_CHECKING:
    from salescli.mail.parse import Envelope

log = logging.getLogger("salescli.mail")


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
    run = ScanRun(conn, counts, options)
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


def _collect(run: ScanRun, source: Source) -> None:
    source.open()
    for folder, sent in source.folders():
        cp = _load_checkpoint(run.conn, source.account, folder)
        plan = source.plan(folder, sent, cp, run.options.since)
        state = FolderState(source.account, plan, cp, set(plan.handles))
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
                        if sent and env.from_addr:
                            learn.add(env.from_addr)
                        # Bounces first: before the From check and every filter.
                        if cls.is_bounce_candidate(env):
                            candidates.append(env)
                        elif env.from_error:
                            env.error = env.from_error
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
