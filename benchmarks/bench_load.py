"""Load held: the dashboard under 32 signed-in clients while the writers work, in one run.

    python benchmarks/bench_load.py [--duration 60] [--clients 32] [--messages 20000]
                                    [--moves 1000] [--prospects 20000] [--dir DIR]

One sales database, served by ``salescli serve`` (the real plugin), and at once:
  * ``--clients`` HTTP clients (half signed in through the /-/login form with a session
    cookie, half with a Bearer token) looping over JSON and HTML pages for ``--duration``;
  * ``salescli scan --source maildir:…`` of ``--messages`` messages (a real process);
  * ``salescli rollup`` (a real process, as cron runs it nightly);
  * ``--moves`` ``salescli prospects move`` commands, run by one process through the
    real CLI entry point and paced over the window.
Before the window the same scan runs alone into a copy of the database: its
interactions are the count the loaded scan must reach; and the same clients run for a
quarter of the window (at least 5 s) with no writer at work, for the ratio. Prints
requests/s, p50/p95/p99 latency and errors for the clients, the server's CPU time per
request (a figure the other work on a shared machine disturbs far less than latency);
"database is locked" seen by
anyone (HTTP bodies, every process's output); lost writes (moves recorded vs made,
scanned rows vs the reference). Goal: 0 errors, 0 locked, 0 lost writes, p99 < 1 s
on a 2-core machine. Clients ask again as soon as answered (a closed loop, the harshest
load); ``--think S`` pauses each client a random 0–2·S seconds between pages, as people do.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SECRET = "benchmark-secret-" + "l" * 40
PASSWORD = "load benchmark password"
ME = "me@ours.example"
MOVER = "bench-mover"
LOCKED = re.compile(r"database (table )?is locked", re.I)
JSON_PAGES = ["/sales/prospects_per_stage.json?_shape=objects",
              "/sales/pipeline_funnel.json?_shape=objects",
              "/sales/prospects.json?_size=50&_sort_desc=updated_at",
              "/sales/prospects/{row}.json",
              "/sales/recent_activity.json?_shape=objects"]
HTML_PAGES = ["/sales/prospects?_size=50",
              "/sales/prospects/{row}",
              "/sales/owner_summary",
              "/-/dashboards/pipeline",
              "/sales"]


def salescli(*args: str) -> list[str]:
    return [sys.executable, "-m", "salescli", *args]


# ------------------------------------------------------------------ set-up


def build(workdir: Path, prospects: int, messages: int) -> tuple[Path, Path]:
    """The database (bench_web's pipeline + the mail's people + a user) and a Maildir."""
    from bench_scan import build_mail, make_db
    from bench_web import build as build_pipeline

    from salescli.mail import sample

    db_file = workdir / "sales.db"
    build_pipeline(db_file, prospects)  # adds the manager "bench"
    people, inbox, sent = build_mail(messages)
    make_db(db_file, people)
    maildir = workdir / "Maildir"
    for raw, when in inbox:
        sample.write_maildir_message(maildir, raw, when)
    for raw, when in sent:
        sample.write_maildir_message(maildir / ".Sent", raw, when)
    (maildir / ".Sent" / "maildirfolder").touch()
    return db_file, maildir


def set_password(db_file: Path) -> None:
    from salescli.web.credentials import open_credentials, set_password

    conn = open_credentials(db_file)
    set_password(conn, "bench", PASSWORD)
    conn.close()


def serve(db_file: str) -> None:
    """Child process: salescli serve on a free port; prints its URL."""
    from salescli.web.server import serve_database

    serve_database(db_file, "127.0.0.1", 0, on_ready=lambda url: print(url, flush=True))


# ------------------------------------------------------------------ clients


class Client(threading.Thread):
    """One signed-in browser or API client: keep-alive connection, pages at random."""

    def __init__(self, n: int, host: str, port: int, headers: dict[str, str],
                 pages: list[str], stop: threading.Event, rows: int, think: float = 0.0):
        super().__init__(daemon=True)
        self.rng = random.Random(n)
        self.host, self.port, self.headers = host, port, headers
        self.pages, self.stop, self.rows, self.think = pages, stop, rows, think
        self.samples: list[tuple[float, str, str]] = []  # (seconds, kind, page)
        self.errors: list[str] = []
        self.locked = 0

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        while not self.stop.is_set():
            if self.think and self.stop.wait(self.rng.uniform(0, 2 * self.think)):
                break
            page = self.rng.choice(self.pages)
            path = page.format(row=self.rng.randint(1, self.rows))
            kind = "json" if ".json" in path else "html"
            t = time.perf_counter()
            try:
                conn.request("GET", path, headers=self.headers)
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                continue
            self.samples.append((time.perf_counter() - t, kind, page))
            if LOCKED.search(body.decode("utf-8", "replace")):
                self.locked += 1
            if resp.status != 200:
                self.errors.append(f"{path}: HTTP {resp.status}")
        conn.close()


def sign_in(host: str, port: int) -> str:
    """A session cookie through the real sign-in form (CSRF cookie + hidden field)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/-/login")
    resp = conn.getresponse()
    page = resp.read().decode()
    csrf = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)
    cookie = next(c for c in resp.headers.get_all("set-cookie")
                  if c.startswith("ds_csrftoken=")).split(";")[0]
    form = urllib.parse.urlencode({"username": "bench", "password": PASSWORD,
                                   "csrftoken": csrf})
    conn.request("POST", "/-/login", body=form,
                 headers={"Content-Type": "application/x-www-form-urlencoded",
                          "Cookie": cookie})
    resp = conn.getresponse()
    resp.read()
    actor = [c.split(";")[0] for c in resp.headers.get_all("set-cookie") or []
             if c.startswith("ds_actor=")]
    conn.close()
    if resp.status not in (302, 303) or not actor:
        raise SystemExit(f"sign-in failed: HTTP {resp.status}")
    return actor[0]


# ------------------------------------------------------------------ writers


def mover(db_file: str, moves: int, seconds: float, log: str) -> None:
    """Child process: ``moves`` real ``salescli prospects move`` commands, paced."""
    from salescli.cli import cli
    from salescli.core import db

    conn = db.open_read(db_file)
    ids = [r[0] for r in conn.execute(
        "SELECT p.id FROM prospects p WHERE p.email LIKE 'p%@example%' ORDER BY p.id")]
    names = [r[0] for r in conn.execute(
        "SELECT name FROM stages WHERE kind = 'open' ORDER BY position")]
    conn.close()
    conn = db.open_read(db_file)
    current = dict(conn.execute("SELECT p.id, s.name FROM prospects p"
                                " JOIN stages s ON s.id = p.stage_id"))
    conn.close()
    rng = random.Random(7)
    done = 0
    took: list[float] = []
    start = time.monotonic()
    with open(log, "w", buffering=1) as out:
        for i in range(moves):
            wait = start + seconds * i / moves - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # pacing the load over the window, not synchronising
            pid = rng.choice(ids)
            stage = rng.choice([n for n in names if n != current[pid]])  # a real move
            t = time.perf_counter()
            try:
                cli.main(["--as", MOVER, "prospects", "move", str(pid), stage, "--note",
                          f"load {i}"], prog_name="salescli", standalone_mode=False)
                current[pid] = stage
                done += 1
            except Exception as exc:  # noqa: BLE001 - counted and printed, never hidden
                out.write(f"move {i} failed after {time.perf_counter() - t:.1f}s: "
                          f"{type(exc).__name__}: {exc}\n")
            took.append(time.perf_counter() - t)
        out.write(f"took p50 {statistics.median(took):.3f} p99 {pct(took, 99):.3f} "
                  f"max {max(took):.3f}\n")
        out.write(f"done {done}\n")


def run_rollup(results: list[tuple[int, str, float]], env: dict) -> None:
    """The nightly rollup, as cron runs it, once inside the window."""
    t = time.perf_counter()
    r = subprocess.run(salescli("rollup"), capture_output=True, text=True, env=env)
    results.append((r.returncode, r.stdout + r.stderr, time.perf_counter() - t))


def scan_reference(db_file: Path, maildir: Path, workdir: Path, env: dict) -> tuple[int, float]:
    """The same scan alone on a copy: (interactions it records, seconds)."""
    ref = workdir / "reference.db"
    src = sqlite3.connect(db_file)
    dst = sqlite3.connect(ref)
    src.backup(dst)
    src.close()
    dst.close()
    before = count(ref, "interactions")
    t = time.perf_counter()
    r = subprocess.run(salescli("--db", str(ref), "scan", "--source", f"maildir:{maildir}"),
                       capture_output=True, text=True, env=env)
    took = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"reference scan failed: {r.stderr}")
    return count(ref, "interactions") - before, took


def count(db_file: Path, table: str, where: str = "1") -> int:
    conn = sqlite3.connect(db_file)
    try:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, from /proc (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_request_ms(before: float | None, after: float | None, requests: int) -> str:
    if before is None or after is None or not requests:
        return "n/a"
    return f"{(after - before) / requests * 1000:.1f} ms"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean pause between a client's pages, seconds (default 0)")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--prospects", type=int, default=20_000)
    parser.add_argument("--dir", help="work here and keep the files")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--mover", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    if args.mover:
        db_file, moves, seconds, log = args.mover
        return mover(db_file, int(moves), float(seconds), log)

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESCLI_")}
    env.update({"SALESCLI_SECRET": SECRET, "SALESCLI_MY_ADDRESSES": ME,
                "SALESCLI_DB": str(workdir / "sales.db"), "SALESCLI_USER": "bench",
                "PYTHONPATH": str(ROOT)})
    os.environ.update(env)
    t = time.perf_counter()
    db_file, maildir = build(workdir, args.prospects, args.messages)
    set_password(db_file)
    print(f"built {args.prospects} prospects and {args.messages} messages in "
          f"{time.perf_counter() - t:.0f}s", file=sys.stderr)
    expected_scanned, alone_s = scan_reference(db_file, maildir, workdir, env)
    print(f"reference scan alone: {expected_scanned} interactions in {alone_s:.1f}s",
          file=sys.stderr)

    from salescli.web import tokens

    token, _ = tokens.create_token(db_file, "bench", timedelta(days=1), "bench")
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(db_file)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    url = server.stdout.readline().strip().rstrip("/")
    if not url.startswith("http"):
        raise SystemExit(f"server did not start: {server.stderr.read()}")
    parsed = urllib.parse.urlparse(url)
    host, port = parsed.hostname, parsed.port
    moves_before = count(db_file, "stage_changes", f"actor = '{MOVER}'")
    scanned_before = count(db_file, "interactions")
    rows = count(db_file, "prospects")

    headers = [{"Cookie": sign_in(host, port)} if i % 2 == 0
               else {"Authorization": f"Bearer {token}"} for i in range(args.clients)]
    pages = HTML_PAGES + JSON_PAGES

    # The other side, in the same run: the same clients with no writer at work.
    stop = threading.Event()
    quiet = [Client(i, host, port, headers[i], pages, stop, rows, args.think)
             for i in range(args.clients)]
    quiet_s = max(5.0, args.duration / 4)
    load_before = os.getloadavg()[0]
    cpu_quiet = [cpu_seconds(server.pid)]
    for c in quiet:
        c.start()
    stop.wait(quiet_s)
    stop.set()
    for c in quiet:
        c.join(timeout=120)
    cpu_quiet.append(cpu_seconds(server.pid))

    stop = threading.Event()
    clients = [Client(100 + i, host, port, headers[i], pages, stop, rows, args.think)
               for i in range(args.clients)]
    mover_log = workdir / "mover.log"
    rollups: list[tuple[int, str, float]] = []
    started = time.perf_counter()
    cpu_window = [cpu_seconds(server.pid)]
    try:
        for c in clients:
            c.start()
        scan = subprocess.Popen(salescli("scan", "--source", f"maildir:{maildir}"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        move_proc = subprocess.Popen([sys.executable, __file__, "--mover", str(db_file),
                                      str(args.moves), str(args.duration * 0.9),
                                      str(mover_log)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        roller = threading.Thread(target=run_rollup, args=(rollups, env), daemon=True)
        roller.start()
        stop.wait(args.duration)
        stop.set()
        window = time.perf_counter() - started
        for c in clients:
            c.join(timeout=120)
        cpu_window.append(cpu_seconds(server.pid))
        roller.join(timeout=600)
        scan_out, scan_err = scan.communicate(timeout=3600)
        mover_out, mover_err = move_proc.communicate(timeout=3600)
        writers_done = time.perf_counter() - started
    finally:
        stop.set()
        server.terminate()
        try:
            _, server_err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, server_err = server.communicate()

    samples = [s for c in clients for s in c.samples]
    latencies = [s for s, _, _ in samples]
    errors = [e for c in clients for e in c.errors]
    texts = {"scan": scan_out + scan_err, "mover": mover_out + mover_err
             + mover_log.read_text(), "server": server_err,
             "rollup": "".join(out for _, out, _ in rollups)}
    locked = {"http": sum(c.locked for c in clients),
              **{k: len(LOCKED.findall(v)) for k, v in texts.items()}}
    moves_made = int(re.search(r"done (\d+)", mover_log.read_text()).group(1))
    moves_recorded = count(db_file, "stage_changes", f"actor = '{MOVER}'") - moves_before
    move_audit = count(db_file, "activities", f"actor = '{MOVER}'")
    scanned = count(db_file, "interactions") - scanned_before
    rollup_failed = sum(1 for code, _, _ in rollups if code != 0)
    check = sqlite3.connect(db_file)
    integrity = check.execute("PRAGMA integrity_check").fetchone()[0]
    check.close()

    quiet_lat = [s for c in quiet for s, _, _ in c.samples]
    quiet_errors = [e for c in quiet for e in c.errors]
    by_kind = {k: [s for s, kind, _ in samples if kind == k] for k in ("json", "html")}
    by_page = {p: [s for s, _, page in samples if page == p] for p in HTML_PAGES + JSON_PAGES}
    print(f"\n{args.clients} clients (think {args.think:g}s) for {window:.0f}s (writers "
          f"finished at {writers_done:.0f}s) on {os.cpu_count()} cores; "
          f"{args.prospects} prospects, {args.messages}-message scan, the rollup, "
          f"{args.moves} CLI moves\n")
    print(f"machine load average (1 min): {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (shared machine: other work counts in it)\n")
    print(f"{'pages':8} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
          f" {'max ms':>8}")
    rows_out = [("quiet", quiet_lat, quiet_s), ("all", latencies, window),
                *((k, v, window) for k, v in by_kind.items())]
    for label, values, secs in rows_out:
        if values:
            print(f"{label:8} {len(values):9} {len(values) / secs:7.1f} "
                  f"{statistics.median(values) * 1000:8.1f} {pct(values, 95) * 1000:8.1f} "
                  f"{pct(values, 99) * 1000:8.1f} {max(values) * 1000:8.1f}")
    print()
    for page, values in by_page.items():
        if values:
            print(f"  {page:52} {len(values):6} p50 {statistics.median(values) * 1000:7.1f}"
                  f" p99 {pct(values, 99) * 1000:7.1f} ms")
    if quiet_lat and latencies:
        print(f"\nunder the writers / quiet: p50 × "
              f"{statistics.median(latencies) / statistics.median(quiet_lat):.2f}, p99 × "
              f"{pct(latencies, 99) / pct(quiet_lat, 99):.2f}, req/s × "
              f"{(len(latencies) / window) / (len(quiet_lat) / quiet_s):.2f}")
    print(f"\nserver CPU per request (user + system; steadier than wall time on a shared "
          f"machine): quiet {per_request_ms(*cpu_quiet, len(quiet_lat))}, under the writers "
          f"{per_request_ms(*cpu_window, len(latencies))}")
    errors += quiet_errors
    print(f"\nclient errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(f"'database is locked' seen: {sum(locked.values())} "
          f"({', '.join(f'{k} {v}' for k, v in locked.items())})")
    print(f"scan: exit {scan.returncode}; interactions recorded {scanned}, alone "
          f"{expected_scanned} (alone in {alone_s:.1f}s) → lost {expected_scanned - scanned}")
    print(f"moves: made {moves_made} of {args.moves}; stage changes recorded "
          f"{moves_recorded}, audit rows {move_audit} → lost {moves_made - moves_recorded}; "
          f"seconds per move {re.search(r'took (.*)', mover_log.read_text()).group(1)}")
    for line in mover_log.read_text().splitlines():
        if "failed" in line:
            print(f"  {line}")
    print(f"rollup: {len(rollups)} run, {rollup_failed} failed, "
          f"{', '.join(f'{secs:.1f}s' for _, _, secs in rollups)}")
    print(f"integrity_check: {integrity}")
    p99 = pct(latencies, 99) if latencies else float("inf")
    goals = {"0 client errors": not errors, "0 'database is locked'": not sum(locked.values()),
             "0 lost writes (every write that reported success is there)":
                 scanned == expected_scanned and moves_recorded == moves_made
                 and move_audit >= moves_made,
             "every write command succeeded": moves_made == args.moves
                 and scan.returncode == 0 and rollup_failed == 0,
             "p99 < 1 s": p99 < 1.0}
    print("\n" + "\n".join(f"{'met ' if ok else 'MISSED'} {goal}" for goal, ok in goals.items()))
    print(json.dumps({"requests": len(latencies), "rps": len(latencies) / window,
                      "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
                      "p95_ms": pct(latencies, 95) * 1000 if latencies else None,
                      "p99_ms": p99 * 1000, "errors": len(errors), "locked": locked,
                      "scanned": scanned, "expected_scanned": expected_scanned,
                      "moves_recorded": moves_recorded, "moves_made": moves_made,
                      "rollups": len(rollups), "rollup_failed": rollup_failed,
                      "server_cpu_ms_per_request": per_request_ms(*cpu_window, len(latencies))}),
          file=sys.stderr)
    if not args.dir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
