"""Cron entry: ``salescli health``, printing (so cron mails) only when unhealthy.

Run as ``python -m salescli.jobs.health`` hourly; unlike a bare ``salescli -q health``
it reads the ``SALESCLI_HEALTH_*`` thresholds from ``SALESCLI_ENV_FILE`` too.
"""

from __future__ import annotations

from salescli.jobs import main


def commands(argv: list[str]) -> list[list[str]]:
    return [["health", *argv]]


if __name__ == "__main__":
    main("health", commands)
