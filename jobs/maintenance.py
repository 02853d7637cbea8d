"""Cron entry: retention (``salescli db cleanup``) then ``salescli db optimize``.

Retention is ``SALESCLI_RETENTION_DAYS`` (default 90). Run as
``python -m salescli.jobs.maintenance`` once a week, away from the backup.
"""

from __future__ import annotations

from salescli.jobs import main


def commands(argv: list[str]) -> list[list[str]]:
    return [["db", "cleanup", *argv], ["db", "optimize"]]


if __name__ == "__main__":
    main("maintenance", commands)
