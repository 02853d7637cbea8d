"""``scan --watch``: the email monitor as a long-running service, near real time.

One scan cycle (a ``scan`` job: lock, job_runs row, summary line) runs at start, then
whenever a watched folder reports new mail, and at least every ``interval`` seconds (the
polling fallback for servers without IDLE and for local mailboxes; each cycle's job row
and checkpoint times are the watcher's heartbeat, which ``salescli health`` checks).

Each watched IMAP folder (those a scan reads: INBOX and Sent, or the configured ones)
holds IMAP IDLE on a connection of its own (imapclient's ``idle``/``idle_check``),
re-IDLEs before the server's 30-minute timeout, and reconnects with exponential backoff
after a drop or a server restart. After every (re)start of IDLE it asks for a cycle, so
mail that arrived while no IDLE was active is never left waiting. A stop request
(SIGTERM, set by the CLI) ends the current batch cleanly: its transaction commits, the
job row is finished, the process exits.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from salescli.core.errors import JobLocked, SalescliError
from salescli.core.faults import failpoint
from salescli.mail.run import ScanOptions

log = logging.getLogger("salescli.mail")

REIDLE_SECONDS = 28 * 60  # RFC 2177: servers may drop an IDLE after 30 minutes
MAX_BACKOFF = 60.0


def reidle_seconds() -> float:
    """``SALESCLI_WATCH_REIDLE`` (seconds between re-IDLEs; default 28 minutes)."""
    value = os.environ.get("SALESCLI_WATCH_REIDLE", "").strip()
    try:
        return max(0.5, float(value)) if value else REIDLE_SECONDS
    except ValueError:
        from salescli.core.errors import InvalidValue

        raise InvalidValue("SALESCLI_WATCH_REIDLE", value, "is not a number of seconds") \
            from None


@dataclass
class Watch:
    """What the watcher shares between its threads: the stop request, the wake-up
    signal, the IDLE-capable folders, and counters for the log."""

    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    idling: set[str] = field(default_factory=set)
    cycles: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def watch(db_file: str | os.PathLike | None = None, *, source: str = "imap",
          account: str | None = None, my_addresses: list[str] | None = None,
          options: ScanOptions | None = None, interval: float = 300.0,
          state: Watch | None = None,
          cycle: Callable[[], Any] | None = None) -> int:
    """Watch the mailboxes until ``state.stop`` is set; returns the number of cycles run.
    A cycle that fails (a server down) is logged and retried at the next wake-up."""
    from salescli.mail.scan import scan_sources, sources_for

    state = state or Watch()
    options = options or ScanOptions()
    options.stop = state.stop
    reidle = reidle_seconds()
    sources_for(source, account, my_addresses=my_addresses)  # bad settings: fail now
    idlers: list[threading.Thread] = []
    if source == "imap":
        from salescli.mail import config

        for acc in config.select(config.load_accounts(), account):
            t = threading.Thread(target=_idle_account, args=(acc, state, reidle),
                                 name=f"idle {acc.name}", daemon=True)
            t.start()
            idlers.append(t)

    def one_cycle() -> None:
        scan_sources(db_file, source=source, account=account, my_addresses=my_addresses,
                     options=options)

    run_cycle = cycle or one_cycle
    try:
        while not state.stop.is_set():
            state.wake.clear()
            try:
                run_cycle()
            except JobLocked:
                log.info("another scan is running; the watcher waits for the next wake-up")
            except SalescliError as exc:
                log.error("scan cycle failed: %s", exc)
            state.cycles += 1
            if state.stop.is_set():
                break
            state.wake.wait(interval)
    finally:
        state.stop.set()
        for t in idlers:
            t.join(timeout=5)
    return state.cycles


def _idle_account(acc: Any, state: Watch, reidle: float) -> None:
    """Find the account's watched folders and hold IDLE on each (one thread each)."""
    from salescli.mail.sources import ImapSource

    delay = 1.0
    while not state.stop.is_set():
        src = ImapSource(acc)
        try:
            src.open()
            folders = [name for name, _sent in src.folders()]
            break
        except SalescliError as exc:
            log.warning("account %s: cannot list folders to watch (%s); retry in %.0fs",
                        acc.name, exc, delay)
        finally:
            src.close()
        if state.stop.wait(delay):
            return
        delay = min(MAX_BACKOFF, delay * 2)
    else:
        return
    threads = [threading.Thread(target=idle_folder, args=(acc, name, state, reidle),
                                name=f"idle {acc.name}/{name}",  # pragma: no mutate: a debug aid
                                daemon=True)
               for name in folders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _raise_if_dropped(client: Any, responses: list) -> None:
    """imapclient's idle_check returns quietly when the server says BYE or closes the
    connection (a restart): raise, so the watcher reconnects now, not at the next re-IDLE."""
    import socket

    bye = [r for r in responses if isinstance(r, tuple) and r[:1] == (b"BYE",)]
    if bye:
        words = " ".join(w.decode("utf-8", "replace") if isinstance(w, bytes) else str(w)
                         for w in bye[0][1:])  # imapclient splits the text into atoms
        raise ConnectionError(f"server said BYE: {words}"[:200])
    sock = client.socket()
    timeout = sock.gettimeout()
    try:
        sock.setblocking(False)
        eof = sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError, ValueError):  # ValueError: TLS cannot peek
        eof = False
    finally:
        sock.settimeout(timeout)
    if eof:
        raise ConnectionError("the server closed the connection")


def idle_folder(acc: Any, folder: str, state: Watch, reidle: float) -> None:
    """Hold IDLE on one folder until stopped: wake the scanner on any change, re-IDLE
    every ``reidle`` seconds, reconnect with backoff after any failure. Returns at once
    (polling covers the folder) when the server has no IDLE."""
    from salescli.mail.sources import ImapSource

    where = f"{acc.name}/{folder}"
    delay = 1.0
    while not state.stop.is_set():
        src = ImapSource(acc)
        try:
            src.open()
            client = src.client
            if b"IDLE" not in client.capabilities():  # exact: has_capability() upper-cases
                log.warning("account %s: the server has no IDLE; polling every interval",
                            acc.name)
                return
            client.select_folder(folder, readonly=True)
            client.idle()
            with state.lock:
                state.idling.add(where)
            failpoint(f"watch.idling.{folder}")  # lets a test wait until the IDLE is up
            state.wake.set()  # mail that came while no IDLE was active
            delay = 1.0
            while not state.stop.is_set():
                started = time.monotonic()
                while not state.stop.is_set():
                    waited = time.monotonic() - started
                    # ">" would do the same: a float clock never reads exactly ``reidle``.
                    if waited >= reidle:  # pragma: no mutate (see above)
                        break
                    responses = client.idle_check(timeout=1.0)
                    if responses:
                        state.wake.set()
                    _raise_if_dropped(client, responses)
                _, responses = client.idle_done()
                if responses:
                    state.wake.set()
                if state.stop.is_set():
                    break
                failpoint(f"watch.reidle.{folder}")
                client.idle()
                state.wake.set()  # anything that arrived between DONE and IDLE
            return  # stopped
        except Exception as exc:  # a drop, a restart, a refused login: try again later
            if state.stop.is_set():
                break
            # Jittered, so that the watchers of one server do not all come back at once;
            # the warning says the wait itself.
            pause = delay * (0.5 + random.random() / 2)
            log.warning("account %s: watching %s failed (%s); reconnecting in %.2fs",
                        acc.name, folder, str(exc)[:200] or type(exc).__name__, pause)
        finally:
            with state.lock:
                state.idling.discard(where)
            src.close()
        if state.stop.wait(pause):
            break
        delay = min(MAX_BACKOFF, delay * 2)
