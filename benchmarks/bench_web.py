"""Benchmark: what the salescli auth plugin costs a request, in one run.

    python benchmarks/bench_web.py [--prospects 100000] [--duration 5] [--rounds 5]
                                   [--connections 4] [--dir DIR] [--check-only]

1. In-process: the credentials check (JWT + token record + user, against the databases,
   as every request now does: there is no cache) against whole pages served by the same
   Datasette (dashboard, table page, row JSON), with the ratio check / page. This is the
   figure behind dropping the credentials cache (issue 13).
2. Under wrk (skipped with --check-only): the same Datasette with and without the plugin,
   both servers up at once, short runs interleaved round by round so that load from
   elsewhere on the machine hits both alike. Prints median and p99 latency and
   requests per second per endpoint (median over rounds), and the ratios to ``none``.
   Goal: plugin latency <= 1.05 x none.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

SECRET = "benchmark-secret-" + "b" * 40
ENDPOINTS = {
    "canned query JSON": "/sales/prospects_per_stage.json?_shape=objects",
    "table page (HTML)": "/sales/prospects?_size=50",
    "row JSON (cheapest)": "/sales/prospects/{row}.json",
}
MODES = ["plugin", "none"]
PAGES = {
    "dashboard page (HTML)": "/-/dashboards/pipeline",
    "table page (HTML)": "/sales/prospects?_size=50",
    "row JSON (cheapest)": "/sales/prospects/{row}.json",
}


def build(db_file: Path, n: int) -> None:
    """A realistic sales database: n prospects, their stage history and interactions."""
    from salescli.core import db
    from salescli.web import users

    conn = db.open_write(db_file)
    rng = random.Random(42)
    stages = [r[0] for r in conn.execute("SELECT id FROM stages ORDER BY position")]
    owners = [f"owner{i}" for i in range(8)]
    now = datetime.now(UTC)

    def ts(days_ago: float) -> str:
        return (now - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")

    prospects, changes, inter = [], [], []
    for i in range(1, n + 1):
        age = rng.uniform(1, 365)
        depth = min(int(rng.expovariate(0.8)), len(stages) - 1)
        stage = stages[depth]
        owner = rng.choice(owners)
        prospects.append((i, f"p{i}@example{i % 97}.com", f"Person {i}", f"Company {i % 5000}",
                          owner, stage, rng.choice([None, 500, 1000, 5000]), ts(age),
                          ts(age), ts(age)))
        changes.append((i, None, stages[0], ts(age), "bench", owner))
        for d in range(1, depth + 1):
            changes.append((i, stages[d - 1], stages[d], ts(age * (1 - d / 8)), "bench", owner))
        for _ in range(rng.randint(0, 2)):
            kind = rng.choice(["email_out", "email_out", "email_in", "bounce"])
            inter.append((i, kind, ts(rng.uniform(0, age)), owner, "bench", ts(0)))
    with db.transaction(conn):
        conn.executemany(
            "INSERT INTO prospects(id, email, name, company, owner, stage_id, value,"
            " stage_entered_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)", prospects)
        conn.executemany("INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at,"
                         " actor, owner) VALUES (?,?,?,?,?,?)", changes)
        conn.executemany("INSERT INTO interactions(prospect_id, kind, occurred_at, owner, actor,"
                         " created_at) VALUES (?,?,?,?,?,?)", inter)
        users.add(conn, db_file, "bench", "bench", "manager")
    conn.execute("ANALYZE")
    conn.close()


def serve(db_file: str, mode: str) -> None:
    """Child process: one server in ``mode`` on a free port; prints its URL."""
    if mode == "none":
        from datasette.plugins import pm

        pm.unregister(name="salescli")
        assert "salescli" not in {pm.get_name(p) for p in pm.get_plugins()}
    from salescli.web.server import serve_database

    serve_database(db_file, "127.0.0.1", 0, on_ready=lambda url: print(url, flush=True))


def start(db_file: Path, mode: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", mode, "--db", str(db_file)],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "SALESCLI_SECRET": SECRET})
    url = proc.stdout.readline().strip().rstrip("/")
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"server {mode} did not start")
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, token: str, duration: float, connections: int) -> dict[str, float]:
    seconds = max(1, round(duration))
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-H", f"Authorization: Bearer {token}", url],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx responses from {url}:\n{out}")

    def pct(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _UNITS[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"median_ms": pct("50"), "p99_ms": pct("99"), "rps": rps}


def chart_queries() -> list[str]:
    """The SQL URL of each chart of the pipeline dashboard, with its filters' defaults."""
    import urllib.parse

    from salescli.web.server import load_metadata

    board = load_metadata()["plugins"]["datasette-dashboards"]["pipeline"]
    params = {k: str(f.get("default", "")) for k, f in board.get("filters", {}).items()}
    return ["/sales.json?" + urllib.parse.urlencode({"sql": chart["query"], **params})
            for chart in board["charts"].values()]


def check_vs_pages(db_file: Path, token: str, row: int, n: int = 5000,
                   pages: int = 40) -> dict[str, float]:
    """Microseconds per credentials check (what every request pays, no cache) and per
    page served in-process by the same Datasette; their ratios."""
    import asyncio

    from salescli.web import plugin, server

    ds = server.build_datasette(db_file)
    scope = {"type": "http", "method": "GET", "path": "/sales/prospects/1.json",
             "raw_path": b"/sales/prospects/1.json", "query_string": b"",
             "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"localhost"), (b"accept", b"*/*"),
                         (b"authorization", f"Bearer {token}".encode())]}

    async def checks():
        for _ in range(n):
            actor, refused = plugin.authenticate(ds, scope)
            assert actor and not refused

    failed: list[str] = []

    async def page(path: str, reps: int = pages) -> list[float]:
        times = []
        for i in range(reps + 1):
            t = time.perf_counter()
            response = await ds.client.get(path, headers={"Authorization": f"Bearer {token}"})
            if i >= 1:  # the first request warms Datasette's caches
                times.append(time.perf_counter() - t)
            if response.status_code != 200:  # e.g. a chart past the 3 s SQL time limit
                failed.append(f"{response.status_code} {path[:80]}")
        return times

    out: dict[str, float] = {}
    try:
        asyncio.run(checks())  # warm the connections
        t = time.perf_counter()
        asyncio.run(checks())
        out["check_us"] = (time.perf_counter() - t) / n * 1e6
        for name, path in PAGES.items():
            out[f"{name} ms"] = statistics.median(
                asyncio.run(page(path.format(row=row)))) * 1e3
        # The CSV formula guard on a whole streamed export, against the same with _raw=1.
        stream = "/sales/prospects.csv?_stream=on"
        for label, path in (("CSV stream, guarded", stream),
                            ("CSV stream, _raw=1", stream + "&_raw=1")):
            out[f"{label} ms"] = statistics.median(asyncio.run(page(path, 3))) * 1e3
        # What the browser waits for: the dashboard page plus every chart's SQL.
        charts = chart_queries()
        out["dashboard + its charts ms"] = out["dashboard page (HTML) ms"] + sum(
            statistics.median(asyncio.run(page(q, 3))) * 1e3 for q in charts)
    finally:
        ds._salescli_auth.close()
    print(f"\ncredentials check, uncached: {out['check_us']:.1f} µs per request")
    for line in failed:
        print(f"  (not 200: {line})")
    for name in [*PAGES, "dashboard + its charts"]:
        ms = out[f"{name} ms"]
        out[f"{name} ratio"] = out["check_us"] / (ms * 1e3)
        print(f"{name:24} {ms:8.2f} ms   check/page = {out[f'{name} ratio']:.4f}"
              f" ({out[f'{name} ratio'] * 100:.2f} %)")
    guarded, raw = out["CSV stream, guarded ms"], out["CSV stream, _raw=1 ms"]
    out["CSV guard ratio"] = guarded / raw
    print(f"CSV stream of every prospect: {guarded:.0f} ms guarded, {raw:.0f} ms with _raw=1"
          f" (guarded/raw = {guarded / raw:.3f})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prospects", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--dir", help="keep the generated database here (reused if present)")
    parser.add_argument("--check-only", action="store_true",
                        help="only the in-process check-vs-page figures (no wrk)")
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.db, args.serve)
    if not args.check_only and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (or --check-only)")

    os.environ["SALESCLI_SECRET"] = SECRET
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-web-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db_file = workdir / f"sales-{args.prospects}.db"
    if not db_file.exists():
        t = time.perf_counter()
        build(db_file, args.prospects)
        print(f"built {db_file} with {args.prospects} prospects in "
              f"{time.perf_counter() - t:.1f}s", file=sys.stderr)
    from salescli.web import tokens

    token, _ = tokens.create_token(db_file, "bench", timedelta(days=1), "bench")
    cost = check_vs_pages(db_file, token, args.prospects // 2)
    if args.check_only:
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
        print("\n" + json.dumps(cost, indent=1), file=sys.stderr)
        return
    results: dict[tuple[str, str], list[dict]] = {}
    servers = {}
    try:
        for mode in MODES:
            servers[mode] = start(db_file, mode)
        for r in range(args.rounds):
            # Interleave short runs so that load from elsewhere hits every side alike.
            order = MODES[r % len(MODES):] + MODES[:r % len(MODES)]
            for name, path in ENDPOINTS.items():
                path = path.format(row=args.prospects // 2)
                for mode in order:
                    url = servers[mode][1] + path
                    if r == 0:
                        wrk(url, token, 1, args.connections)  # warm up
                    results.setdefault((mode, name), []).append(
                        wrk(url, token, args.duration, args.connections))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for proc, _ in servers.values():
            stop(proc)
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)

    summary = {}
    print(f"\n{args.prospects} prospects, wrk -t1 -c{args.connections} -d{args.duration}s, "
          f"median of {args.rounds} rounds\n")
    print(f"{'endpoint':22} {'server':15} {'median ms':>10} {'p99 ms':>8} {'req/s':>8}"
          f" {'median×':>8} {'p99×':>6} {'req/s×':>7}")
    for name in ENDPOINTS:
        base = {k: statistics.median(x[k] for x in results[("none", name)])
                for k in ("median_ms", "p99_ms", "rps")}
        for mode in MODES:
            m = {k: statistics.median(x[k] for x in results[(mode, name)])
                 for k in ("median_ms", "p99_ms", "rps")}
            ratios = {"median": m["median_ms"] / base["median_ms"],
                      "p99": m["p99_ms"] / base["p99_ms"], "rps": m["rps"] / base["rps"]}
            summary[f"{name} / {mode}"] = {**m, **{f"{k}_ratio": v for k, v in ratios.items()}}
            print(f"{name:22} {mode:15} {m['median_ms']:10.2f} {m['p99_ms']:8.2f}"
                  f" {m['rps']:8.0f} {ratios['median']:8.3f} {ratios['p99']:6.3f}"
                  f" {ratios['rps']:7.3f}")
    summary["check_vs_pages"] = cost
    print("\n" + json.dumps(summary, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
