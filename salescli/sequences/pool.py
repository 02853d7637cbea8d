"""What one send run keeps in memory: the sequences it met (steps and windows), and per
sender its settings, today's count, the time of its last mail and one open SMTP session.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from salescli.core.errors import SalescliError
from salescli.core.timeutil import iso
from salescli.metrics.days import midnight, zone
from salescli.sequences import enroll, plans, senders, store
from salescli.sequences.plans import Plan
from salescli.sequences.schedule import Window, utc


class Plans:
    """Sequences, their steps and windows, read once per run."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.cache: dict[int, tuple[dict, Plan, Window]] = {}

    def get(self, sequence_id: int) -> tuple[dict, Plan, Window]:
        if sequence_id not in self.cache:
            seq = dict(self.conn.execute("SELECT * FROM sequences WHERE id = ?",
                                         (sequence_id,)).fetchone())
            plan = store.plan_of(self.conn, seq)
            self.cache[sequence_id] = (seq, plan, Window.of(plan.window, plan.days,
                                                            plan.timezone))
        return self.cache[sequence_id]


class SenderPool:
    """Per-sender settings, today's count, the last send, and one open SMTP session."""

    def __init__(self, conn: sqlite3.Connection, moment: datetime,
                 sleep: Callable[[float], None], *,
                 one_click: tuple[str, bytes] | None, dry: bool = False):
        self.conn = conn
        self.dry = dry
        self.config = senders.load()
        self.by_address: dict[str, senders.Sender] = {}
        self.today = iso(midnight(moment.astimezone(zone()).date(), zone()))
        self.count: dict[str, int] = {}
        self.last: dict[str, float] = {}
        self.moment = moment
        self.sleep = sleep
        self.sessions: dict[str, Any] = {}
        self.owners: dict[tuple, dict[str, Any]] = {}
        # (endpoint URL, token key) for one-click unsubscribe links (compose.one_click)
        self.one_click = one_click
        self.stack = ExitStack()

    def get(self, address: str) -> senders.Sender:
        if address not in self.by_address:
            try:
                self.by_address[address] = senders.for_address(self.config, address)
            except SalescliError:
                if not self.dry:
                    raise
                self.by_address[address] = senders.Sender(address, None, 0, 0.0)
            self.count[address] = self.conn.execute(
                # (the pragma marks the string's first line: mutmut reads it there)
                "SELECT count(*) FROM sends"  # pragma: no mutate: SQL ignores case
                " WHERE sender = ? AND handoffs > 0 AND created_at >= ?",
                (address, self.today)).fetchone()[0]
            last = self.conn.execute("SELECT max(sent_at) FROM sends WHERE sender = ?",
                                     (address,)).fetchone()[0]
            ago = (self.moment - utc(last)).total_seconds() if last else 1e9
            self.last[address] = time.monotonic() - max(ago, 0)
        return self.by_address[address]

    def scope(self, prospect: dict[str, Any], sender: str) -> dict[str, Any]:
        """The template scope; the owner part is read once per owner and run."""
        key = (prospect.get("owner"), sender)
        if key not in self.owners:
            self.owners[key] = enroll.owner_of(self.conn, prospect.get("owner")) or {
                "username": prospect.get("owner"), "name": prospect.get("owner"),
                "email": sender}
        return plans.context(prospect, self.owners[key])

    def full(self, address: str) -> bool:
        cap = self.get(address).daily_cap
        return bool(cap) and self.count[address] >= cap

    def wait_gap(self, address: str) -> None:
        gap = self.get(address).min_gap
        left = self.last[address] + gap - time.monotonic()
        if gap and left > 0:
            self.sleep(left)

    def session(self, address: str) -> Any:
        from salescli.notify import smtp

        if address not in self.sessions:
            self.sessions[address] = self.stack.enter_context(
                smtp.session(self.get(address).settings))
        return self.sessions[address]

    def drop(self, address: str) -> None:
        """Forget a session after a failure (the next mail reconnects)."""
        session = self.sessions.pop(address, None)
        if session is not None:
            try:
                session.client.close()
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.stack.close()
        except (SalescliError, OSError):
            pass
