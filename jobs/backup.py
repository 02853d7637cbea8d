"""Cron entry: back up the databases into ``SALESCLI_BACKUP_DIR`` (``salescli db backup``).

Keeps ``SALESCLI_BACKUP_KEEP`` generations (default 7). Run as
``python -m salescli.jobs.backup`` once a day.
"""

from __future__ import annotations

from salescli.jobs import main, require


def commands(argv: list[str]) -> list[list[str]]:
    directory = require("SALESCLI_BACKUP_DIR", "the directory the daily backups go to")
    return [["db", "backup", directory, *argv]]


if __name__ == "__main__":
    main("backup", commands)
