"""Cron entry: mail the weekly report (``salescli report weekly --email …``).

Recipients: ``SALESCLI_REPORT_TO``, comma-separated addresses; ``@manager`` (the
default) means every manager with an email address (``salescli users``). Run as
``python -m salescli.jobs.report`` on Monday morning, after the nightly rollup.
"""

from __future__ import annotations

import os

from salescli.jobs import main

DEFAULT_TO = "@manager"


def commands(argv: list[str]) -> list[list[str]]:
    to = os.environ.get("SALESCLI_REPORT_TO", "").strip() or DEFAULT_TO
    args = ["report", "weekly"]
    for address in (a.strip() for a in to.split(",")):
        if address:
            args += ["--email", address]
    return [args + argv]


if __name__ == "__main__":
    main("report", commands)
