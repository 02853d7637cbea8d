"""``scan --watch`` as a real process against a real Dovecot: new mail recorded within
seconds, a Dovecot restart survived, SIGTERM during a batch ends cleanly with the rows a
rerun completes, a message arriving during re-IDLE is not lost. The tests wait for
database conditions (with a deadline) or for failpoint files, never a fixed time."""

from __future__ import annotations

import shutil
import signal
import time
from datetime import timedelta
from pathlib import Path

from salescli.core import db
from salescli.mail import sample
from salescli.pipeline import prospects
from tests.mail.conftest import _need_dovecot
from tests.mail.helpers import (
    CREATED,
    ME,
    ago,
    cli_env,
    new_mailbox,
    run_cli,
    snapshot,
    start_cli,
)
from tests.support.dovecot import Dovecot

PEOPLE = [{"email": f"w{i}@firm.example", "name": f"W {i}"} for i in range(10)]


def _make_db(path: Path) -> Path:
    c = db.open_write(path)
    for p in PEOPLE:
        prospects.add(c, "tester", p["email"], name=p["name"], at=CREATED)
    c.close()
    return path


def _query(db_file: Path, sql: str, *args):
    c = db.connect(db_file)
    try:
        return c.execute(sql, args).fetchone()
    finally:
        c.close()


def _wait_until(check, proc, what: str, timeout: float = 60.0):
    """Poll ``check()`` until it is truthy; fail naming ``what`` (with the watcher's log)
    if the deadline passes or the watcher exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"watcher exited ({proc.returncode}) before {what}: "
                                 f"{proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}: {proc.communicate()[1][-3000:]}")


def _stage(db_file: Path, email: str) -> str | None:
    row = _query(db_file, "SELECT s.name FROM prospects p JOIN stages s ON s.id = p.stage_id"
                 " WHERE p.email = ?", email)
    return row[0] if row else None


def _cycles(db_file: Path) -> int:
    return _query(db_file, "SELECT count(*) FROM job_runs WHERE job = 'scan'"
                  " AND status = 'ok'")[0]


def _outbound(box, people, when):
    box.append_many("Sent", [(sample.outbound(ME, p, when, "Hello")[0], when) for p in people])


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_watch_records_new_mail_within_seconds_and_survives_a_dovecot_restart(
        own_dovecot, tmp_path, db_file):
    box = new_mailbox(own_dovecot)
    _make_db(db_file)
    t = ago(days=1)
    _outbound(box, PEOPLE[:2], t)
    env = cli_env(**box.env(SALESCLI_IMAP_RETRIES="2"), SALESCLI_DB=str(db_file))
    proc = start_cli("scan", "--watch", "--interval", "300", env=env)
    try:
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "contacted", proc,
                    "the first cycle")
        # New mail: recorded long before the 300 s interval (IDLE woke the scanner).
        box.append("INBOX", sample.reply(PEOPLE[0], ME, ago(hours=1), "Hello", None)[0])
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "replied", proc,
                    "the reply via IDLE", timeout=30)
        own_dovecot.restart()
        box.append("INBOX", sample.reply(PEOPLE[1], ME, ago(hours=1), "Hello", None)[0])
        _wait_until(lambda: _stage(db_file, PEOPLE[1]["email"]) == "replied", proc,
                    "the reply after the restart", timeout=90)
    finally:
        if proc.poll() is None:
            _stop(proc)
    row = _query(db_file, "SELECT status FROM job_runs ORDER BY id DESC LIMIT 1")
    assert row[0] == "ok"
    assert _query(db_file, "SELECT count(*) FROM job_runs WHERE status = 'running'")[0] == 0


def test_sigterm_during_a_batch_commits_it_and_a_rerun_completes(own_dovecot, tmp_path):
    box = new_mailbox(own_dovecot)
    t = ago(days=2)
    mail = []
    for i, p in enumerate(PEOPLE):
        mail.append((sample.reply(p, ME, t + timedelta(hours=i), "Hello", None)[0],
                     t + timedelta(hours=i)))
    box.append_many("INBOX", mail)
    _outbound(box, PEOPLE, t - timedelta(days=1))
    reference = _make_db(tmp_path / "reference.db")
    env = cli_env(**box.env(), SALESCLI_SCAN_BATCH="3")
    done = run_cli("scan", env={**env, "SALESCLI_DB": str(reference)})
    assert done.returncode == 0, done.stderr

    target = _make_db(tmp_path / "watched.db")
    flag = tmp_path / "in-batch"
    proc = start_cli("scan", "--watch", env={
        **env, "SALESCLI_DB": str(target),
        "SALESCLI_FAILPOINT": f"scan.batch.before_commit:2:pause={flag}"})
    try:
        _wait_until(flag.exists, proc, "the second batch")
        proc.send_signal(signal.SIGTERM)
        flag.unlink()  # the batch goes on, commits, and the watcher stops
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    # Two batches of three committed, nothing after the stop request.
    assert _query(target, "SELECT count(*) FROM mail_messages")[0] == 6
    status, counts = _query(target, "SELECT status, counts FROM job_runs ORDER BY id DESC")
    assert status == "ok" and '"stopped": true' in counts
    again = run_cli("scan", env={**env, "SALESCLI_DB": str(target)})
    assert again.returncode == 0, again.stderr
    assert snapshot(target) == snapshot(reference)


def test_a_message_arriving_during_re_idle_is_recorded(own_dovecot, tmp_path, db_file):
    box = new_mailbox(own_dovecot)
    _make_db(db_file)
    _outbound(box, PEOPLE[:1], ago(days=1))
    flag = tmp_path / "between-idles"
    env = cli_env(**box.env(), SALESCLI_DB=str(db_file), SALESCLI_WATCH_REIDLE="1",
                  SALESCLI_FAILPOINT=f"watch.reidle.INBOX:1:pause={flag}")
    proc = start_cli("scan", "--watch", "--interval", "300", env=env)
    try:
        _wait_until(flag.exists, proc, "the INBOX re-IDLE")
        cycles = _cycles(db_file)
        # INBOX is out of IDLE (DONE sent, IDLE not yet): the mail arrives now.
        box.append("INBOX", sample.reply(PEOPLE[0], ME, ago(hours=1), "Hello", None)[0])
        flag.unlink()
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "replied", proc,
                    "the reply that arrived during re-IDLE", timeout=30)
        # the cycle that recorded it marks its job_runs row ok just after its commit
        _wait_until(lambda: _cycles(db_file) > cycles, proc, "the cycle's job_runs row")
    finally:
        if proc.poll() is None:
            _stop(proc)
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)


def test_without_idle_the_watcher_polls_every_interval(tmp_path, db_file):
    # The server's whole capability list, as Dovecot 2.3 sends it, minus IDLE.
    caps = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT MULTIAPPEND UNSELECT CHILDREN"
            " NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH"
            " SEARCHRES WITHIN LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE")
    _need_dovecot()
    with Dovecot(capabilities=caps).start() as server:
        box = new_mailbox(server)
        _make_db(db_file)
        _outbound(box, PEOPLE[:1], ago(days=1))
        env = cli_env(**box.env(), SALESCLI_DB=str(db_file))
        proc = start_cli("scan", "--watch", "--interval", "1", env=env)
        try:
            # The first cycle's job row is finished after its stage change is seen: wait
            # for both, so that the reply comes after a cycle that could not see it.
            _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "contacted"
                        and _cycles(db_file) >= 1, proc, "the first cycle")
            cycles = _cycles(db_file)
            box.append("INBOX", sample.reply(PEOPLE[0], ME, ago(hours=1), "Hello", None)[0])
            _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "replied", proc,
                        "the reply found by polling", timeout=30)
            _wait_until(lambda: _cycles(db_file) > cycles, proc, "the polling cycle's row")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "has no IDLE; polling every interval" in err
