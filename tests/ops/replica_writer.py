"""A CLI writer for the replication tests: ``salescli prospects add`` (and a move) in a loop.

Usage: python replica_writer.py LOG — runs the real commands in this process and appends
``EMAIL UNIXTIME`` to LOG after each one returns (its transaction is committed by then),
until killed.
"""

from __future__ import annotations

import sys
import time

from salescli.cli import cli


def run(*args: str) -> None:
    cli.main(list(args), prog_name="salescli", standalone_mode=False)


def main() -> None:
    log = open(sys.argv[1], "a", buffering=1)  # noqa: SIM115 - open until killed
    i = 0
    while True:
        email = f"w{i}@writer.example"
        run("prospects", "add", email, "--name", f"Writer {i}")
        if i % 3 == 0:
            run("prospects", "move", email, "contacted", "--note", "replica test")
        log.write(f"{email} {time.time():.6f}\n")
        i += 1


if __name__ == "__main__":
    main()
