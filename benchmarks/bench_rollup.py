"""Benchmark: the metrics rollup and ``salescli metrics`` on two years of history.

Generates 100k prospects, 300k stage changes and 1M interactions over two years
(executemany straight into SQLite), then measures in one run:

1. a full ``salescli rollup --since FIRST_DAY`` (process wall time) against
   hand-written SQL for the same daily metrics run by the ``sqlite3`` shell on the
   same file (goal ≤ 1.5×);
2. an incremental nightly ``salescli rollup`` after one day of new data, wall time
   including process start (goal ≤ 0.3 s);
3. ``salescli metrics`` (default 30 days) wall time (goal ≤ 0.5 s), after the nightly
   job's forecast refresh (which stores the stage outlook it shows).

Usage: python benchmarks/bench_rollup.py [--dir DIR] [--scale 1.0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

OWNERS = ["ana", "ben", "chloe", "dev", "eli", "fay", "gus", "hal"]
KINDS = ["email_out", "email_in", "auto_reply", "bounce", "call", "meeting", "note"]
KIND_WEIGHTS = [45, 18, 5, 3, 12, 7, 10]
SALESCLI = [sys.executable, "-m", "salescli"]


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(path: Path, *, prospects: int = 100_000, changes: int = 300_000,
             interactions: int = 1_000_000, days: int = 730, seed: int = 7,
             end: datetime | None = None) -> dict[str, int]:
    """Fill a fresh sales database with a random but plausible history ending at ``end``."""
    from salescli.core import db

    rng = random.Random(seed)
    end = end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    span = (end - start).total_seconds()
    conn = db.open_write(path)
    stages = {r["name"]: (r["id"], r["kind"]) for r in conn.execute("SELECT * FROM stages")}
    ladder = [stages[n][0] for n in ("lead", "contacted", "replied", "meeting", "proposal")]
    won, lost = stages["won"][0], stages["lost"][0]
    touch = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'interactions_touch_ai'"
                         ).fetchone()[0]
    conn.execute("DROP TRIGGER interactions_touch_ai")
    conn.execute("PRAGMA cache_size = -500000")

    created = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(prospects))
    # Chains stop at won/lost and at the end of the history: 1.45 makes up for it.
    mean_moves = 1.45 * (changes - prospects) / prospects
    p_rows, c_rows = [], []
    for i, t0 in enumerate(created, start=1):
        owner = rng.choice(OWNERS) if rng.random() > 0.05 else None
        value = round(rng.uniform(500, 50_000), 2) if rng.random() < 0.7 else None
        c_rows.append((i, None, ladder[0], t0, "bench", owner, value, "created"))
        n_moves = int(rng.expovariate(1 / mean_moves) + 0.5)
        pos, stage, t = 0, ladder[0], t0
        for _ in range(n_moves):
            t = t + timedelta(seconds=rng.expovariate(1 / (6 * 86400)))
            if t >= end or stage in (won, lost):
                break
            if rng.random() < 0.03:
                owner = rng.choice(OWNERS)  # reassigned
            r = rng.random()
            if r < 0.12 and pos > 0:
                pos -= 1
                to = ladder[pos]
            elif r < 0.19:
                to = lost
            elif pos == len(ladder) - 1:
                to = won
            else:
                pos += 1
                to = ladder[pos]
            c_rows.append((i, stage, to, t, "bench", owner, value, None))
            stage = to
        archived = iso(t + timedelta(days=30)) if rng.random() < 0.04 and \
            t + timedelta(days=30) < end else None
        ts = iso(t0)
        p_rows.append((i, f"p{i}@example{i % 997}.com", f"Prospect {i}", f"Company {i % 5000}",
                       owner, stage, value, iso(t), ts, ts, archived))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO prospects(id, email, name, company, owner, stage_id, value,"
        " stage_entered_at, created_at, updated_at, archived_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", p_rows)
    c_rows.sort(key=lambda r: r[3])
    conn.executemany(
        "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor, owner,"
        " value, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ((r[0], r[1], r[2], iso(r[3]), r[4], r[5], r[6], r[7]) for r in c_rows))
    owners = {r[0]: r[4] for r in p_rows}
    i_rows = []
    for n in range(interactions):
        pid = rng.randint(1, prospects)
        t0 = created[pid - 1]
        t = t0 + rng.random() * min(timedelta(days=120), end - t0)  # within 120 days
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        i_rows.append((pid, kind, t, f"Subject {n % 1000}", f"<m{n}@bench>", owners[pid]))
    i_rows.sort(key=lambda r: r[2])
    conn.executemany(
        "INSERT INTO interactions(prospect_id, kind, occurred_at, subject, message_id, owner,"
        " actor, created_at) VALUES (?, ?, ?, ?, ?, ?, 'bench', ?)",
        ((r[0], r[1], iso(r[2]), r[3], r[4], r[5], iso(r[2] + timedelta(minutes=5)))
         for r in i_rows))
    conn.execute(
        "UPDATE prospects SET last_interaction_at = x.last FROM (SELECT prospect_id,"
        " max(occurred_at) AS last FROM interactions GROUP BY prospect_id) x"
        " WHERE x.prospect_id = prospects.id")
    conn.execute(touch)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("prospects", "stage_changes", "interactions")}
    conn.close()
    return counts


def add_day(path: Path, day_start: datetime, *, prospects: int, changes: int,
            interactions: int, seed: int = 11) -> None:
    """One day of new activity through the library's own tables (ids after the old ones)."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    stage_ids = [r[0] for r in conn.execute(
        "SELECT id FROM stages WHERE kind = 'open' ORDER BY position")]
    top = conn.execute("SELECT max(id) FROM prospects").fetchone()[0]
    conn.execute("BEGIN")

    def at() -> str:
        return iso(day_start + timedelta(seconds=rng.random() * 86399))

    for n in range(prospects):
        t, owner = at(), rng.choice(OWNERS)
        cur = conn.execute(
            "INSERT INTO prospects(email, name, owner, stage_id, stage_entered_at, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (f"new{n}-{seed}@example.org", f"New {n}", owner, stage_ids[0], t, t, t))
        conn.execute("INSERT INTO stage_changes(prospect_id, to_stage_id, at, actor, owner,"
                     " note) VALUES (?, ?, ?, 'bench', ?, 'created')",
                     (cur.lastrowid, stage_ids[0], t, owner))
    movable = ",".join(map(str, stage_ids[:-1]))
    movers = conn.execute(
        "SELECT id, stage_id, owner, value FROM prospects WHERE archived_at IS NULL"
        f" AND stage_id IN ({movable}) ORDER BY random() LIMIT ?",
        (changes - prospects,)).fetchall()
    for pid, stage, owner, value in movers:
        to = stage_ids[stage_ids.index(stage) + 1]
        conn.execute("INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at,"
                     " actor, owner, value) VALUES (?, ?, ?, ?, 'bench', ?, ?)",
                     (pid, stage, to, at(), owner, value))
        conn.execute("UPDATE prospects SET stage_id = ? WHERE id = ?", (to, pid))
    conn.executemany(
        "INSERT INTO interactions(prospect_id, kind, occurred_at, message_id, owner, actor,"
        " created_at) VALUES (?, ?, ?, ?, (SELECT owner FROM prospects WHERE id = ?), 'bench',"
        " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        [(pid, rng.choices(KINDS, KIND_WEIGHTS)[0], at(), f"<new{n}-{seed}@bench>", pid)
         for n in range(interactions) for pid in [rng.randint(1, top)]])
    conn.execute("COMMIT")
    conn.close()


# The same daily metrics written by hand, the way an analyst would in the sqlite3 shell:
# interactions per day, owner and kind; stage entries and exits per day, stage and owner;
# prospects in each stage at the end of each day as a running sum. UTC days (date(col)).
HAND_SQL = """
CREATE TEMP TABLE h_activity AS
SELECT date(occurred_at) AS day, coalesce(owner, '') AS owner,
       sum(kind = 'email_out') AS emails_sent,
       sum(kind IN ('email_in', 'auto_reply', 'bounce')) AS emails_received,
       sum(kind = 'email_in') AS replies, sum(kind = 'auto_reply') AS auto_replies,
       sum(kind = 'bounce') AS bounces, sum(kind = 'call') AS calls,
       sum(kind = 'meeting') AS meetings, sum(kind = 'note') AS notes
FROM interactions GROUP BY 1, 2;
CREATE TEMP TABLE h_flow AS
SELECT day, stage, owner, sum(entered) AS entered, sum(exited) AS exited,
       sum(value) AS dvalue, sum(created) AS created
FROM (
    SELECT date(at) AS day, to_stage_id AS stage, coalesce(owner, '') AS owner,
           1 AS entered, 0 AS exited, coalesce(value, 0) AS value,
           from_stage_id IS NULL AS created FROM stage_changes
    UNION ALL
    SELECT date(at), from_stage_id, coalesce(owner, ''), 0, 1, -coalesce(value, 0), 0
    FROM stage_changes WHERE from_stage_id IS NOT NULL
) GROUP BY 1, 2, 3;
CREATE TEMP TABLE h_stage AS
SELECT f.day, f.stage, f.owner, f.entered, f.exited, f.created,
       sum(f.entered - f.exited) OVER w AS in_stage, sum(f.dvalue) OVER w AS value,
       f.entered * (s.kind = 'won') AS won, f.entered * (s.kind = 'lost') AS lost
FROM h_flow f JOIN stages s ON s.id = f.stage
WINDOW w AS (PARTITION BY f.stage, f.owner ORDER BY f.day);
SELECT (SELECT count(*) FROM h_activity), (SELECT count(*) FROM h_stage);
"""


CPU: list[float] = []  # CPU seconds (user + system) of each timed run, in order


def timed(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> float:
    """Wall seconds of one run; its CPU seconds go to ``CPU`` (robust on a busy machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, input=stdin, text=True, capture_output=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def measure(n: int, run) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``n`` runs of ``run()``."""
    walls, cpus = [], []
    for _ in range(n):
        walls.append(run())
        cpus.append(CPU[-1])
    return walls, cpus


def best(times: tuple[list[float], list[float]]) -> str:
    walls, cpus = times
    return (f"{min(walls):.3f} s wall (median {statistics.median(walls):.3f}), "
            f"{min(cpus):.3f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="work directory (default: a temporary one, removed after)")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full data size")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse DIR/base.db generated by an earlier run with --dir DIR")
    ap.add_argument("--tz", default="UTC", help="SALESCLI_TZ for the rollup (the hand SQL "
                    "uses UTC days, so the comparison is exact only for UTC)")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench_rollup_"))
    work.mkdir(parents=True, exist_ok=True)
    path, base = work / "sales.db", work / "base.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "SALESCLI_DB": str(path), "SALESCLI_TZ": args.tz,
           "SALESCLI_USER": "bench", "SALESCLI_LOCK_DIR": str(work)}
    scale = args.scale
    t0 = time.perf_counter()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if not (args.reuse and base.exists()):
        base.unlink(missing_ok=True)
        counts = generate(base, prospects=int(100_000 * scale), changes=int(300_000 * scale),
                          interactions=int(1_000_000 * scale), end=today - timedelta(days=1))
        print(f"generated {counts} in {time.perf_counter() - t0:.1f} s "
              f"({base.stat().st_size / 1e6:.0f} MB)")
    shutil.copyfile(base, path)
    first = sqlite3.connect(path).execute("SELECT min(at) FROM stage_changes").fetchone()[0]
    since = first[:10]

    hand, ours = ([], []), ([], [])
    for _ in range(args.repeat):  # interleaved, so both sides see the same machine
        for side, cmd, stdin in ((hand, ["sqlite3", str(path)], HAND_SQL),
                                 (ours, [*SALESCLI, "-q", "rollup", "--since", since], None)):
            side[0].append(timed(cmd, env, stdin))
            side[1].append(CPU[-1])
    print(f"full rollup --since {since}: salescli {best(ours)}; sqlite3 shell hand-written "
          f"SQL {best(hand)}; ratio {min(ours[0]) / min(hand[0]):.2f}x wall, "
          f"{min(ours[1]) / min(hand[1]):.2f}x CPU (goal <= 1.5x)")

    def nightly() -> float:
        add_day(path, today - timedelta(days=1), prospects=int(140 * scale) or 1,
                changes=int(410 * scale) or 2, interactions=int(1370 * scale) or 3,
                seed=len(CPU))
        return timed([*SALESCLI, "-q", "rollup"], env)

    print("incremental nightly rollup after one day of new data: "
          f"{best(measure(args.repeat, nightly))} including process start (goal <= 0.3 s)")
    # The nightly job then refreshes the forecast, whose stage outlook metrics shows.
    refresh = timed([*SALESCLI, "-q", "forecast", "refresh"], env)
    print(f"(the nightly job's forecast refresh, once: {refresh:.1f} s wall)")
    for extra in ([], ["--days", "365"]):
        shown = measure(args.repeat, lambda e=extra: timed([*SALESCLI, "metrics", *e], env))
        print(f"salescli metrics {' '.join(extra) or '(30 days)'}: {best(shown)}"
              + ("" if extra else " (goal <= 0.5 s)"))
    start = measure(args.repeat, lambda: timed([sys.executable, "-c", "import salescli.cli"],
                                               env))
    print(f"(process start + import salescli.cli alone: {best(start)})")
    if not args.dir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
