#!/usr/bin/env python3
"""Benchmark: ``salescli db backup`` of a large database while a scan-like writer commits.

Compares, on the same file and in one run:
  1. ``sqlite3 DB ".backup OUT"`` with no writer (the baseline),
  2. salescli's online backup with no writer,
  3. salescli's online backup while a writer commits small transactions non-stop,
  4. ``sqlite3 .backup`` while the same writer runs (it restarts on every commit; capped),
  5. ``sqlite3`` doing what salescli does (``BEGIN; .backup``) while the writer runs,
and reports copy time, the time of the integrity_check salescli adds, the ratio to the
baseline, and the writer's longest stall (BEGIN IMMEDIATE → COMMIT) against the busy timeout.

Usage:
    python benchmarks/bench_backup.py [--size-mb 1024] [--workdir DIR] [--reuse] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(path: Path, size_mb: int) -> None:
    """A salescli database of about ``size_mb`` MB: prospects and many interactions."""
    from salescli.core import db

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db.open_write(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    rng = random.Random(1)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9)))
             for _ in range(5000)]
    now = "2025-01-01T00:00:00Z"
    conn.execute("BEGIN")
    for i in range(5000):
        conn.execute(
            "INSERT INTO prospects(email, name, company, owner, stage_id, stage_entered_at,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
            (f"p{i}@bench.example", f"Person {i}", f"Company {i % 300}", f"owner{i % 5}",
             now, now, now))
    conn.execute("COMMIT")
    target = size_mb * 1024 * 1024
    n = 0
    started = time.monotonic()
    while path.stat().st_size + _wal(path) < target:
        conn.execute("BEGIN")
        rows = []
        for _ in range(5000):
            body = " ".join(rng.choices(words, k=150))
            rows.append((1 + n % 5000, "email_in", f"2024-{1 + n % 12:02d}-01T00:00:00Z",
                         f"subject {n}", body, f"<m{n}@bench.example>", f"t{n % 9000}",
                         "work", "INBOX", n, "bench", now))
            n += 1
        conn.executemany(
            "INSERT INTO interactions(prospect_id, kind, occurred_at, subject, body, message_id,"
            " thread_key, account, folder, uid, actor, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"\r  building: {path.stat().st_size / 1024**2:7.0f} MB, {n} interactions, "
              f"{time.monotonic() - started:5.0f}s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    conn.close()


def _wal(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


# ---------------------------------------------------------------- the writer


def writer(path: str, out: str) -> None:
    """Scan-like writes: 10 interactions per transaction, every ~5 ms, until SIGTERM."""
    from salescli.core import db

    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    conn = db.connect(path)
    spans = []
    n = 0
    while not stop:
        t0 = time.monotonic()
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(10):
            conn.execute(
                "INSERT INTO interactions(prospect_id, kind, occurred_at, subject, body,"
                " message_id, account, folder, uid, actor, created_at) VALUES"
                " (?, 'email_in', '2025-06-01T00:00:00Z', 's', 'body', ?, 'work', 'INBOX', ?,"
                " 'writer', '2025-06-01T00:00:00Z')", (1 + n % 5000, f"<w{n}.{os.getpid()}@x>", n))
            n += 1
        conn.execute("COMMIT")
        t1 = time.monotonic()
        spans.append((time.time() - (t1 - t0), t1 - t0))
        time.sleep(0.005)
    conn.close()
    Path(out).write_text(json.dumps(spans))


class Writer:
    def __init__(self, db: Path, workdir: Path):
        self.out = workdir / f"writer-{time.monotonic_ns()}.json"
        self.proc = subprocess.Popen([sys.executable, __file__, "--writer", str(db),
                                      str(self.out)])
        time.sleep(1.0)  # let it get going

    def stop(self) -> list[tuple[float, float]]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        spans = json.loads(self.out.read_text())
        self.out.unlink()
        return spans


def stalls(spans: list[tuple[float, float]], start: float, end: float) -> dict:
    during = sorted(d for t, d in spans if start <= t <= end)
    if not during:
        return {"commits": 0, "max_ms": None, "p99_ms": None}
    return {"commits": len(during), "max_ms": round(during[-1] * 1000, 1),
            "p99_ms": round(during[int(len(during) * 0.99) - 1 if len(during) > 1 else 0]
                            * 1000, 1)}


# ---------------------------------------------------------------- the contenders


def sqlite_cli_backup(db: Path, out: Path, timeout: float | None = None) -> float | None:
    out.unlink(missing_ok=True)
    t0 = time.monotonic()
    try:
        subprocess.run(["sqlite3", str(db), f".backup '{out}'"], check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic() - t0


def sqlite_cli_snapshot_backup(db: Path, out: Path) -> float:
    """``sqlite3 .backup`` inside one read transaction: the same technique as salescli."""
    out.unlink(missing_ok=True)
    t0 = time.monotonic()
    subprocess.run(["sqlite3", str(db)], input=f"BEGIN;\nSELECT count(*) FROM sqlite_master;\n"
                   f".backup '{out}'\nCOMMIT;\n", text=True, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def salescli_backup(db: Path, dest: Path) -> dict:
    """Copy time (snapshot copy) and verification time, as `salescli db backup` does them."""
    from salescli.ops import backup

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    stamp = backup._stamp()
    final = dest / f"sales-{stamp}.db"
    t0 = time.monotonic()
    copy_seconds = backup.copy_database(db, final)
    t1 = time.monotonic()
    result = backup.verify(final)
    t2 = time.monotonic()
    assert result == "ok", result
    return {"copy": copy_seconds, "copy_and_finish": t1 - t0, "verify": t2 - t1,
            "total": t2 - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true", help="keep/reuse the built database")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs of each contender")
    ap.add_argument("--writer", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.writer:
        writer(*args.writer)
        return

    from salescli.core.db import busy_timeout_ms

    busy_ms = busy_timeout_ms()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-backup-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"bench-{args.size_mb}mb.db"
    if not (args.reuse and db.exists()):
        print(f"building a {args.size_mb} MB database in {work} …", file=sys.stderr)
        build(db, args.size_mb)
    size = db.stat().st_size
    subprocess.run(["cat", str(db)], stdout=subprocess.DEVNULL, check=True)  # warm the cache
    print(f"database: {size / 1024**2:.0f} MB ({db})")

    cli_out = work / "cli-copy.db"
    runs: dict[str, list[float]] = {"cli": [], "q_copy": [], "q_total": [], "w_copy": [],
                                    "w_total": [], "cli_snap_w": []}
    s_ours: list[dict] = []
    s_idle: dict = {}
    for _ in range(args.repeats):  # interleaved, each after a sync: same conditions for all
        os.sync()
        runs["cli"].append(sqlite_cli_backup(db, cli_out))
        os.sync()
        r = salescli_backup(db, work / "ours-quiet")
        runs["q_copy"].append(r["copy"])
        runs["q_total"].append(r["total"])
        os.sync()
        w = Writer(db, work)
        t0 = time.time()
        r = salescli_backup(db, work / "ours-busy")
        t1 = time.time()
        time.sleep(3.0)
        spans = w.stop()
        runs["w_copy"].append(r["copy"])
        runs["w_total"].append(r["total"])
        s_ours.append(stalls(spans, t0, t0 + r["copy"]))
        s_idle = stalls(spans, t1 + 0.5, t1 + 3.0)
        os.sync()
        w = Writer(db, work)
        runs["cli_snap_w"].append(sqlite_cli_snapshot_backup(db, work / "cli-snap.db"))
        w.stop()
    med = {k: statistics.median(v) for k, v in runs.items()}
    t_cli = med["cli"]

    os.sync()
    w = Writer(db, work)
    cap = max(30.0, 5 * t_cli)
    t2 = time.time()
    t_cli_w = sqlite_cli_backup(db, work / "cli-busy.db", timeout=cap)
    t3 = time.time()
    s_cli = stalls(w.stop(), t2, t3)

    print(f"\nmedian of {args.repeats} interleaved runs")
    print(f"{'':42} {'seconds':>9} {'× sqlite3':>10}")
    print(f"{'sqlite3 .backup, no writer (baseline)':42} {t_cli:9.2f} {1:10.2f}")
    for label, key in (("salescli, no writer", "q"), ("salescli, writer running", "w")):
        copy, total = med[f"{key}_copy"], med[f"{key}_total"]
        print(f"{label + ': copy':42} {copy:9.2f} {copy / t_cli:10.2f}")
        print(f"{label + ': + integrity_check':42} {total:9.2f} {total / t_cli:10.2f}")
    cli_w = f"{t_cli_w:9.2f} {t_cli_w / t_cli:10.2f}" if t_cli_w is not None \
        else f"{'>' + format(cap, '.0f'):>9} {'gave up':>10}"
    print(f"{'sqlite3 .backup, writer running':42} {cli_w}")
    snap = med["cli_snap_w"]
    print(f"{'sqlite3 BEGIN; .backup (snapshot), writer':42} {snap:9.2f} {snap / t_cli:10.2f}")
    print()
    worst = max(s_ours, key=lambda s: s["max_ms"] or 0)
    print(f"writer (10-row transactions), busy timeout {busy_ms} ms:")
    for label, s in (("no backup running", s_idle), ("during salescli backup copy", worst),
                     ("during sqlite3 .backup", s_cli)):
        print(f"  {label:32} commits {s['commits']:6}  max stall {s['max_ms']} ms"
              f"  p99 {s['p99_ms']} ms")
    ok = worst["max_ms"] is not None and worst["max_ms"] < busy_ms
    print(f"\nwriter never stalled beyond the busy timeout during our backup: {ok}")
    print(f"ratio (salescli copy with writer / sqlite3 .backup idle): "
          f"{med['w_copy'] / t_cli:.2f} (goal ≤ 1.2)")
    if not args.reuse:
        shutil.rmtree(work, ignore_errors=True)
    else:
        for p in (cli_out, work / "cli-busy.db", work / "cli-snap.db"):
            p.unlink(missing_ok=True)
        shutil.rmtree(work / "ours-quiet", ignore_errors=True)
        shutil.rmtree(work / "ours-busy", ignore_errors=True)


if __name__ == "__main__":
    main()
