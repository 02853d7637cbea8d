"""Benchmark the email monitor against a real Dovecot.

Fills a throwaway Dovecot with N realistic messages (outbound mail, replies,
auto-replies, bounces, newsletters, attachments; 2–20 KB each) for N/10 prospects, then
measures in one run:

* first ``salescli scan`` (a real process, wall time) against the floor for a Python
  scanner — a bare imapclient script fetching the same header fields in batches of 500
  UIDs and parsing them with the stdlib parser (goal ≤ 2.5×) — and against ``mbsync``
  (isync, ``FSync no``) pulling the same mailbox to a local Maildir (goal ≤ 1.0×);
* a rescan with no new mail at 1k and at N messages (goal ≤ 0.3 s including process
  start, and flat);
* the scan's peak RSS (goal ≤ 100 MB).

Usage: ``python benchmarks/bench_scan.py [--messages 20000] [--repeat 2] [--no-mbsync]
[--keep DIR]`` (500k: ``--messages 500000 --repeat 1 --no-mbsync``; the mail is generated
as it is appended, about 3.5 GB of Maildir, 10–17 minutes: ``--keep DIR`` keeps the
filled Dovecot in DIR and reuses it on the next run with the same ``--messages`` and
``--small``)
(needs dovecot-imapd and isync; runs as root or as an ordinary user).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from salescli.mail import sample  # noqa: E402
from salescli.mail.parse import FIELDS  # noqa: E402

ME = "me@ours.example"
WORDS = ("pipeline quarter pricing proposal meeting contract renewal budget timeline "
         "security review onboarding integration pilot forecast discount roadmap").split()


def _text(rng: random.Random, size: int) -> str:
    words = []
    total = 0
    while total < size:
        w = rng.choice(WORDS)
        words.append(w)
        total += len(w) + 1
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    return "\n".join(lines) + "\n"


def _attach(raw: bytes, rng: random.Random, size: int) -> bytes:
    """Wrap a plain message into multipart/mixed with a base64 attachment of ``size``."""
    head, _, body = raw.partition(b"\n\n")
    head = b"\n".join(line for line in head.split(b"\n")
                      if not line.lower().startswith(b"content-type"))
    boundary = f"b{rng.getrandbits(64):x}"
    data = base64.encodebytes(rng.randbytes(size)).decode()
    return (head + f'\nContent-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n".encode() + body
            + f"\n--{boundary}\nContent-Type: application/pdf; name=offer.pdf\n"
              f"Content-Transfer-Encoding: base64\n"
              f"Content-Disposition: attachment; filename=offer.pdf\n\n{data}\n"
              f"--{boundary}--\n".encode())


def people_for(n: int) -> list[dict]:
    """The n/10 prospects of an n-message mailbox."""
    return [{"email": f"person{i}@company{i % 300}.example", "name": f"Person {i}",
             "company": f"Company {i % 300}"} for i in range(max(1, n // 10))]


def iter_mail(n: int, seed: int = 1):
    """Yield (folder, raw, when) for n messages, built as they are appended (a 500k
    mailbox is several GB: it is never held in memory)."""
    rng = random.Random(seed)
    people = people_for(n)
    now = datetime.now(UTC).replace(microsecond=0)
    for i in range(n):
        person = people[i % len(people)]
        when = now - timedelta(days=rng.randint(1, 300), minutes=rng.randint(0, 1440))
        kind = rng.random()
        subject = f"{rng.choice(WORDS).title()} for {person['company']}"
        body = _text(rng, rng.randint(1500, 12000))
        if kind < 0.40:
            raw, _ = sample.outbound(ME, person, when, subject, body=body)
            if rng.random() < 0.2:
                raw = _attach(raw, rng, rng.randint(1000, 5000))
            yield "Sent", raw, when
        elif kind < 0.70:
            raw, _ = sample.reply(person, ME, when, subject, f"<x{i}@ours.example>", body=body)
            yield "INBOX", raw, when
        elif kind < 0.78:
            raw, _ = sample.auto_reply(person, ME, when, subject)
            yield "INBOX", raw + body.encode(), when
        elif kind < 0.83:
            raw, _ = sample.dsn_bounce(person["email"], ME, when, hard=rng.random() < 0.7)
            yield "INBOX", raw + body.encode(), when
        else:
            raw, _ = sample.newsletter(ME, when, sender=f"news@vendor{i % 20}.example")
            yield "INBOX", raw + body.encode(), when


def build_mail(n: int, seed: int = 1) -> tuple[list[dict], list, list]:
    """(prospects, INBOX messages, Sent messages) with n messages in all (small n)."""
    inbox: list = []
    sent: list = []
    for folder, raw, when in iter_mail(n, seed):
        (sent if folder == "Sent" else inbox).append((raw, when))
    return people_for(n), inbox, sent


def fill(server, user: str, n: int, seed: int = 1, chunk: int = 500) -> dict:
    """Append n generated messages for ``user`` (MULTIAPPEND, ``chunk`` per command);
    returns counts and sizes."""
    c = server.client(user, timeout=300)
    stats = {"INBOX": 0, "Sent": 0, "bytes": 0, "min": 1 << 30, "max": 0}
    pending: dict[str, list] = {"INBOX": [], "Sent": []}
    try:
        c.create_folder("Sent")

        def flush(folder: str) -> None:
            if pending[folder]:
                c.multiappend(folder, [{"msg": raw, "date": when}
                                       for raw, when in pending[folder]])
                pending[folder] = []

        for folder, raw, when in iter_mail(n, seed):
            stats[folder] += 1
            stats["bytes"] += len(raw)
            stats["min"], stats["max"] = min(stats["min"], len(raw)), max(stats["max"], len(raw))
            pending[folder].append((raw, when))
            if len(pending[folder]) >= chunk:
                flush(folder)
        for folder in pending:
            flush(folder)
    finally:
        c.logout()
    return stats


def bare_fetch(host: str, port: int, user: str, password: str) -> int:
    """The floor: imapclient + stdlib parser, same header fields, batches of 500 UIDs."""
    from email.parser import BytesHeaderParser

    from imapclient import IMAPClient

    item = "BODY.PEEK[HEADER.FIELDS (" + " ".join(f.upper() for f in FIELDS) + ")]"
    parser = BytesHeaderParser()
    client = IMAPClient(host, port, ssl=False)
    client.login(user, password)
    count = 0
    for folder in ("INBOX", "Sent"):
        client.select_folder(folder, readonly=True)
        # UIDs up to UIDNEXT - 1 in lists of 500 (no SEARCH ALL: with 300k messages its
        # one-line answer exceeds imaplib's 1 MB line limit).
        top = client.folder_status(folder, ["UIDNEXT"])[b"UIDNEXT"] - 1
        for i in range(1, top + 1, 500):
            uids = list(range(i, min(i + 500, top + 1)))
            for data in client.fetch(uids, [item, "INTERNALDATE"]).values():
                raw = next(v for k, v in data.items() if k.startswith(b"BODY[HEADER"))
                msg = parser.parsebytes(raw)
                msg.get("from"), msg.get("date"), msg.get("message-id")
                count += 1
    client.logout()
    return count


def bare_status(host: str, port: int, user: str, password: str) -> None:
    """The floor of a rescan with no new mail: a process that logs in and sends what the
    scan sends (STATUS of INBOX, then of Sent, then LIST). Dovecot answers STATUS INBOX
    at once as a session's first command, but after LIST or another STATUS it costs time
    that grows with the folder (0.09 s at 60k messages, 0.4 s at 300k on a quiet
    machine; the same with every message moved from ``new/`` to ``cur/``), which is why
    the scan asks it first."""
    from imapclient import IMAPClient

    client = IMAPClient(host, port, ssl=False)
    client.login(user, password)
    for folder in ("INBOX", "Sent"):
        client.folder_status(folder, ["UIDNEXT", "UIDVALIDITY", "HIGHESTMODSEQ"])
    client.list_folders()
    client.logout()


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, int, str, float]:
    """Run a process; (wall seconds, peak RSS in KB, stderr, CPU seconds user+sys).

    The peak RSS comes from GNU time when installed: a child forked straight from this
    (large) process would count pages of ours it never used."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists()
                                        else None)
    if gnu_time:
        cmd = [gnu_time, "-f", "maxrss=%M", *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    peak = usage.ru_maxrss
    if gnu_time:
        lines = err.rstrip().splitlines()
        peak = int(lines[-1].split("=", 1)[1])
        err = "\n".join(lines[:-1])
    return wall, peak, err, usage.ru_utime + usage.ru_stime


def make_db(path: Path, people: list[dict]) -> None:
    from salescli.core import db
    from salescli.pipeline import prospects

    conn = db.open_write(path)
    with db.transaction(conn):
        for p in people:
            prospects.add(conn, "bench", p["email"], name=p["name"], company=p["company"])
    conn.close()


def mbsync_config(directory: Path, server, user: str) -> Path:
    conf = directory / "mbsyncrc"
    local = directory / "maildir"
    shutil.rmtree(local, ignore_errors=True)
    local.mkdir(parents=True)
    conf.write_text(f"""FSync no

IMAPAccount bench
Host {server.host}
Port {server.port}
User {user}
Pass {server.password(user)}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns INBOX Sent
Create Near
Sync Pull
SyncState *
""")
    return conf


def filled_server(dovecot: type, n: int, small: int, keep: Path | None) -> tuple[Any, dict]:
    """A started Dovecot with users ``big`` (n messages) and ``small``; with ``keep``, the
    mail filled by an earlier run with the same sizes is reused (its ``filled.json`` is
    written once both users are filled, so a fill cut short is never reused)."""
    server = dovecot(root=keep).start()
    marker = keep / "filled.json" if keep else None
    want = {"messages": n, "small": small, "generator": 1}
    known = json.loads(marker.read_text()) if marker and marker.exists() else {}
    for user in ("big", "small"):
        server.add_user(user, f"{user}-pw")
    if known.get("want") == want:
        st = known["stats"]
        print(f"reusing the {n} messages filled in {keep}", flush=True)
    else:
        if marker:
            marker.unlink(missing_ok=True)
            for user in ("big", "small"):  # an older or partial fill
                shutil.rmtree(server.mail_root / user / "Maildir", ignore_errors=True)
        print(f"appending {n} generated messages …", flush=True)
        t = time.perf_counter()
        st = fill(server, "big", n)
        fill(server, "small", small)
        st["seconds"] = round(time.perf_counter() - t, 1)
        if marker:
            marker.write_text(json.dumps({"want": want, "stats": st}))
    print(f"  {st['INBOX']} in INBOX, {st['Sent']} in Sent, {len(people_for(n))} prospects, "
          f"{st['min'] / 1024:.1f}–{st['max'] / 1024:.1f} KB, "
          f"{st['bytes'] / 2**20:.0f} MB; appended in {st['seconds']:.1f}s", flush=True)
    return server, st


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--small", type=int, default=1000, help="size of the small rescan mailbox")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement (best kept)")
    ap.add_argument("--no-mbsync", action="store_true", help="skip the mbsync comparison")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the filled Dovecot in DIR; reuse it when it holds the same "
                         "--messages and --small")
    ap.add_argument("--fill-only", action="store_true",
                    help="with --keep: fill DIR (unless it is filled already) and stop")
    args = ap.parse_args()
    if args.fill_only and not args.keep:
        ap.error("--fill-only needs --keep DIR")

    from tests.support.dovecot import Dovecot

    work = Path(tempfile.mkdtemp(prefix="salescli-bench-"))
    server, st = filled_server(Dovecot, args.messages, args.small,
                               Path(args.keep) if args.keep else None)
    if args.fill_only:
        server.close()
        return
    try:
        people = people_for(args.messages)
        gc.collect()
        bare_fetch(server.host, server.port, "big", "big-pw")  # warm Dovecot's caches

        template = work / "template.db"
        make_db(template, people)
        small_template = work / "small-template.db"
        make_db(small_template, people_for(args.small))
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("SALESCLI_")}
        base_env.update(PYTHONPATH=str(ROOT), SALESCLI_IMAP_HOST=server.host,
                        SALESCLI_IMAP_PORT=str(server.port), SALESCLI_IMAP_SSL="none",
                        SALESCLI_MY_ADDRESSES=ME, SALESCLI_LOCK_DIR=str(work))
        py = sys.executable

        def scan_env(user: str, db: Path) -> dict:
            return {**base_env, "SALESCLI_IMAP_USER": user,
                    "SALESCLI_IMAP_PASSWORD": server.password(user), "SALESCLI_DB": str(db)}

        bare, scans, mbsyncs, rss = [], [], [], []
        for r in range(args.repeat):
            wall, _, _, cpu = timed([py, __file__, "--bare", server.host, str(server.port),
                                     "big", "big-pw"], env=base_env)
            bare.append((wall, cpu))
            db_file = work / f"first-{r}.db"
            shutil.copy(template, db_file)
            wall, peak, err, cpu = timed([py, "-m", "salescli", "scan"],
                                         env=scan_env("big", db_file))
            scans.append((wall, cpu))
            rss.append(peak)
            if r == 0:
                print("  " + err.strip().splitlines()[-1], flush=True)
            if shutil.which("mbsync") and not args.no_mbsync:
                conf = mbsync_config(work, server, "big")
                wall, _, _, cpu = timed(["mbsync", "-q", "-c", str(conf), "-a"])
                mbsyncs.append((wall, cpu))
        small_db = work / "small.db"
        shutil.copy(small_template, small_db)
        timed([py, "-m", "salescli", "scan"], env=scan_env("small", small_db))
        rescans = {}
        for label, user, db_file in ((args.small, "small", small_db),
                                     (args.messages, "big", work / "first-0.db")):
            times = [timed([py, "-m", "salescli", "scan"], env=scan_env(user, db_file))[0]
                     for _ in range(7)]
            floors = [timed([py, __file__, "--bare-status", server.host, str(server.port),
                             user, server.password(user)], env=base_env)[0] for _ in range(7)]
            rescans[label] = statistics.median(times), statistics.median(floors)
    except SystemExit:
        print("Dovecot's log, last lines:\n" + "\n".join(server.log_text().splitlines()[-15:]),
              file=sys.stderr)
        raise
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)

    n = args.messages
    (first, first_cpu), (floor, floor_cpu) = min(scans), min(bare)
    print()
    print(f"messages: {n}; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("                                  wall s    msg/s   ratio  |  CPU s  ratio")
    print(f"bare imapclient header fetch   {floor:8.2f} {n / floor:8,.0f}          |"
          f" {floor_cpu:6.2f}")
    print(f"salescli scan (first)          {first:8.2f} {n / first:8,.0f} {first / floor:6.2f}×"
          f"  | {first_cpu:6.2f} {first_cpu / floor_cpu:5.2f}×   goal ≤ 2.5×")
    if mbsyncs:
        sync, sync_cpu = min(mbsyncs)
        print(f"mbsync pull to Maildir         {sync:8.2f} {n / sync:8,.0f} {first / sync:6.2f}×"
              f"  | {sync_cpu:6.2f}           goal ≤ 1.0× (wall)")
    for label, (wall, floor_wall) in rescans.items():
        print(f"rescan, no new mail, {label:>6} msgs {wall:7.3f} s wall (median of 7)"
              f"   goal ≤ 0.3 s, flat; bare login+STATUS+LIST {floor_wall:.3f} s")
    print(f"peak RSS of the scan           {max(rss) / 1024:7.1f} MB"
          "                          goal ≤ 100 MB")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--bare":
        bare_fetch(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif len(sys.argv) == 6 and sys.argv[1] == "--bare-status":
        bare_status(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        main()
