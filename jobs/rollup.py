"""Cron entry: the nightly metrics rollup (``salescli rollup``; arguments are passed on).

Run as ``python -m salescli.jobs.rollup`` once a night.
"""

from __future__ import annotations

from salescli.jobs import main


def commands(argv: list[str]) -> list[list[str]]:
    return [["rollup", *argv], ["forecast", "refresh"]]


if __name__ == "__main__":
    main("rollup", commands)
