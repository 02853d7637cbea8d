"""Cron entry: read new mail into the pipeline (``salescli scan``; arguments are passed on).

Run as ``python -m salescli.jobs.scan`` every few minutes.
"""

from __future__ import annotations

from salescli.jobs import main


def commands(argv: list[str]) -> list[list[str]]:
    return [["scan", *argv]]


if __name__ == "__main__":
    main("scan", commands)
