"""Sizes the operator reads in megabytes: the WAL threshold health reports, the free space and
the room a skipped VACUUM names. Figures of a few MB, so a wrong unit (GiB) shows as 0 MB."""

from __future__ import annotations

import json
import shutil
from collections import namedtuple

from tests.ops.helpers import ago

MB = 1024**2


def test_a_wal_over_its_threshold_is_reported_in_megabytes(invoke, ops_conn, db_file,
                                                           monkeypatch):
    # No automatic checkpoint on this connection: the WAL keeps what it wrote while it is open.
    ops_conn.execute("PRAGMA wal_autocheckpoint = 0")
    ops_conn.execute("BEGIN")
    for _ in range(48):
        ops_conn.execute("INSERT INTO job_runs(job, started_at, finished_at, status, counts)"
                         " VALUES ('import', ?, ?, 'ok', ?)",
                         (ago(), ago(), f"[{'0,' * 30000}0]"))
    ops_conn.execute("COMMIT")
    wal = db_file.with_name("sales.db-wal").stat().st_size
    assert wal > 2 * MB
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_WAL", "2M")
    result = invoke("health", "--format", "json")
    report = json.loads(result.output)
    assert result.exit_code == 1
    assert report["problems"] == [
        f"the WAL file is {report['database']['wal_bytes'] // MB} MB (threshold 2 MB): a "
        "long-lived reader blocks checkpoints"]
    assert report["database"]["wal_bytes"] // MB >= 2


def _grow_past_three_megabytes(ops_conn) -> None:
    """60 failed job runs with long errors, checkpointed: a database file over 3 MB."""
    ops_conn.execute("BEGIN")
    for _ in range(60):
        ops_conn.execute("INSERT INTO job_runs(job, started_at, status, error) VALUES"
                         " ('import', '2024-01-01T00:00:00Z', 'failed', ?)", ("e" * 60000,))
    ops_conn.execute("COMMIT")
    ops_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_a_vacuum_without_room_is_skipped_naming_both_sizes(invoke, ops_conn, db_file,
                                                            monkeypatch):
    _grow_past_three_megabytes(ops_conn)
    size = db_file.stat().st_size
    assert size > 3 * MB
    usage = namedtuple("usage", "total used free")
    # A nearly full disk cannot be made for real in a test: the one mock of this file.
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**12, 10**12, 2 * MB + 1))
    result = invoke("db", "optimize", "--vacuum")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        f"; only 2 MB free, VACUUM needs about {size // MB} MB")
    assert db_file.stat().st_size >= size


def test_a_backup_without_room_names_both_sizes_in_megabytes(invoke, ops_conn, db_file, tmp_path,
                                                             monkeypatch):
    _grow_past_three_megabytes(ops_conn)
    wal = db_file.with_name("sales.db-wal")
    needed = db_file.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert needed > 3 * MB
    usage = namedtuple("usage", "total used free")
    # A nearly full disk cannot be made for real in a test: the one mock of this file.
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**12, 10**12, 2 * MB + 1))
    dest = tmp_path / "bk"
    result = invoke("db", "backup", dest)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: not enough space in {dest}: 2 MB free, the copies need about {needed // MB} MB")
    assert list(dest.iterdir()) == []


def test_the_wal_size_is_counted_in_mebibytes_of_1024_squared(invoke, ops_conn, db_file,
                                                              monkeypatch):
    # Just over 3 MiB of WAL: 3 MiB <= size < 3 * 1025**2, where a wrong divisor reads 2 MB.
    ops_conn.execute("PRAGMA wal_autocheckpoint = 0")
    page = ops_conn.execute("PRAGMA page_size").fetchone()[0]
    assert 3 * (1025**2 - MB) > page + 24  # one frame is narrower than that window
    wal = db_file.with_name("sales.db-wal")
    while wal.stat().st_size < 3 * MB - 250_000:  # some 20 frames a commit
        ops_conn.execute("INSERT INTO job_runs(job, started_at, status, error) VALUES"
                         " ('import', '2024-01-01T00:00:00Z', 'failed', ?)", ("e" * 60000,))
    small = ops_conn.execute("INSERT INTO job_runs(job, started_at, status) VALUES"
                             " ('import', '2024-01-01T00:00:00Z', 'ok')").lastrowid
    n = 0
    while wal.stat().st_size < 3 * MB:  # rewriting one short row: one more frame a commit
        n += 1
        ops_conn.execute("UPDATE job_runs SET counts = ? WHERE id = ?", (f'"{n:08d}"', small))
    assert wal.stat().st_size < 3 * 1025**2
    monkeypatch.setenv("SALESCLI_HEALTH_MAX_WAL", "1M")
    result = invoke("health", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.output)["problems"] == [
        "the WAL file is 3 MB (threshold 1 MB): a long-lived reader blocks checkpoints"]
