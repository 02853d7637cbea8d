"""Benchmark: a cold ``salescli prospects list --limit 20`` on a 100k-prospect database
vs ``sqlite-utils rows DB prospects --limit 20`` (goal ≤ 1.0×).

Every run is a fresh process (that is what "cold" costs: interpreter start and imports),
the two sides interleaved; the medians and their ratio are printed. ``--importtime``
also prints the slowest imports of the salescli side (``python -X importtime``).

    python benchmarks/bench_list.py [--rows 100000] [--repeat 15] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import BIN, generate  # noqa: E402


def run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def importtime(cmd: list[str], env: dict[str, str], top: int = 15) -> str:
    """The modules with the largest cumulative import time, as ``python -X importtime``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd], env=env, check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    rows.sort(reverse=True)
    out = [f"  {us / 1000:7.1f} ms  {'  ' * depth}{name}" for us, depth, name in rows[:top]]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--importtime", action="store_true")
    args = ap.parse_args()
    salescli = shutil.which("salescli", path=str(BIN)) or "salescli"
    sqlite_utils = shutil.which("sqlite-utils", path=str(BIN)) or "sqlite-utils"
    tmp = Path(tempfile.mkdtemp(prefix="bench_list_"))
    try:
        db = tmp / "sales.db"
        env = {**os.environ, "SALESCLI_USER": "bench", "SALESCLI_DB": str(db)}
        src = generate(tmp / "prospects.csv", args.rows)
        subprocess.run([salescli, "prospects", "import", str(src)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        ours = [salescli, "prospects", "list", "--limit", "20"]
        theirs = [sqlite_utils, "rows", str(db), "prospects", "--limit", "20"]
        for cmd in (ours, theirs):  # warm the OS page cache: "cold" is the process only
            run(cmd, env)
        times: dict[str, list[float]] = {"salescli": [], "sqlite-utils": []}
        for _ in range(args.repeat):
            times["salescli"].append(run(ours, env))
            times["sqlite-utils"].append(run(theirs, env))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"cold list of 20 from {args.rows:,} prospects, median of {args.repeat} runs")
        for name, t in med.items():
            print(f"  {name:<13} {t * 1000:7.1f} ms  (min {min(times[name]) * 1000:.1f},"
                  f" max {max(times[name]) * 1000:.1f})")
        ratio = med["salescli"] / med["sqlite-utils"]
        print(f"salescli / sqlite-utils rows: {ratio:.2f}×  "
              f"(goal ≤ 1.0×: {'met' if ratio <= 1.0 else 'NOT met'})")
        python = run([sys.executable, "-S", "-c", "pass"], env)
        print(f"  (a bare interpreter start here: {python * 1000:.1f} ms)")
        if args.importtime or ratio > 1.0:
            script = [str(Path(salescli).resolve()), *ours[1:]]
            print("slowest imports of salescli prospects list (cumulative):")
            print(importtime(script, env))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
