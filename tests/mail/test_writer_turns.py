"""Writers take turns: a stage move made while a scan records goes in after the batch
being recorded, not after the whole scan (two real processes, synchronised by files)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from salescli.core import db
from salescli.mail import sample
from salescli.pipeline import prospects
from tests.mail.helpers import CREATED, ME, ago, cli_env, start_cli

PEOPLE = [(f"Person {i}", f"p{i}@example.com") for i in range(8)]


def _wait_for(flag: Path, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not flag.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{flag.name} never appeared")
        time.sleep(0.02)


def _mail(tmp_path: Path) -> Path:
    """One mail of ours to each person, an hour apart: one batch each at batch size 1."""
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    start = ago(days=2)
    for i, (name, email) in enumerate(PEOPLE):
        when = start + timedelta(hours=i)
        raw, _ = sample.outbound(ME, {"email": email, "name": name}, when, f"Offer {i}")
        sample.write_maildir_message(maildir / ".Sent", raw, when)
    (maildir / ".Sent" / "maildirfolder").touch()
    return maildir


def test_a_stage_move_during_a_scan_waits_one_batch_not_the_scan(tmp_path, db_file):
    c = db.open_write(db_file)
    for name, email in PEOPLE:
        prospects.add(c, "tester", email, name=name, at=CREATED)
    c.close()
    maildir = _mail(tmp_path)
    paused, waiting = tmp_path / "scan-paused", tmp_path / "mover-waiting"
    scan = start_cli("scan", "--source", f"maildir:{maildir}", env=cli_env(
        SALESCLI_SCAN_BATCH="1", SALESCLI_MY_ADDRESSES=ME,
        SALESCLI_FAILPOINT=f"scan.batch.before_commit:1:pause={paused}"))
    mover = None
    try:
        _wait_for(paused, scan)  # the scan holds the write lock, inside its first batch
        mover = start_cli("--as", "mover", "prospects", "move", PEOPLE[-1][1], "meeting",
                          env=cli_env(SALESCLI_FAILPOINT=f"db.begin:1:touch={waiting}"))
        _wait_for(waiting, mover)  # the move is queued for the lock
        paused.unlink()
        _, move_err = mover.communicate(timeout=60)
        _, scan_err = scan.communicate(timeout=60)
    finally:
        for p in (scan, mover):
            if p is not None and p.poll() is None:
                p.kill()
    assert mover.returncode == 0 and "locked" not in move_err, move_err
    assert scan.returncode == 0, scan_err
    c = db.open_read(db_file)
    try:
        move = c.execute("SELECT id FROM activities WHERE actor = 'mover' AND action = 'move'"
                         ).fetchone()[0]
        recorded = [r[0] for r in c.execute(
            "SELECT a.id FROM activities a JOIN interactions i ON i.id = a.entity_id"
            " WHERE a.entity = 'interaction' AND i.actor = 'monitor' ORDER BY i.occurred_at")]
    finally:
        c.close()
    assert len(recorded) == len(PEOPLE)
    # The first mail's batch committed before the move; every later batch after it.
    assert recorded[0] < move < recorded[1], (move, recorded)
