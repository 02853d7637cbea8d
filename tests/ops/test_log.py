"""One logging configuration: formats, file rotation, syslog, and secrets never written."""

from __future__ import annotations

import logging
import os
import socket

import pytest

from salescli.core import db
from salescli.core.log import add_secret, setup_logging
from tests.ops.helpers import job, salescli_env
from tests.support.cli import run_on_terminal

SECRET = "s3cr3t-Pa55word-xyz"


@pytest.fixture
def restore_logging():
    yield
    setup_logging()


def test_secrets_in_a_failing_jobs_message_are_redacted(db_file, tmp_path):
    db.open_write(db_file).close()
    blocker = tmp_path / f"dir-{SECRET}"
    blocker.write_text("")
    env = salescli_env(SALESCLI_IMAP_PASSWORD=SECRET,
                       SALESCLI_LOG_FILE=str(tmp_path / "salescli.log"),
                       SALESCLI_BACKUP_DIR=str(blocker / "backups"))
    r = job("backup", env=env)
    assert r.returncode == 1
    log_text = (tmp_path / "salescli.log").read_text()
    for text in (r.stderr, log_text):
        assert "cannot create the backup directory" in text
        assert SECRET not in text and "[redacted]" in text
    # The job history keeps the error for the operator, but never in the logs.
    conn = db.open_read(db_file)
    assert SECRET in conn.execute("SELECT error FROM job_runs").fetchone()[0]
    conn.close()


def test_every_part_of_a_record_is_redacted(tmp_path, monkeypatch, restore_logging, capsys):
    monkeypatch.setenv("SALESCLI_SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("ACME_API_TOKEN", "tok-1234567890")
    monkeypatch.setenv("SALESCLI_LOG_FILE", str(tmp_path / "x.log"))
    monkeypatch.setenv("SALESCLI_USER", "abc")  # not a secret: stays readable
    setup_logging(verbose=2, job="scan")
    log = logging.getLogger("salescli.test")
    add_secret("ya29.oauth-access-token-from-the-token-command")
    log.info("login as %s with %s", "abc", SECRET)
    log.warning("token tok-1234567890 and ya29.oauth-access-token-from-the-token-command")
    try:
        raise RuntimeError(f"server said: bad password {SECRET}")
    except RuntimeError:
        log.exception("scan failed")
    # Libraries log through the same handlers with -vv, redacted too.
    logging.getLogger("imapclient.imaplib").debug("> LOGIN abc %s", SECRET)
    text = (tmp_path / "x.log").read_text()
    err = capsys.readouterr().err
    for out in (text, err):
        assert SECRET not in out and "tok-1234567890" not in out
        assert "ya29.oauth" not in out
        assert "login as abc with [redacted]" in out
        assert "RuntimeError: server said: bad password [redacted]" in out
    assert "> LOGIN abc [redacted]" in text
    assert os.stat(tmp_path / "x.log").st_mode & 0o777 == 0o600


def test_quiet_keeps_stderr_for_failures_but_the_file_gets_everything(
        tmp_path, monkeypatch, restore_logging, capsys):
    monkeypatch.setenv("SALESCLI_LOG_FILE", str(tmp_path / "x.log"))
    setup_logging(quiet=True, job="rollup")
    log = logging.getLogger("salescli.jobs")
    log.info("rollup ok in 0.2s days=1")
    log.error("rollup failed: database is locked")
    err = capsys.readouterr().err
    assert "rollup ok" not in err and "rollup failed: database is locked" in err
    lines = (tmp_path / "x.log").read_text().splitlines()
    assert lines[0].endswith("INFO [rollup] rollup ok in 0.2s days=1")
    assert lines[1].endswith("ERROR [rollup] rollup failed: database is locked")


def write_40_lines(tmp_path, monkeypatch, **settings: str) -> list[str]:
    """Log 40 job lines to ``tmp_path/x.log`` with these SALESCLI_LOG_* settings; the
    names of the files in ``tmp_path`` afterwards, sorted."""
    monkeypatch.setenv("SALESCLI_LOG_FILE", str(tmp_path / "x.log"))
    for name, value in settings.items():
        monkeypatch.setenv(f"SALESCLI_LOG_{name}", value)
    setup_logging(job="scan")
    for i in range(40):
        logging.getLogger("salescli.jobs").info("scan ok in 0.1s messages=%d", i)
    return sorted(p.name for p in tmp_path.iterdir())


def test_log_file_rotates(tmp_path, monkeypatch, restore_logging):
    names = write_40_lines(tmp_path, monkeypatch, MAX_BYTES="500", BACKUPS="2")
    assert names == ["x.log", "x.log.1", "x.log.2"]
    assert "messages=39" in (tmp_path / "x.log").read_text()


def test_log_file_keeps_five_rotated_files_by_default(tmp_path, monkeypatch, restore_logging):
    names = write_40_lines(tmp_path, monkeypatch, MAX_BYTES="100")
    assert names == ["x.log"] + [f"x.log.{n}" for n in range(1, 6)]


def test_log_max_bytes_zero_never_rotates(tmp_path, monkeypatch, restore_logging):
    assert write_40_lines(tmp_path, monkeypatch, MAX_BYTES="0") == ["x.log"]
    assert len((tmp_path / "x.log").read_text().splitlines()) == 40


def test_syslog(tmp_path, monkeypatch, restore_logging):
    path = str(tmp_path / "log.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(10)
    try:
        monkeypatch.setenv("SALESCLI_LOG_SYSLOG", path)
        monkeypatch.setenv("SALESCLI_WEBHOOK_URL", "https://hooks.example/T0/B0/abcdef")
        setup_logging(quiet=True, job="notify")
        logging.getLogger("salescli.jobs").info(
            "notify ok; posted to https://hooks.example/T0/B0/abcdef")
        got = server.recv(4096).decode()
    finally:
        server.close()
    assert got.startswith("<14>salescli[")  # facility user, level info
    assert got.endswith("INFO [notify] notify ok; posted to [redacted]\x00")


def test_terminal_output_is_plain(db_file, tmp_path):
    """On a terminal: human lines, no timestamps; under cron the same event is one stamped line."""
    db.open_write(db_file).close()
    code, out, terminal = run_on_terminal(["db", "backup", str(tmp_path / "bk")],
                                          salescli_env())
    assert code == 0 and out.startswith(str(tmp_path / "bk"))
    assert "sales.db  [####" in terminal  # a progress bar on a terminal
    lines = [x.strip("\r\x1b[?25h") for x in terminal.splitlines()]
    assert any(x.startswith("backup ok in") for x in lines), lines


def test_an_unusable_log_file_is_reported_and_the_job_still_runs(db_file, tmp_path):
    db.open_write(db_file).close()
    (tmp_path / "file").write_text("")
    env = salescli_env(SALESCLI_LOG_FILE=str(tmp_path / "file" / "salescli.log"),
                       SALESCLI_BACKUP_DIR=str(tmp_path / "bk"))
    r = job("backup", env=env)
    assert r.returncode == 0 and len(list((tmp_path / "bk").iterdir())) == 1
    assert "SALESCLI_LOG_FILE" in r.stderr and "cannot be opened" in r.stderr


def test_a_failing_job_logs_its_error_once(db_file, tmp_path):
    """The cron entry reports the command's own ERROR line, not a second copy of it."""
    db.open_write(db_file).close()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env = salescli_env(SALESCLI_LOG_FILE=str(tmp_path / "salescli.log"),
                       SALESCLI_BACKUP_DIR=str(blocker / "backups"))
    r = job("backup", env=env)
    assert r.returncode == 1
    errors = [line for line in (tmp_path / "salescli.log").read_text().splitlines()
              if " ERROR " in line]
    assert len(errors) == 1, errors
    assert "backup failed after " in errors[0]
    assert "cannot create the backup directory" in errors[0]
