"""Faults for real: SIGKILL at several points, Dovecot restarted mid-scan, a CLI writer
racing the scan, the job lock, a bad account among good ones, an unreachable server."""

from __future__ import annotations

import shutil
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from salescli.core import db
from salescli.mail import sample
from salescli.ops.runner import job_lock
from salescli.pipeline import prospects
from tests.mail.helpers import (
    CREATED,
    ME,
    ago,
    cli_env,
    last_run,
    new_mailbox,
    run_cli,
    snapshot,
    start_cli,
    state,
)
from tests.support.cli import ok
from tests.support.dovecot import free_port

PEOPLE = [("Ada Lovelace", "ada@example.com"), ("Bob Babbage", "bob@example.org"),
          ("Cy Young", "cy@example.net"), ("Dee Dee", "dee@example.com"),
          ("Eve Ng", "eve@example.org"), ("Fay Wray", "fay@example.net")]


def _make_db(path: Path) -> Path:
    c = db.open_write(path)
    for name, email in PEOPLE:
        prospects.add(c, "tester", email, name=name, at=CREATED)
    c.close()
    return path


def _fill(box) -> int:
    """A mixed mailbox: outbound to all, replies, an auto-reply, a hard and a soft bounce,
    a newsletter, a stranger, a malformed message. Returns the number of messages."""
    t = ago(days=6)
    sent, inbox = [], []
    for i, (name, email) in enumerate(PEOPLE):
        person = {"email": email, "name": name}
        when = t + timedelta(hours=i)
        raw, mid = sample.outbound(ME, person, when, f"Offer {i}")
        sent.append((raw, when))
        if i in (0, 1, 4):
            later = when + timedelta(days=1, hours=i)
            raw, _ = sample.reply(person, ME, later, f"Offer {i}", mid)
            inbox.append((raw, later))
        if i == 1:
            raw, _ = sample.auto_reply(person, ME, when + timedelta(minutes=2), f"Offer {i}")
            inbox.append((raw, when + timedelta(minutes=2)))
        if i in (2, 3):
            raw, _ = sample.dsn_bounce(email, ME, when + timedelta(minutes=3), hard=i == 2)
            inbox.append((raw, when + timedelta(minutes=3)))
        if i not in (2, 3):  # cy and dee: all their mail is in the first batches
            raw, _ = sample.outbound(ME, person, when + timedelta(days=3), f"Follow-up {i}")
            sent.append((raw, when + timedelta(days=3)))
    raw, _ = sample.newsletter(ME, t + timedelta(days=2))
    inbox.append((raw, t + timedelta(days=2)))
    raw, _ = sample.reply({"email": "stranger@else.example"}, ME, t, "?", None)
    inbox.append((raw, t))
    inbox.append((f"To: {ME}\nSubject: no sender\n\n.\n".encode(), t + timedelta(hours=5)))
    box.append_many("Sent", sent)
    box.append_many("INBOX", inbox)
    return len(sent) + len(inbox)


KILL_POINTS = ["scan.fetch:2", "scan.collected", "scan.batch.before_commit:1",
               "scan.batch.before_commit:3", "scan.batch.committed:2", "scan.before_deliver"]


def test_sigkill_at_any_point_then_rerun_gives_the_rows_of_an_uninterrupted_scan(
        dovecot, monkeypatch, tmp_path):
    box = new_mailbox(dovecot, monkeypatch)
    total = _fill(box)
    env = cli_env(SALESCLI_SCAN_BATCH="4", SALESCLI_IMAP_FETCH_BATCH="5")
    reference = _make_db(tmp_path / "reference.db")
    done = run_cli("scan", env={**env, "SALESCLI_DB": str(reference)})
    assert done.returncode == 0, done.stderr
    expected = snapshot(reference)
    assert len(expected["messages"]) == total
    assert ("ada@example.com", "replied") in {r[:2] for r in expected["prospects"]}

    template = _make_db(tmp_path / "template.db")
    for point in KILL_POINTS:
        target = tmp_path / f"killed-{point.replace(':', '-')}.db"
        shutil.copy(template, target)
        run_env = {**env, "SALESCLI_DB": str(target),
                   "SALESCLI_LOCK_DIR": str(tmp_path / "locks" / point)}
        killed = run_cli("scan", env={**run_env, "SALESCLI_FAILPOINT": point})
        assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr)
        again = run_cli("scan", env=run_env)
        assert again.returncode == 0, (point, again.stderr)
        assert snapshot(target) == {**expected, "checkpoints": snapshot(target)["checkpoints"]}\
            , point
        assert snapshot(target)["checkpoints"] == expected["checkpoints"], point


def test_dovecot_restarted_mid_scan_the_run_retries_and_completes(own_dovecot, monkeypatch,
                                                                   tmp_path, db_file):
    box = new_mailbox(own_dovecot, monkeypatch)
    total = _fill(box)
    _make_db(db_file)
    flag = tmp_path / "paused"
    scan = start_cli("scan", env=cli_env(SALESCLI_IMAP_FETCH_BATCH="4",
                                         SALESCLI_IMAP_RETRIES="12",
                                         SALESCLI_IMAP_BACKOFF="0.1",
                                         SALESCLI_FAILPOINT=f"scan.fetch:2:pause={flag}"))
    try:
        _wait_for(flag, scan)
        own_dovecot.stop()
        lines = _lines_of(scan.stderr)
        flag.unlink()  # the scan goes on and finds the server gone
        _wait_until(lambda: any("retry" in line for line in lines), scan)
        own_dovecot.start()
        scan.wait(timeout=90)
        err = "".join(lines)
    finally:
        if scan.poll() is None:
            scan.kill()
    assert scan.returncode == 0, err
    assert "retry" in err
    c = db.connect(db_file)
    assert c.execute("SELECT count(*) FROM mail_messages").fetchone()[0] == total
    assert last_run(c)["status"] == "ok"
    c.close()


def test_cli_writes_while_the_scan_holds_a_transaction_are_neither_lost_nor_refused(
        mailbox, tmp_path, db_file):
    _fill(mailbox)
    _make_db(db_file)
    flag = tmp_path / "paused"
    scan = start_cli("scan", env=cli_env(SALESCLI_SCAN_BATCH="5",
                                         SALESCLI_FAILPOINT=f"scan.batch.before_commit:2:"
                                                            f"pause={flag}"))
    writers = []
    try:
        _wait_for(flag, scan)  # the scan is inside BEGIN IMMEDIATE, holding the write lock
        commands = [("prospects", "move", "eve@example.org", "meeting"),
                    ("prospects", "move", "bob@example.org", "proposal"),
                    ("prospects", "update", "ada@example.com", "--company", "NewCo"),
                    ("log", "fay@example.net", "--kind", "call", "--body", "rang")]
        # Each writer says when it is about to BEGIN IMMEDIATE, i.e. to queue on the lock
        # the paused scan holds; the scan goes on only once all of them are there.
        waiting = [tmp_path / f"writer-{i}" for i in range(len(commands))]
        writers = [start_cli(*args, env=cli_env(SALESCLI_FAILPOINT=f"db.begin:1:touch={w}"))
                   for args, w in zip(commands, waiting, strict=True)]
        for w, proc in zip(waiting, writers, strict=True):
            _wait_for(w, proc)
        flag.unlink()
        results = [w.communicate(timeout=60) for w in writers]
        scan_out, scan_err = scan.communicate(timeout=60)
    finally:
        for p in [scan, *writers]:
            if p.poll() is None:
                p.kill()
    for w, (_out, err) in zip(writers, results, strict=True):
        assert w.returncode == 0, err
        assert "locked" not in err
    assert scan.returncode == 0, scan_err
    c = db.open_write(db_file)
    try:
        assert state(c, "eve@example.org")["stage"] == "meeting"  # not moved back to replied
        assert state(c, "bob@example.org")["stage"] == "proposal"
        assert prospects.find_by_email(c, "ada@example.com")["company"] == "NewCo"
        assert state(c, "ada@example.com")["stage"] == "replied"
        calls = c.execute("SELECT count(*) FROM interactions WHERE kind = 'call'").fetchone()[0]
        assert calls == 1
    finally:
        c.close()


def _lines_of(stream) -> list[str]:
    """The lines of ``stream`` as a background thread reads them (a live list)."""
    lines: list[str] = []

    def read() -> None:
        for line in iter(stream.readline, ""):
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_until(condition, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None and not condition():
            raise AssertionError("the process ended before the condition held")
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.02)


def _wait_for(flag: Path, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not flag.exists():
        if proc.poll() is not None:
            raise AssertionError(f"scan ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("scan never reached the fail point")
        time.sleep(0.02)


def test_a_second_scan_while_one_runs_exits_0_and_does_nothing(mailbox, invoke, db_file,
                                                               conn):
    with job_lock(db_file, "scan"):
        result = invoke("scan")
    assert result.exit_code == 0, result.output
    assert "already running" in result.stderr
    assert conn.execute("SELECT count(*) FROM job_runs").fetchone()[0] == 0


def test_one_bad_account_does_not_stop_the_others(dovecot, monkeypatch, tmp_path, invoke,
                                                  conn, people):
    good = new_mailbox(dovecot)
    bad = new_mailbox(dovecot)
    raw, _ = sample.outbound(ME, people["ada"], ago(days=1), "Hi")
    good.append("Sent", raw, ago(days=1))
    config = tmp_path / "salescli.toml"
    config.write_text(f"""
my_addresses = ["{ME}"]

[[accounts]]
name = "broken"
host = "127.0.0.1"
port = {dovecot.port}
user = "{bad.user}"
ssl = "none"
password_env = "BROKEN_PASSWORD"

[[accounts]]
name = "work"
host = "127.0.0.1"
port = {dovecot.port}
user = "{good.user}"
ssl = "none"
password_env = "WORK_PASSWORD"
""")
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    monkeypatch.setenv("BROKEN_PASSWORD", "wrong")
    monkeypatch.setenv("WORK_PASSWORD", dovecot.password(good.user))
    result = invoke("scan")
    assert result.exit_code == 1
    assert "Error: account 'broken': login as" in result.stderr
    assert state(conn, "ada@example.com")["stage"] == "contacted"
    run = last_run(conn)
    assert run["status"] == "failed" and "broken" in run["error"]
    assert run["counts"]["accounts"]["work"]["outbound"] == 1
    assert "login" in run["counts"]["accounts"]["broken"]["error"]
    # --account picks one.
    ok(invoke("scan", "--account", "work"))


def test_unreachable_server_fails_cleanly_after_retries(monkeypatch, invoke, conn):
    monkeypatch.setenv("SALESCLI_IMAP_HOST", "127.0.0.1")
    monkeypatch.setenv("SALESCLI_IMAP_PORT", str(free_port()))
    monkeypatch.setenv("SALESCLI_IMAP_USER", "nobody")
    monkeypatch.setenv("SALESCLI_IMAP_PASSWORD", "x")
    monkeypatch.setenv("SALESCLI_IMAP_SSL", "none")
    monkeypatch.setenv("SALESCLI_IMAP_RETRIES", "2")
    monkeypatch.setenv("SALESCLI_IMAP_BACKOFF", "0.01")
    result = invoke("scan")
    assert result.exit_code == 1
    assert "connect failed after 3 attempts" in result.stderr
    assert result.stderr.count("retry") == 2
    run = last_run(conn)
    assert run["status"] == "failed" and "Connection refused" in run["error"]


@pytest.mark.parametrize("rate", ["50"])
def test_rate_limit_paces_the_fetches(mailbox, people, conn, rate):
    """With rate_limit = N messages/s, fetches go in chunks of N and wait out each second."""
    from salescli.mail.config import load_accounts
    from salescli.mail.scan import ScanOptions, scan
    from salescli.mail.sources import ImapSource

    t = ago(days=1)
    mailbox.append_many("INBOX", [(sample.reply({"email": f"x{i}@y.example"}, ME, t, "s",
                                                None)[0], t) for i in range(120)])
    waits: list[float] = []
    account = load_accounts()[0]
    account.rate_limit = float(rate)
    counts = scan(conn, [ImapSource(account, sleep=waits.append)],
                  ScanOptions(deliver=False))
    assert counts["seen"] == 120
    assert len(waits) == 3  # three chunks of 50, 50 and 20
    assert sum(waits) > 0.5 * (120 / float(rate))


def test_a_folder_made_anew_while_the_scan_was_cut_off_is_noticed_and_rescanned(
        own_dovecot, monkeypatch, tmp_path, db_file):
    """Paused after its second fetch of Sent, the scan loses its connection (Dovecot
    restarted) while Sent is deleted and made again: a new UIDVALIDITY, its UIDs now name
    other messages. On reconnecting, the scan says so and goes no further in that folder;
    the next run rescans it, each message recorded once."""
    box = new_mailbox(own_dovecot, monkeypatch)
    _fill(box)
    _make_db(db_file)
    client = box.client()
    try:
        client.select_folder("Sent", readonly=True)
        sent = client.fetch(client.search(["ALL"]), [b"RFC822", b"INTERNALDATE"])
    finally:
        client.logout()
    env = cli_env(SALESCLI_IMAP_FOLDERS="Sent", SALESCLI_IMAP_FETCH_BATCH="4",
                  SALESCLI_IMAP_RETRIES="12", SALESCLI_IMAP_BACKOFF="0.1")
    flag = tmp_path / "paused"
    scan = start_cli("scan", env={**env, "SALESCLI_FAILPOINT": f"scan.fetch:2:pause={flag}"})
    try:
        _wait_for(flag, scan)
        client = box.client()
        try:
            client.delete_folder("Sent")
            client.create_folder("Sent")
        finally:
            client.logout()
        box.append_many("Sent", [(d[b"RFC822"], d[b"INTERNALDATE"]) for _uid, d in
                                 sorted(sent.items(), reverse=True)])  # other UIDs now
        own_dovecot.stop()
        own_dovecot.start()
        flag.unlink()
        _out, err = scan.communicate(timeout=90)
    finally:
        if scan.poll() is None:
            scan.kill()
    assert "folder 'Sent' changed UIDVALIDITY during the scan; the next run rescans it" in err
    again = run_cli("scan", env=env)
    assert again.returncode == 0, again.stderr
    c = db.connect(db_file)
    assert c.execute("SELECT count(*) FROM mail_messages WHERE folder = 'Sent'"
                     ).fetchone()[0] == len(sent)
    assert c.execute("SELECT count(*) FROM interactions WHERE kind = 'email_out'"
                     ).fetchone()[0] == len(sent)
    c.close()


def test_a_message_deleted_between_the_search_and_its_fetch_is_skipped(dovecot, tmp_path):
    """``scan --since`` fetches the UIDs its SEARCH found, two at a time; a message another
    client deletes while the scan is between two fetches is simply not there (the fetch of
    a chunk that lost a message takes imapclient's general path): the rest is recorded."""
    box = new_mailbox(dovecot)
    db_file = _make_db(tmp_path / "sales.db")
    when = ago(days=1)
    box.append_many("Sent", [(sample.outbound(ME, {"email": email, "name": name}, when,
                                              "Hello")[0], when) for name, email in PEOPLE[:4]])
    paused = tmp_path / "paused"
    proc = start_cli("scan", "--since", "7d", env=cli_env(
        **box.env(SALESCLI_IMAP_FETCH_BATCH="2"), SALESCLI_DB=str(db_file),
        SALESCLI_FAILPOINT=f"scan.fetch:1:pause={paused}"))
    try:
        deadline = time.monotonic() + 60
        while not paused.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the scan never reached its first fetch"
            time.sleep(0.02)
        client = box.client()
        try:
            client.select_folder("Sent")
            last = max(client.search(["ALL"]))
            client.delete_messages([last])
            client.expunge()
        finally:
            client.logout()
        paused.unlink()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    c = db.open_write(db_file)
    try:
        assert [state(c, email)["stage"] for _name, email in PEOPLE[:4]] == \
            ["contacted"] * 3 + ["lead"]
    finally:
        c.close()
