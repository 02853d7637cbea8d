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
