"""One logging configuration for every command and job.

On a terminal: plain messages. Under cron (stderr not a terminal): one line per
event with timestamp, level and job. ``SALESCLI_LOG_FILE`` adds a rotating file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys


def setup_logging(verbose: int = 0, quiet: bool = False, job: str | None = None) -> None:
    """Configure the ``salescli`` logger once per process."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger("salescli")
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    tag = f" [{job}]" if job else ""
    stream = logging.StreamHandler(sys.stderr)
    if sys.stderr.isatty():
        stream.setFormatter(logging.Formatter("%(message)s"))
    else:
        stream.setFormatter(logging.Formatter(
            f"%(asctime)s %(levelname)s{tag} %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root.addHandler(stream)
    log_file = os.environ.get("SALESCLI_LOG_FILE")
    if log_file:
        fh = logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=5)
        fh.setFormatter(logging.Formatter(
            f"%(asctime)s %(levelname)s{tag} %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
        root.addHandler(fh)
    root.propagate = False
