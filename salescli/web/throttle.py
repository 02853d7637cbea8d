"""Sign-in throttling: growing delays per (username, client address) and per address.

The failures are the ``login_failed`` rows of the sign-in log, so the log stays the
evidence and a restart forgets nothing. Nothing is keyed on the username alone: an
attacker guessing someone's password slows themselves down, never the real user
signing in from their own address.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from salescli.core.timeutil import iso
from salescli.web.tokens import SigninEvent

WINDOW = timedelta(hours=1)
PAIR_FREE_FAILURES = 5      # failures for one username from one address before delays
REMOTE_FREE_FAILURES = 20   # failures from one address, any usernames, before delays
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in attempt may go ahead now; if not, how long to wait and why."""

    allowed: bool
    retry_after: int = 0
    key: str = ""


def delay_after(failures: int, free: int) -> timedelta:
    """The wait after ``failures`` recent failures: none up to ``free``, then 30 s doubling
    with each further failure, at most 15 minutes."""
    if failures < free:
        return timedelta(0)
    return min(FIRST_DELAY * 2 ** min(failures - free, 16), MAX_DELAY)


def _failures(creds: sqlite3.Connection, where: str, args: tuple, now: datetime
              ) -> tuple[int, datetime | None]:
    count, last = creds.execute(
        f"SELECT count(*), max(at) FROM signin_log WHERE {where} AND event = ? AND at >= ?",
        (*args, SigninEvent.LOGIN_FAILED.value, iso(now - WINDOW))).fetchone()
    return count, (datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None)


def check(creds: sqlite3.Connection, username: str, remote: str | None,
          now: datetime) -> Verdict:
    """May ``username`` try a password from ``remote`` at ``now``? Looks at the failures in
    the last hour for that pair and for that address; the longer wait wins."""
    checks = [("remote IS ?", (remote,), REMOTE_FREE_FAILURES, "address")]
    if username:
        checks.insert(0, ("username = ? AND remote IS ?", (username, remote),  # pragma: no mutate
                          PAIR_FREE_FAILURES, "user and address"))
    worst = Verdict(True)
    for where, args, free, key in checks:
        count, last = _failures(creds, where, args, now)
        if last is None:
            continue
        wait = (last + delay_after(count, free) - now).total_seconds()
        if wait > 0 and wait > worst.retry_after:
            worst = Verdict(False, int(wait) + (wait % 1 > 0), key)
    return worst
