"""Settings that are the right kind but out of range, found by setting every variable to odd
values: a syslog port past 65535 is a warning and the command runs (as any unusable syslog
is), a lock directory that is a file is one ``Error:`` line naming it, and a cell limit past
what Python's csv module takes means no limit — each ended in a traceback, as did a path
the system refuses (a 300-byte file name): now one line naming it, as cp(1) would."""

from __future__ import annotations

from salescli.core.log import setup_logging
from tests.support.cli import fails, ok, query
from tests.support.syslog import syslog_listener

HUGE = "99999999999999999999"


def test_a_syslog_port_out_of_range_is_a_warning_and_the_command_runs(invoke, conn,
                                                                      monkeypatch):
    for port in (HUGE, "65536", "0"):
        monkeypatch.setenv("SALESCLI_LOG_SYSLOG", f"127.0.0.1:{port}")
        result = invoke("prospects", "list")
        assert result.exit_code == 0, result.output
        assert (f"SALESCLI_LOG_SYSLOG '127.0.0.1:{port}' cannot be used: port {port} is not"
                " 1-65535") in result.stderr


def test_a_syslog_port_that_is_no_number_is_a_warning_not_port_514(invoke, conn, monkeypatch):
    """A typo in the port (``:51x``) is said, as a port past 65535 is; it used to send the
    log to port 514 without a word."""
    with syslog_listener() as server:  # 127.0.0.1:514, where the typo went
        _typo_is_said_and_not_sent(invoke, server, monkeypatch)


def _typo_is_said_and_not_sent(invoke, server, monkeypatch) -> None:
    """The warning names the setting; nothing reaches ``server``."""
    try:
        monkeypatch.setenv("SALESCLI_LOG_SYSLOG", "127.0.0.1:51x")
        result = invoke("prospects", "add", "a@b.example")
        assert result.exit_code == 0, result.output
        assert ("SALESCLI_LOG_SYSLOG '127.0.0.1:51x' cannot be used: port '51x' is not a"
                " number") in result.stderr
        server.sendto(b"sentinel", server.getsockname())  # after anything logging sent
        server.settimeout(10)
        assert server.recv(4096) == b"sentinel"
    finally:
        monkeypatch.delenv("SALESCLI_LOG_SYSLOG")
        setup_logging()


def test_a_lock_directory_that_is_a_file_is_named(invoke, conn, tmp_path, monkeypatch):
    blocker = tmp_path / "locks-file"
    blocker.write_text("")
    monkeypatch.setenv("SALESCLI_LOCK_DIR", str(blocker))
    assert fails(invoke("notify")) == (
        f"Error: SALESCLI_LOCK_DIR '{blocker}' cannot hold the notify lock (Not a directory)")


def test_a_cell_limit_beyond_the_csv_module_is_no_limit(invoke, conn, tmp_path, monkeypatch,
                                                        db_file):
    monkeypatch.setenv("SALESCLI_IMPORT_MAX_FIELD", HUGE)
    source = tmp_path / "people.csv"
    source.write_text("email,notes\na@b.example," + "n" * 200_000 + "\n")
    ok(invoke("prospects", "import", source))
    assert query(db_file, "SELECT length(notes) AS n FROM prospects") == [{"n": 200_000}]


def test_a_path_the_system_refuses_is_one_error_line(invoke, conn, tmp_path):
    target = tmp_path / ("y" * 300)  # longer than a file name may be (255 bytes)
    assert fails(invoke("prospects", "export", "--output", target)) == (
        f"Error: {str(target)!r}: File name too long")
    assert list(tmp_path.glob("y*")) == []


def test_the_lowest_syslog_port_and_cell_limit_are_taken(invoke, conn, tmp_path, monkeypatch):
    monkeypatch.setenv("SALESCLI_LOG_SYSLOG", "127.0.0.1:1")  # UDP: nothing need listen
    result = invoke("prospects", "list")
    assert result.exit_code == 0 and "SALESCLI_LOG_SYSLOG" not in result.stderr
    monkeypatch.setenv("SALESCLI_IMPORT_MAX_FIELD", "1")
    source = tmp_path / "people.csv"
    source.write_text("email\na@b.example\n")
    assert "is longer than 1 characters (SALESCLI_IMPORT_MAX_FIELD)" in fails(
        invoke("prospects", "import", source))
