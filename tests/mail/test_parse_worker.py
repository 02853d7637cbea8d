"""Headers of a large import parsed in a child process (mail/parse_worker.py): the same
rows as parsing in the scan's own process, the child gone after the scan, and a child
that dies replaced by parsing in-process."""

from __future__ import annotations

import io
import logging
import pickle
import random
from datetime import timedelta

from salescli.core import db
from salescli.mail import fetch, parse_worker, sample
from salescli.mail import scan as scanner
from salescli.mail.parse import parse_many
from salescli.mail.run import ScanOptions
from salescli.pipeline import prospects
from tests.mail.helpers import CREATED, ME, ago, snapshot

PEOPLE = [{"email": f"p{i}@firm{i % 7}.example", "name": f"P {i}"} for i in range(12)]


def _maildir(path) -> None:
    """60 messages of every kind, dated at random (out of order), and two broken ones."""
    rng = random.Random(5)
    base = ago(days=60)
    for i in range(60):
        person = PEOPLE[rng.randrange(len(PEOPLE))]
        when = base + timedelta(minutes=rng.randrange(50 * 24 * 60))
        kind = i % 5
        if kind == 0:
            sample.write_maildir_message(path / ".Sent", sample.outbound(
                ME, person, when, f"Offer {i}")[0], when)
            continue
        raw = (sample.reply(person, ME, when, f"Offer {i}", None)[0] if kind == 1 else
               sample.auto_reply(person, ME, when, f"Offer {i}")[0] if kind == 2 else
               sample.dsn_bounce(person["email"], ME, when, hard=i % 2 == 0)[0] if kind == 3
               else sample.newsletter(ME, when)[0])
        sample.write_maildir_message(path, raw, when)
    sample.write_maildir_message(path, b"From: <>\nSubject: no date, no sender\n\nhi\n", base)
    sample.write_maildir_message(path, b"\xff\xfe not a header at all\n\n", base)


def _scan(tmp_path, name: str, box) -> dict:
    path = tmp_path / name
    conn = db.open_write(path)
    for p in PEOPLE:
        prospects.add(conn, "tester", p["email"], name=p["name"], at=CREATED)
    sources = scanner.sources_for(f"maildir:{box}", my_addresses=[ME])
    counts = scanner.scan(conn, sources, ScanOptions(deliver=False))
    conn.close()
    return counts


def test_a_folder_parsed_by_the_worker_records_what_parsing_in_process_does(tmp_path,
                                                                            monkeypatch):
    box = tmp_path / "Maildir"
    _maildir(box)
    started = []
    start = parse_worker.ParseWorker._start

    def watched(self):
        started.append(start(self))
        return started[-1]

    monkeypatch.setattr(parse_worker.ParseWorker, "_start", watched)
    at_home = _scan(tmp_path, "home.db", box)  # 62 messages: parsed in-process
    assert started == []

    monkeypatch.setattr(fetch, "WORKER_MIN", 1)  # every folder in the worker
    apart = _scan(tmp_path, "apart.db", box)

    assert len(started) == 1  # one worker for the account, both folders
    assert started[0].poll() == 0  # ended with the scan, cleanly
    assert apart["seen"] == at_home["seen"] == 62 and apart["quarantined"] == 2
    apart_rows, home_rows = snapshot(tmp_path / "apart.db"), snapshot(tmp_path / "home.db")
    # A Maildir's UIDVALIDITY comes from its directories' times, which the first scan
    # changed (it moved the messages to cur/): the folders and UIDs must match.
    assert [(c[1], c[3]) for c in apart_rows.pop("checkpoints")] == \
        [(c[1], c[3]) for c in home_rows.pop("checkpoints")] == [("INBOX", 50), ("Sent", 12)]
    assert apart_rows == home_rows


def test_a_worker_that_dies_is_replaced_by_parsing_in_process(tmp_path, caplog):
    when = ago(days=1)
    items = [(n, f"box/{n}", sample.outbound(ME, p, when, f"Hi {n}")[0].split(b"\n\n")[0],
              None) for n, p in enumerate(PEOPLE)]
    expected = parse_many("acct", "Sent", True, items)
    worker = parse_worker.ParseWorker()
    try:
        assert worker.parse("acct", "Sent", True, items) == expected
        proc = worker._proc
        proc.kill()
        proc.wait()
        with caplog.at_level(logging.WARNING, logger="salescli.mail"):
            assert worker.parse("acct", "Sent", True, items) == expected
            assert worker.parse("acct", "Sent", True, items[:3]) == expected[:3]
        assert caplog.messages == [
            "header parser process failed (BrokenPipeError): parsing in-process"]
        assert worker._proc is None  # not restarted
    finally:
        worker.close()


def test_the_worker_loop_answers_each_request_in_order_until_its_input_ends():
    when = ago(days=1)
    requests = [("a", "Sent", True, [(n, f"a/{n}", sample.outbound(
        ME, p, when, f"Hi {n}")[0].split(b"\n\n")[0], None) for n, p in enumerate(PEOPLE[:4])]),
        ("b", "INBOX", False, [(7, "b/7", b"Subject: no sender\n", b"01-Jan-2024 00:00:00 +0000"),
                              (8, "b/8", b"", None)]),
        ("c", "INBOX", False, [])]
    inp, out = io.BytesIO(), io.BytesIO()
    for request in requests:
        pickle.dump(request, inp)
    inp.seek(0)
    parse_worker.serve(inp, out)  # returns at the end of its input
    out.seek(0)
    answers = [pickle.load(out) for _ in requests]
    assert out.read() == b""
    assert answers == [parse_many(*request) for request in requests]
    assert [e.from_addr for e in answers[0]] == [ME] * 4 and answers[0][0].sent_folder
    assert [(e.error, e.from_error, e.sent_at) for e in answers[1]] == [
        (None, "no From header", "2024-01-01T00:00:00Z"),  # its arrival time stands in
        ("no usable Date and no arrival time", "no From header", "")]
    assert answers[2] == []
