"""``scan --watch`` keeps one IDLE open for ``SALESCLI_WATCH_REIDLE`` seconds before it
renews it (not in a busy loop); an IDLE the server drops (BYE, a restart) is noticed at
once, logged with its reason, and reconnected, so mail that arrives after a restart is
recorded within seconds. Waits are on database conditions and failpoint files."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from salescli.mail import sample
from tests.mail.helpers import ME, ago, cli_env, new_mailbox, start_cli
from tests.mail.test_faults import _lines_of
from tests.mail.test_watch import PEOPLE, _make_db, _outbound, _stage, _stop, _wait_until


@contextmanager
def watching(server, db_file, retries: str, timeout: str = "10") -> Iterator[tuple]:
    """A watcher (interval 900 s: only IDLE sees new mail) past its first cycle and with
    its IDLE up, with the mailbox and the lines of its log; stopped with SIGTERM at the
    end. Waiting for the IDLE matters: a server stopped while the IDLE's connection still
    logs in refuses the LOGIN, and the warning then names that, not a dropped IDLE."""
    box = new_mailbox(server)
    _make_db(db_file)
    _outbound(box, PEOPLE[:1], ago(days=1))
    idling = db_file.parent / "idling"
    env = cli_env(**box.env(SALESCLI_IMAP_RETRIES=retries, SALESCLI_IMAP_TIMEOUT=timeout),
                  SALESCLI_DB=str(db_file),
                  SALESCLI_FAILPOINT=f"watch.idling.INBOX:1:touch={idling}")
    proc = start_cli("scan", "--watch", "--interval", "900", env=env)
    lines = _lines_of(proc.stderr)
    try:
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "contacted", proc,
                    "the first cycle")
        _wait_until(idling.exists, proc, "the IDLE")
        yield box, proc, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def test_an_idle_is_renewed_only_after_the_reidle_time(own_dovecot, tmp_path, db_file):
    box = new_mailbox(own_dovecot)
    _make_db(db_file)
    _outbound(box, PEOPLE[:1], ago(days=1))
    renewed = tmp_path / "renewed"
    env = cli_env(**box.env(), SALESCLI_DB=str(db_file), SALESCLI_WATCH_REIDLE="600",
                  SALESCLI_FAILPOINT=f"watch.reidle.INBOX:1:touch={renewed}")
    proc = start_cli("scan", "--watch", "--interval", "900", env=env)
    try:
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "contacted", proc,
                    "the first cycle")
        box.append("INBOX", sample.reply(PEOPLE[0], ME, ago(hours=1), "Hello", None)[0])
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "replied", proc,
                    "the reply via IDLE", timeout=60)
        assert not renewed.exists()     # the IDLE that saw the reply is the first one
    finally:
        if proc.poll() is None:
            _stop(proc)


def test_a_dropped_idle_is_logged_with_its_reason(own_dovecot, tmp_path, db_file):
    with watching(own_dovecot, db_file, retries="0") as (_, proc, lines):
        own_dovecot.stop()
        # Dovecot says BYE and closes the IDLE connection: the watcher must notice at once
        # (not at the next re-IDLE, 28 minutes later) and reconnect.
        _wait_until(lambda: [ln for ln in lines if "watching INBOX failed" in ln], proc,
                    "the warning of the dropped IDLE", timeout=30)
    warning = next(ln for ln in lines if "watching INBOX failed" in ln)
    reason = warning.split("watching INBOX failed (", 1)[1].rsplit("); reconnecting", 1)[0]
    assert reason == "server said BYE: Server shutting down.", warning


def test_after_a_dovecot_restart_new_mail_is_recorded_via_the_new_idle(own_dovecot,
                                                                      tmp_path, db_file):
    with watching(own_dovecot, db_file, retries="2") as (box, proc, lines):
        own_dovecot.restart()
        _wait_until(lambda: [ln for ln in lines if "watching INBOX failed" in ln], proc,
                    "the dropped IDLE", timeout=30)
        # The reply arrives after every cycle the restart caused: only a new IDLE sees it.
        box.append("INBOX", sample.reply(PEOPLE[0], ME, ago(hours=1), "Hello", None)[0])
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "replied", proc,
                    "the reply after the restart", timeout=60)


def test_a_server_killed_without_bye_is_noticed_and_logged(own_dovecot, tmp_path, db_file):
    """Dovecot killed with SIGKILL says no BYE: the IDLE's connection just closes. The
    watcher notices at once (not at the next re-IDLE) and says so in its warning."""
    with watching(own_dovecot, db_file, retries="0") as (box, proc, lines):
        # A reply recorded within the 900 s interval proves the IDLE is up.
        box.append("INBOX", sample.reply(PEOPLE[0], ME, ago(hours=1), "Hello", None)[0])
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "replied", proc,
                    "the reply via IDLE", timeout=60)
        os.killpg(own_dovecot._proc.pid, signal.SIGKILL)  # the master and its imap processes
        _wait_until(lambda: [ln for ln in lines if "watching INBOX failed" in ln], proc,
                    "the warning of the closed connection", timeout=30)
    warning = next(ln for ln in lines if "watching INBOX failed" in ln)
    assert "watching INBOX failed (the server closed the connection); reconnecting" in warning, \
        warning
    # The first retry after a working IDLE waits a jittered half to whole second, as it says.
    pause = float(re.search(r"reconnecting in (\d+\.\d+)s", warning)[1])
    assert 0.5 <= pause <= 1.0, warning


def test_sigterm_ends_the_watcher_while_the_server_hangs(own_dovecot, tmp_path, db_file):
    """The server stops answering (SIGSTOP) while INBOX is held in IDLE: SIGTERM still ends
    the watcher in seconds, not after the IMAP timeout (120 s here) of the IDLE's DONE."""
    with watching(own_dovecot, db_file, retries="0", timeout="120") as (box, proc, lines):
        box.append("INBOX", sample.reply(PEOPLE[0], ME, ago(hours=1), "Hello", None)[0])
        _wait_until(lambda: _stage(db_file, PEOPLE[0]["email"]) == "replied", proc,
                    "the reply via IDLE", timeout=60)
        os.killpg(own_dovecot._proc.pid, signal.SIGSTOP)  # the master and its imap processes
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            os.killpg(own_dovecot._proc.pid, signal.SIGCONT)
    assert proc.returncode == 0
