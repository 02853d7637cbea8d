"""Cron entry: send due notifications (``salescli notify``; arguments are passed on).

Run as ``python -m salescli.jobs.notify`` every few minutes, after the scan.
"""

from __future__ import annotations

from salescli.jobs import main


def commands(argv: list[str]) -> list[list[str]]:
    return [["notify", *argv]]


if __name__ == "__main__":
    main("notify", commands)
