"""Parsing a large import's headers in a worker process.

The fetch threads and the writer share one interpreter: while a fetch thread parses
headers (pure Python, about a third of the scan's CPU), the writer's thread waits for the
GIL between its SQLite calls, so a first import ran about as long as both added up. A
folder with at least ``fetch.WORKER_MIN`` new messages is parsed by a child process of the
fetch thread (``python -m salescli.mail.parse_worker``) that gets each chunk's raw
headers and sends back the envelopes, pickled, over its pipes; the fetch thread waits
for it without the GIL. Rescans and watch cycles (a few messages) parse in-process. The
envelopes are the same either way (``parse.parse_many``). If the worker cannot be
started or dies, the thread parses in-process from then on; a scan killed with -9
leaves no worker behind (it reads EOF and exits).
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from salescli.mail.parse import Envelope

log = logging.getLogger("salescli.mail")
Item = tuple[Any, str, bytes, Any]  # handle, location, raw header bytes, INTERNALDATE


class ParseWorker:
    """One worker process, started at the first ``parse``; ``close`` ends it."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None  # pragma: no mutate (any falsy: not started)
        self._failed = False  # pragma: no mutate (any falsy value: not failed)

    def parse(self, account: str, folder: str, sent: bool, items: list[Item]
              ) -> list[Envelope]:
        """``parse.parse_many`` of the items, in the worker (in-process if it failed)."""
        from salescli.mail.parse import parse_many

        if not self._failed:
            try:
                proc = self._proc or self._start()
                pickle.dump((account, folder, sent, items), proc.stdin,
                            protocol=pickle.HIGHEST_PROTOCOL)  # pragma: no mutate (speed only)
                proc.stdin.flush()
                return pickle.load(proc.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                log.warning("header parser process failed (%s): parsing in-process",
                            type(exc).__name__)
                self._failed = True
                self.close()
        return parse_many(account, folder, sent, items)

    def _start(self) -> subprocess.Popen:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "salescli.mail.parse_worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, bufsize=1 << 20)  # pragma: no mutate (speed only)
        return self._proc

    def close(self) -> None:
        """End the worker (it exits when its input ends)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)  # pragma: no mutate (it exits at EOF at once)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """The worker's loop: a pickled request in, its pickled envelopes out, until EOF."""
    from salescli.mail.parse import parse_many

    while True:
        try:
            account, folder, sent, items = pickle.load(inp)
        except EOFError:
            return
        pickle.dump(parse_many(account, folder, sent, items), out,
                    protocol=pickle.HIGHEST_PROTOCOL)  # pragma: no mutate (speed only)
        out.flush()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scan's to handle; EOF ends us
    serve(sys.stdin.buffer, sys.stdout.buffer)
