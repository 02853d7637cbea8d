"""Benchmark ``salescli scan --jobs N`` over many mailboxes behind network latency.

Fills a throwaway Dovecot with A accounts × M new messages each (outbound mail, replies,
auto-replies, bounces), puts a loopback proxy in front of it that delays every packet by
20 ms in each direction (written here, asyncio; all traffic stays on 127.0.0.1), and
measures in one run a first scan of every account sequentially (``--jobs 1``) and with
``--jobs 16`` (real ``salescli`` processes, one SQLite file each). Prints both wall
times, the ratio (goal ≥ 8×) and the extrapolation to 1,000 accounts inside a 5-minute
cron window.

Usage: ``python benchmarks/bench_fanout.py [--accounts 200] [--messages 100]
[--latency-ms 20] [--jobs 16]`` (needs dovecot-imapd).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from salescli.mail import sample  # noqa: E402

ME = "me@ours.example"


class LatencyProxy:
    """A TCP proxy on 127.0.0.1 that delivers every chunk ``delay`` seconds after it was
    read, in each direction, keeping order (latency, not a bandwidth limit)."""

    def __init__(self, target_port: int, delay: float):
        self.target_port = target_port
        self.delay = delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LatencyProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunks: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            loop = asyncio.get_running_loop()
            while True:
                due, data = await chunks.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        task = asyncio.create_task(deliver())
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(65536)
                chunks.put_nowait((loop.time() + self.delay, data or None))
                if not data:
                    break
        except OSError:
            chunks.put_nowait((loop.time(), None))
        await task

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


def mailbox(index: int, messages: int) -> tuple[list[dict], list, list]:
    """One account's people and mail: (people, INBOX, Sent)."""
    people = [{"email": f"p{index}-{i}@firm{index % 50}.example", "name": f"P {index} {i}"}
              for i in range(max(1, messages // 4))]
    now = datetime.now(UTC).replace(microsecond=0)
    inbox, sent = [], []
    for n in range(messages):
        person = people[n % len(people)]
        when = now - timedelta(days=10, minutes=7 * (messages - n))
        kind = n % 10
        if kind < 5:
            raw, _ = sample.outbound(ME, person, when, f"Offer {n}")
            sent.append((raw, when))
        elif kind < 8:
            inbox.append((sample.reply(person, ME, when, f"Offer {n}", None)[0], when))
        elif kind == 8:
            inbox.append((sample.auto_reply(person, ME, when, f"Offer {n}")[0], when))
        else:
            inbox.append((sample.dsn_bounce(person["email"], ME, when)[0], when))
    return people, inbox, sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--messages", type=int, default=100, help="new messages per account")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="added each way")
    ap.add_argument("--jobs", type=int, default=16)
    args = ap.parse_args()

    from salescli.core import db
    from salescli.pipeline import prospects
    from tests.support.dovecot import Dovecot

    work = Path(tempfile.mkdtemp(prefix="salescli-fanout-"))
    server = Dovecot().start()
    proxy = LatencyProxy(server.port, args.latency_ms / 1000).start()
    try:
        print(f"filling {args.accounts} accounts × {args.messages} messages …", flush=True)
        t = time.perf_counter()
        everyone: list[dict] = []
        config = [f'my_addresses = ["{ME}"]']
        env = {k: v for k, v in os.environ.items() if not k.startswith("SALESCLI_")}
        for a in range(args.accounts):
            user = server.add_user(f"rep{a}", f"pw{a}")
            people, inbox, sent = mailbox(a, args.messages)
            everyone += people
            server.bulk_append(user, "Sent", sent)
            server.bulk_append(user, "INBOX", inbox)
            config.append(f'[[accounts]]\nname = "rep{a}"\nhost = "127.0.0.1"\n'
                          f'port = {proxy.port}\nuser = "{user}"\nssl = "none"\n'
                          f'password_env = "PW_REP{a}"\ntimeout = 60\n')
            env[f"PW_REP{a}"] = f"pw{a}"
        (work / "accounts.toml").write_text("\n".join(config))
        template = work / "template.db"
        conn = db.open_write(template)
        with db.transaction(conn):
            for p in everyone:
                prospects.add(conn, "bench", p["email"], name=p["name"])
        conn.close()
        print(f"  filled in {time.perf_counter() - t:.1f}s; proxy adds "
              f"{args.latency_ms:.0f} ms each way", flush=True)
        env.update(PYTHONPATH=str(ROOT), SALESCLI_CONFIG=str(work / "accounts.toml"),
                   SALESCLI_LOCK_DIR=str(work))
        results, cpu = {}, {}
        for jobs in (1, args.jobs):
            target = work / f"jobs{jobs}.db"
            shutil.copy(template, target)
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "salescli", "scan", "--jobs",
                                     str(jobs)], env={**env, "SALESCLI_DB": str(target)},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            err = proc.stderr.read().decode(errors="replace")
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.stderr.close()
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"scan --jobs {jobs} failed:\n{err[-2000:]}")
            cpu[jobs] = usage.ru_utime + usage.ru_stime
            c = db.connect(target)
            recorded = c.execute("SELECT count(*) FROM mail_messages").fetchone()[0]
            c.close()
            if recorded != args.accounts * args.messages:
                raise SystemExit(f"--jobs {jobs} recorded {recorded} messages")
            results[jobs] = wall
            print(f"  --jobs {jobs:<3} {wall:8.2f} s wall, {cpu[jobs]:6.2f} s CPU", flush=True)
    finally:
        proxy.close()
        server.close()
        shutil.rmtree(work, ignore_errors=True)

    seq, par = results[1], results[args.jobs]
    per_account = par / args.accounts
    print()
    print(f"accounts: {args.accounts} × {args.messages} new messages, "
          f"{args.latency_ms:.0f} ms added each way; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"sequential (--jobs 1)          {seq:8.2f} s   (CPU {cpu[1]:.2f} s)")
    print(f"parallel   (--jobs {args.jobs:<3})        {par:8.2f} s   (CPU {cpu[args.jobs]:.2f} s:"
          " the floor on a busy machine)")
    print(f"ratio                          {seq / par:8.1f}×   goal ≥ 8×")
    print(f"1,000 accounts at --jobs {args.jobs}: about {per_account * 1000:6.0f} s"
          f"   goal ≤ 300 s (a 5-minute cron window)")


if __name__ == "__main__":
    main()
