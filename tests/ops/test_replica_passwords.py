"""What replica errors show: a URL's password (``sftp://user:password@host/path``) never,
whichever command meets it (error lines, health, log lines); Litestream's reason, once."""

from __future__ import annotations

import socket

import pytest

from salescli.core import log
from salescli.ops import replication
from tests.support.cli import fails

PASSWORD = "s3cret-Pass"


@pytest.fixture(autouse=True)
def no_secrets_yet(monkeypatch):
    monkeypatch.setattr(log, "_registered", set())  # what other tests registered is theirs


@pytest.fixture
def refused_url():
    """An sftp URL with a password, at a loopback port nobody listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"sftp://backup:{PASSWORD}@127.0.0.1:{port}/replica", port


def test_a_failed_restore_names_the_replica_without_its_password(tmp_path, invoke,
                                                                 refused_url):
    url, port = refused_url
    line = fails(invoke("db", "restore", "--from-replica", url, "--output", tmp_path / "out"))
    assert line.startswith(f"Error: restoring sales.db from sftp://backup:[redacted]@127.0.0.1:"
                           f"{port}/replica failed: ")
    assert "connection refused" in line and PASSWORD not in line


def test_a_refused_url_is_named_without_its_password(invoke):
    line = fails(invoke("db", "replicate", "--to", f"sftp://backup:{PASSWORD}@host/it's"))
    assert line == ("Error: --to \"sftp://backup:[redacted]@host/it's\" must not contain "
                    "quotes or control characters")


def test_health_names_an_unreachable_replica_without_its_password(invoke, db_file, monkeypatch,
                                                                  refused_url):
    url, port = refused_url
    invoke("init")
    monkeypatch.setenv("SALESCLI_REPLICA_URL", url)
    result = invoke("health")
    assert result.exit_code != 0
    assert (f"cannot read the replica of sales.db at sftp://backup:[redacted]@127.0.0.1:{port}"
            "/replica: ") in result.output
    assert PASSWORD not in result.output


@pytest.mark.parametrize("url, want", [
    ("sftp://backup:pw@host/r", "sftp://backup:[redacted]@host/r"),   # short: still hidden
    ("sftp://backup@host/r", "sftp://backup@host/r"),                 # no password
    ("s3://bucket/path", "s3://bucket/path"),
    ("sftp://u:p%40ss@host:badport/r", "sftp://u:[redacted]@host:badport/r"),
    ("sftp://u:@host/r", "sftp://u:@host/r"),                         # an empty one
    ("sftp://u:pw@host/r?key=a@b", "sftp://u:[redacted]@host/r?key=a@b"),
])
def test_shown_hides_exactly_the_password(url, want):
    assert replication.shown(url) == want


def test_a_password_once_shown_is_redacted_from_log_lines_too():
    replication.shown(f"sftp://backup:{PASSWORD}@host/replica")
    assert log.redact(f"ssh: handshake failed for {PASSWORD}") == \
        "ssh: handshake failed for [redacted]"


def test_an_empty_replica_is_one_error_line_in_litestream_s_words(tmp_path, invoke):
    (tmp_path / "replica").mkdir()
    line = fails(invoke("db", "restore", "--from-replica", tmp_path / "replica", "--output",
                        tmp_path / "out"))
    assert line == (f"Error: restoring sales.db from file://{tmp_path / 'replica'} failed: "
                    "no matching backup files available")  # Litestream's own "Error: " dropped
    assert not (tmp_path / "out" / "sales.db").exists()
