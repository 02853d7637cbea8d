"""The state of one scan, shared by fetching (``scan``) and recording (``record``):
folders and their safe checkpoints, counts, our own addresses."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from salescli.core.env import number
from salescli.core.timeutil import iso, now
from salescli.mail.sources import Checkpoint, FolderPlan

ACTOR = "monitor"
# Messages per transaction: one fetched chunk (``SALESCLI_IMAP_FETCH_BATCH``, 500). Other
# writers wait at most one batch (~0.25 s on a quiet 2-core machine, seconds under heavy
# load); 200 held the lock 0.1 s but cost 12 % more of the writer's CPU at 100k messages
# (each commit writes every index page the batch touched, so larger batches write fewer).
BATCH_SIZE = 500
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
    leads of unknown correspondents; ``progress`` draws bars (the CLI's, on a terminal);
    ``jobs`` accounts are fetched at once (one writer records them all); ``stop`` ends
    the scan cleanly after the batch being recorded (``scan --watch`` on SIGTERM)."""

    since: str | None = None
    create_unknown: bool = False
    batch_size: int = field(default_factory=lambda: number("SALESCLI_SCAN_BATCH", BATCH_SIZE,
                                                           minimum=1))
    progress: ProgressFactory | None = None
    deliver: bool = True
    jobs: int = 4
    stop: Any = None  # a threading.Event: set, the scan ends after the current batch


@dataclass
class FolderState:
    """One folder of the scan: its plan, and how many of the plan's handles (in order)
    have been recorded (``done``), which makes the checkpoint safe to save."""

    account: str
    plan: FolderPlan
    base: Checkpoint | None
    done: int = 0
    newest: str | None = None
    saved: tuple | None = None

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint that is safe now: final when every handle is recorded, else the
        UID just below the first one not recorded yet (numeric sources only)."""
        final = self.plan.final
        if final is None:
            return None
        if self.done >= len(self.plan.handles):
            return final
        if not self.plan.numeric:
            return None
        last = max(self.plan.base_last, self.plan.handles[self.done] - 1)
        hms = self.base.highestmodseq if self.base and not self.plan.reset else None
        return Checkpoint(final.uidvalidity, last, hms)


class ScanRun:
    """State of one scan: folders, counts, our own addresses. Holds no message beyond the
    batch being recorded, so memory stays flat whatever the mailbox's size."""

    # Set by each batch before it records (``record``): the prospect ids of the addresses
    # it is about, their latest interaction before it, its bounced addresses that are
    # primary, and the time its rows are processed at.
    ids: dict[str, int]
    before: dict[int, str | None]
    primary: set[str]
    batch_time: str

    def __init__(self, conn: sqlite3.Connection, counts: dict, options: ScanOptions):
        self.conn = conn
        self.counts = counts
        self.options = options
        self.folders: dict[tuple[str, str], FolderState] = {}
        self.own: set[str] = set()
        self.progress = options.progress or (lambda label, total: _NoProgress())
        self.notify_after = iso(datetime.now(UTC) - NOTIFY_MAX_AGE)
        counts.setdefault("accounts", {})
        for key in (*COUNT_KEYS, "moves", "status_changes"):
            counts.setdefault(key, 0)

    def add(self, account: str, key: str, n: int = 1) -> None:
        """Count ``n`` more of ``key`` (one of COUNT_KEYS) for ``account``, one of the
        scan's sources (``scan`` gives each its counts first), and in all."""
        self.counts["accounts"][account][key] += n
        self.counts[key] += n


def save_checkpoints(run: ScanRun, *, final: bool = False) -> None:
    ts = now()
    for (account, folder), state in list(run.folders.items()):
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
            " newest_message_at = nullif(max(coalesce(newest_message_at, ''),"
            " coalesce(excluded.newest_message_at, '')), ''),"  # a folder without mail: NULL
            " last_scan_at = excluded.last_scan_at",
            (account, folder, *values[:3], state.newest, ts))
        state.saved = values
