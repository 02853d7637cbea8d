"""Log lines a user or operator reads: which job, which level, each line once, no secret
fragment. Each test pins a mutant that survived the older tests (docs/testing.md)."""

from __future__ import annotations

import logging
import re
import socket
import sys

import pytest

from salescli.core.log import setup_logging
from tests.support.syslog import syslog_listener


@pytest.fixture
def log_file(tmp_path, monkeypatch):
    path = tmp_path / "salescli.log"
    monkeypatch.setenv("SALESCLI_LOG_FILE", str(path))
    yield path
    setup_logging()


def test_a_secret_containing_another_is_redacted_whole(log_file, monkeypatch, capsys):
    monkeypatch.setenv("SALESCLI_IMAP_PASSWORD", "hunter22")
    monkeypatch.setenv("SALESCLI_SMTP_PASSWORD", "hunter22-and-more")
    setup_logging(job="scan")
    logging.getLogger("salescli.jobs").info("login with hunter22-and-more failed")
    for text in (log_file.read_text(), capsys.readouterr().err):
        assert "login with [redacted] failed" in text
        assert "hunter22" not in text and "and-more" not in text


def test_the_cron_job_name_wins_over_the_command_name(log_file, monkeypatch):
    monkeypatch.setenv("SALESCLI_JOB", "nightly-scan")
    setup_logging(job="scan")
    logging.getLogger("salescli.jobs").info("scan ok")
    assert log_file.read_text().rstrip().endswith("INFO [nightly-scan] scan ok")


def test_verbose_writes_debug_lines(log_file):
    setup_logging(job="scan")
    logging.getLogger("salescli.jobs").debug("hidden detail")
    setup_logging(verbose=1, job="scan")
    logging.getLogger("salescli.jobs").debug("shown detail")
    text = log_file.read_text()
    assert "hidden detail" not in text
    assert text.rstrip().endswith("DEBUG [scan] shown detail")


def test_library_lines_are_written_once_however_often_logging_is_set_up(log_file):
    setup_logging(verbose=2, job="scan")
    setup_logging(verbose=2, job="scan")
    logging.getLogger("imapclient.imaplib").debug("> NOOP")
    assert log_file.read_text().count("> NOOP") == 1


def test_syslog_to_a_port_without_a_host_goes_to_localhost(monkeypatch):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(10)
    try:
        monkeypatch.setenv("SALESCLI_LOG_SYSLOG", f":{server.getsockname()[1]}")
        setup_logging(quiet=True, job="notify")
        logging.getLogger("salescli.jobs").warning("notify slow")
        got = server.recv(4096).decode()
    finally:
        server.close()
        setup_logging()
    assert got.endswith("WARNING [notify] notify slow\x00")


def test_a_bad_format_string_still_logs_the_text(log_file):
    setup_logging(job="scan")
    logging.getLogger("salescli.jobs").info("%d messages", "many")
    assert log_file.read_text().rstrip().endswith("INFO [scan] %d messages")


def test_stderr_off_a_terminal_gets_stamped_lines(log_file, capsys):
    setup_logging(job="rollup")
    logging.getLogger("salescli.jobs").info("rollup ok")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("Z INFO [rollup] rollup ok") and line[:4].isdigit()


@pytest.mark.parametrize("off", ["0", "false", "No", "OFF"])
def test_syslog_switched_off_sends_nothing(monkeypatch, capsys, off):
    """Any of 0/false/no/off (any case) means no syslog: not the default UDP port 514, and
    not a host named like that (which would warn that it cannot be used)."""
    # 127.0.0.1:514 is where an unrecognised value would send (localhost)
    with syslog_listener() as server:
        server.settimeout(10)
        try:
            monkeypatch.setenv("SALESCLI_LOG_SYSLOG", off)
            setup_logging(quiet=True, job="notify")
            logging.getLogger("salescli.jobs").warning("not for syslog")
            server.sendto(b"sentinel", server.getsockname())  # after anything logging sent
            assert server.recv(4096) == b"sentinel"
            (line,) = capsys.readouterr().err.splitlines()  # no "cannot be used" warning
            assert line.endswith(" WARNING [notify] not for syslog")
            monkeypatch.setenv("SALESCLI_LOG_SYSLOG", "127.0.0.1:514")  # the receiver works
            setup_logging(quiet=True, job="notify")
            logging.getLogger("salescli.jobs").warning("for syslog")
            assert server.recv(4096).decode().endswith("WARNING [notify] for syslog\x00")
        finally:
            setup_logging()


def test_a_stack_in_the_log_is_kept_with_its_secrets_redacted(log_file, monkeypatch):
    monkeypatch.setenv("SALESCLI_IMAP_PASSWORD", "hunter22")
    setup_logging(job="scan")
    # a frame whose file name holds the secret, as a path built from it would
    code = compile("log.warning('where', stack_info=True)", "/srv/hunter22/scan.py", "exec")
    exec(code, {"log": logging.getLogger("salescli.jobs")})
    text = log_file.read_text()
    assert "WARNING [scan] where\nStack (most recent call last):" in text
    assert 'File "/srv/[redacted]/scan.py", line 1, in <module>' in text
    assert "hunter22" not in text


def test_an_unusable_log_file_is_one_warning_line_on_stderr(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "salescli.log"
    monkeypatch.setenv("SALESCLI_LOG_FILE", str(path))
    try:
        setup_logging(job="scan")
    finally:
        monkeypatch.delenv("SALESCLI_LOG_FILE")
        setup_logging()
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(
        f"WARNING [scan] SALESCLI_LOG_FILE {str(path)!r} cannot be opened: Not a directory")


def test_only_secret_variables_are_redacted_not_every_long_value(log_file, monkeypatch):
    monkeypatch.setenv("SALESCLI_USER", "maria")          # not a secret name: stays
    monkeypatch.setenv("SALESCLI_SMTP_PASSWORD", "abc")  # too short to be a real secret
    setup_logging(job="scan")
    logging.getLogger("salescli.jobs").info("scan by maria: abc messages")
    assert log_file.read_text().rstrip().endswith("INFO [scan] scan by maria: abc messages")


def _syslog_line(monkeypatch, server: socket.socket, setting: str) -> str:
    server.settimeout(10)
    try:
        monkeypatch.setenv("SALESCLI_LOG_SYSLOG", setting)
        setup_logging(quiet=True, job="notify")
        logging.getLogger("salescli.jobs").warning("notify slow")
        return server.recv(4096).decode()
    finally:
        server.close()
        setup_logging()


# 127.0.0.2 is loopback too, but not where "localhost" goes: the line must reach that host
@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_syslog_to_a_host_without_a_port_goes_to_port_514_there(monkeypatch, host):
    with syslog_listener(host) as server:
        line = _syslog_line(monkeypatch, server, host)
    assert line.endswith("WARNING [notify] notify slow\x00")


def test_syslog_to_a_host_and_an_empty_port_goes_to_port_514_there(monkeypatch):
    with syslog_listener("127.0.0.2") as server:
        line = _syslog_line(monkeypatch, server, "127.0.0.2:")
    assert line.endswith("WARNING [notify] notify slow\x00")


def test_syslog_to_an_ipv6_host_and_port(monkeypatch):
    # the port is after the last colon: ::1:PORT is the IPv6 loopback at PORT
    try:
        server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        server.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    port = server.getsockname()[1]
    assert _syslog_line(monkeypatch, server, f"::1:{port}").endswith(
        "WARNING [notify] notify slow\x00")


def test_secrets_of_four_characters_are_redacted_shorter_ones_are_not(log_file, monkeypatch):
    from salescli.core import log

    monkeypatch.setattr(log, "_registered", set())
    monkeypatch.setenv("SALESCLI_IMAP_PASSWORD", "pw12")
    log.add_secret("tk34")
    log.add_secret("ab5")
    setup_logging(job="scan")
    logging.getLogger("salescli.jobs").info("pw12 tk34 ab5")
    assert log_file.read_text().rstrip().endswith("INFO [scan] [redacted] [redacted] ab5")


def test_each_line_is_redacted_once_even_when_a_secret_is_part_of_the_placeholder(
        log_file, monkeypatch, capsys):
    # redacting the file's copy again would turn "[redacted]" into "[[redacted]]"
    monkeypatch.setenv("SALESCLI_SMTP_PASSWORD", "redacted")
    setup_logging(job="notify")
    logging.getLogger("salescli.jobs").info("login with redacted failed")
    for text in (log_file.read_text(), capsys.readouterr().err):
        assert "login with [redacted] failed" in text


def test_a_stderr_that_cannot_tell_if_it_is_a_terminal_gets_stamped_lines(monkeypatch):
    # an embedding program's stream with no isatty(): not a terminal, so cron's line format
    class Sink:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    sink = Sink()
    monkeypatch.setattr(sys, "stderr", sink)
    try:
        setup_logging(job="scan")
        logging.getLogger("salescli.jobs").info("scan ok")
    finally:
        monkeypatch.undo()
        setup_logging()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO \[scan\] scan ok\n", sink.text)
