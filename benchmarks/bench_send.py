"""Benchmark ``salescli send`` against a local aiosmtpd, and the due-step selection.

In one run:

* N due first steps (default 10,000) with the daily cap and the gap lifted, sent by
  ``salescli send`` (a real process, wall time including start-up) against the floor — a
  bare ``smtplib`` loop sending the same rendered messages over one connection (goal ≤ 1.5×).
  The SMTP server is aiosmtpd in its own process, accepting without parsing.
* Selecting the due enrollments among 100,000 active ones (goal < 0.2 s).

The two sides alternate ``--repeat`` times on fresh copies of one database (the machine is
shared; medians are printed).

Usage: ``python benchmarks/bench_send.py [--steps 10000] [--selection 100000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from salescli.core import db  # noqa: E402
from salescli.core.timeutil import iso  # noqa: E402

ME = "me@ours.example"
PLAN = """
name = "bench"
window = "00:00-24:00"
days = "daily"
[[steps]]
wait = "0d"
subject = "Quick question, {{ prospect.first_name }}"
body = '''Hi {{ prospect.first_name }},

would {{ company.name }} like to see how we handle renewals? It takes twenty minutes and
we would show it on your own data.

Best,
{{ owner.name }}'''
[[steps]]
wait = "3d"
body = "Just bumping this up, {{ prospect.first_name }}."
"""

SERVER = textwrap.dedent("""
    import asyncio, sys, time
    from aiosmtpd.controller import Controller
    class H:
        n = 0
        async def handle_DATA(self, server, session, envelope):
            H.n += 1
            return "250 OK"
    c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[1]))
    c.start()
    print("ready", flush=True)
    sys.stdin.read()
    c.stop()
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_db(path: Path, n: int, when: datetime) -> None:
    """A database with maria (our sender), the plan, n prospects, all enrolled and due."""
    from salescli.sequences import enroll, store
    from salescli.web import users

    conn = db.open_write(path)
    users.add(conn, path, "bench", "maria", "operator", email=ME)
    plan = path.with_name("plan.toml")
    plan.write_text(PLAN)
    store.load(conn, "bench", plan)
    ts = iso(when)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO prospects(email, name, company, owner, stage_id, stage_entered_at,"
        " created_at, updated_at) VALUES (?, ?, ?, 'maria', 1, ?, ?, ?)",
        [(f"p{i}@client{i % 50}.example", f"Person {i}", f"Client {i % 50}", ts, ts, ts)
         for i in range(n)])
    conn.execute("COMMIT")
    enroll.enroll(conn, "bench", "bench", stage="lead", now_=when)
    conn.close()


def rendered(path: Path, when: datetime) -> list[tuple[str, str, bytes]]:
    """The messages ``send`` would send, rendered and flattened (outside the timing)."""
    from salescli.pipeline import prospects
    from salescli.sequences import compose, enroll, plans, store

    conn = db.open_read(path)
    seq = store.get(conn, "bench")
    plan = store.plan_of(conn, seq)
    out = []
    for e in conn.execute("SELECT * FROM enrollments ORDER BY id"):
        p = prospects.resolve(conn, e["prospect_id"])
        scope = enroll.scope_for(conn, p, e["sender"])
        subject, body = plans.render_step(plan.name, plan.steps[0], scope, None)
        msg = compose.build(sender=ME, sender_name="maria", recipient=p["email"],
                            recipient_name=p["name"], subject=subject, body=body,
                            msg_id=compose.message_id(ME, e["id"], 1, 1), refs=[],
                            token=e["token"], date=when)
        out.append((ME, p["email"], msg))
    conn.close()
    return out


def bare_loop(port: int, messages: list[tuple[str, str, bytes]]) -> float:
    start = time.perf_counter()
    client = smtplib.SMTP("127.0.0.1", port)
    for sender, rcpt, data in messages:
        client.sendmail(sender, [rcpt], data)
    client.quit()
    return time.perf_counter() - start


def salescli_send(path: Path, port: int) -> tuple[float, str]:
    env = {**os.environ, "SALESCLI_DB": str(path), "SALESCLI_SMTP_HOST": "127.0.0.1",
           "SALESCLI_SMTP_PORT": str(port), "SALESCLI_SMTP_SSL": "none",
           "SALESCLI_SEND_DAILY_CAP": "0", "SALESCLI_SEND_MIN_GAP": "0",
           "SALESCLI_LOCK_DIR": str(path.parent), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "salescli", "send"], env=env,
                          capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"salescli send failed: {done.stderr}")
    return took, done.stderr.strip()


def selection(n: int, tmp: Path, repeat: int = 5) -> float:
    """Median time to select the due enrollments among n active ones."""
    from salescli.sequences.send import due_ids

    path = tmp / "select.db"
    when = datetime(2026, 12, 1, 9, tzinfo=UTC)
    build_db(path, 1, when)
    conn = db.open_write(path)
    ts = iso(when)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO prospects(email, owner, stage_id, stage_entered_at, created_at,"
        " updated_at) VALUES (?, 'maria', 1, ?, ?, ?)",
        [(f"s{i}@sel.example", ts, ts, ts) for i in range(n)])
    # half due now, half due over the next weeks
    conn.execute(
        "INSERT INTO enrollments(sequence_id, prospect_id, sender, next_due_at, token,"
        " enrolled_at, updated_at) SELECT 1, id, ?, CASE WHEN id % 2 THEN ? ELSE ? END,"
        " 'tok' || id, ?, ? FROM prospects WHERE email LIKE '%@sel.example'",
        (ME, ts, iso(when + timedelta(days=20)), ts, ts))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        ids = due_ids(conn, when + timedelta(minutes=1))
        times.append(time.perf_counter() - start)
    assert len(ids) >= n // 2
    conn.close()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--selection", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        when = datetime.now(UTC) - timedelta(hours=1)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout.readline().strip() == "ready"
            template = tmp / "template.db"
            build_db(template, args.steps, when)
            messages = rendered(template, when)
            ours_times, bare_times, ratios = [], [], []
            for i in range(args.repeat):
                path = tmp / f"sales{i}.db"
                shutil.copyfile(template, path)
                bare = bare_loop(port, messages)
                ours, summary = salescli_send(path, port)
                conn = db.open_read(path)
                sent = conn.execute("SELECT count(*) FROM sends WHERE state = 'sent'"
                                    ).fetchone()[0]
                conn.close()
                assert sent == args.steps, (sent, summary)
                ours_times.append(ours)
                bare_times.append(bare)
                ratios.append(ours / bare)
        finally:
            server.stdin.close()
            server.wait(10)
        ours, bare = statistics.median(ours_times), statistics.median(bare_times)
        print(f"send {args.steps} due steps (median of {args.repeat}): salescli send "
              f"{ours:.2f} s ({args.steps / ours:.0f}/s), bare smtplib loop {bare:.2f} s "
              f"({args.steps / bare:.0f}/s): {statistics.median(ratios):.2f}x "
              f"(goal <= 1.5x; runs: {', '.join(f'{r:.2f}x' for r in ratios)})")
        sel = selection(args.selection, tmp)
        print(f"due-step selection among {args.selection} enrollments: {sel * 1000:.0f} ms "
              f"(goal < 200 ms)")


if __name__ == "__main__":
    main()
