"""Fail points: named places where a test can kill or pause a job for real (the scan,
the sequence sender).

``SALESCLI_FAILPOINT=NAME[:N][:ACTION]`` makes the N-th pass (default 1) through
``failpoint(NAME)`` either SIGKILL the process (the default action, ``kill``) or
``pause=FILE``: create FILE and wait until the test removes it, or ``touch=FILE``: create
FILE and go on; any other action is a ValueError. Unset, it costs one
dictionary lookup. For fault tests only; never set it in production.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Kill or pause here if ``SALESCLI_FAILPOINT`` names this point and pass."""
    spec = os.environ.get("SALESCLI_FAILPOINT")
    if not spec or not spec.startswith(name):
        return
    parts = spec.split(":", 2)
    if parts[0] != name:
        return
    nth = int(parts[1]) if len(parts) > 1 and parts[1] else 1
    action = parts[2] if len(parts) > 2 else "kill"
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != nth:
        return
    if action.startswith("touch="):  # say "about to pass here" and go on
        Path(action[6:]).write_text(str(os.getpid()))
        return
    if action.startswith("pause="):
        flag = Path(action[6:])
        flag.write_text(str(os.getpid()))
        deadline = time.monotonic() + 120  # pragma: no mutate (a hang guard: any long wait)
        while flag.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return
    if action != "kill":  # a typo must not pass for a kill
        raise ValueError(f"SALESCLI_FAILPOINT {spec!r}: the action must be kill, "
                         "pause=FILE or touch=FILE")
    os.kill(os.getpid(), signal.SIGKILL)
