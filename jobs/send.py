"""Cron entry: send due follow-up sequence steps (``salescli send``; arguments are passed on).

Run as ``python -m salescli.jobs.send`` every few minutes, after the scan (so the exit rules
see the latest replies and bounces).
"""

from __future__ import annotations

from salescli.jobs import main


def commands(argv: list[str]) -> list[list[str]]:
    return [["send", *argv]]


if __name__ == "__main__":
    main("send", commands)
