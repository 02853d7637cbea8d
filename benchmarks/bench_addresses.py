"""Benchmark: what other addresses (issue 16) cost where they are read in bulk.

On a database of N prospects, a fifth of them with two other addresses, measures in one
run, in CPU time (``time.process_time``; the machine may be shared):

* the scanner's address → prospect look-up for a batch of 5,000 addresses (half primary,
  a quarter other, a quarter unknown): ``addresses.prospect_for`` against the look-up it
  replaced (primary addresses only, one ``IN`` per 500);
* ``prospects export`` rows with ``other_emails`` against rows without (the per-row
  subquery), streamed to nowhere.

Prints each pair and their ratio.

    python benchmarks/bench_addresses.py [--prospects 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path


def build(path: Path, n: int) -> list[str]:
    """N prospects (rows written directly, as an import would), every fifth with two
    other addresses; returns the other addresses."""
    from salescli.core import db

    conn = db.open_write(path)
    ts = "2025-01-01T00:00:00Z"
    with db.transaction(conn):
        conn.executemany(
            "INSERT INTO prospects(email, name, stage_id, value, currency, stage_entered_at,"
            " created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
            [(f"p{i}@example.com", f"Person {i}", i % 5000, "EUR" if i % 3 else None, ts, ts,
              ts) for i in range(n)])
        others = [(i + 1, f"p{i}.{k}@home.example", ts) for i in range(0, n, 5) for k in (1, 2)]
        conn.executemany("INSERT INTO prospect_addresses(prospect_id, email, created_at)"
                         " VALUES (?, ?, ?)", others)
    conn.close()
    return [o[1] for o in others]


def old_lookup(conn, wanted: list[str]) -> dict[str, int]:
    """The scanner's look-up before issue 16: primary addresses only."""
    ids: dict[str, int] = {}
    wanted = sorted(set(wanted))
    for i in range(0, len(wanted), 500):
        part = wanted[i:i + 500]
        ids.update((r[1], r[0]) for r in conn.execute(
            f"SELECT id, email FROM prospects WHERE email IN ({','.join('?' * len(part))})",
            part))
    return ids


def cpu(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prospects", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from salescli.core import db
    from salescli.pipeline import addresses, prospects

    tmp = Path(tempfile.mkdtemp(prefix="bench_addresses_"))
    try:
        path = tmp / "sales.db"
        others = build(path, args.prospects)
        conn = db.open_read(path)
        rnd = random.Random(1)
        batch = ([f"p{rnd.randrange(args.prospects)}@example.com" for _ in range(2500)]
                 + rnd.sample(others, min(1250, len(others)))
                 + [f"nobody{i}@example.net" for i in range(1250)])
        old = cpu(lambda: old_lookup(conn, batch), args.repeat)
        new = cpu(lambda: addresses.prospect_for(conn, batch), args.repeat)
        assert len(addresses.prospect_for(conn, batch)) > len(old_lookup(conn, batch))
        print(f"scanner look-up, {len(batch)} addresses: primary only {old * 1000:.1f} ms, "
              f"primary + other {new * 1000:.1f} ms CPU, ratio {new / old:.2f}")

        def export(with_addresses: bool) -> None:
            for _ in prospects.list_prospects(conn, addresses=with_addresses):
                pass

        plain = cpu(lambda: export(False), args.repeat)
        full = cpu(lambda: export(True), args.repeat)
        print(f"export rows, {args.prospects} prospects: without other_emails {plain:.2f} s,"
              f" with {full:.2f} s CPU, ratio {full / plain:.2f}")
        conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
