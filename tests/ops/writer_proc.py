"""A writer for the backup tests: adds prospects as fast as it can, printing each committed one.

Usage: python writer_proc.py DB START — prints ``N`` after the commit of prospect N.
"""

from __future__ import annotations

import sys

from salescli.core import db
from salescli.pipeline import prospects


def main() -> None:
    conn = db.open_write(sys.argv[1])
    i = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    while True:
        prospects.add(conn, "writer", f"p{i}@writer.example", notes="n" * 300)
        print(i, flush=True)
        i += 1


if __name__ == "__main__":
    main()
