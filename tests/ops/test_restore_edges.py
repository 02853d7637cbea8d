"""Restores called from the library: a live database is replaced only when asked."""

from __future__ import annotations

import pytest

from salescli.core.errors import Conflict
from salescli.pipeline import prospects


def test_a_library_restore_over_a_live_database_needs_force(ops_conn, db_file, tmp_path):
    from salescli.ops import backup

    copy = backup.backup(db_file, tmp_path / "bk", keep=1)["copies"][0].path
    prospects.add(ops_conn, "tester", "later@example.com")
    with pytest.raises(Conflict) as err:
        backup.restore(copy, db_file)
    assert str(err.value).startswith(f"{db_file} exists and would be replaced; add --force")
    assert prospects.find_by_email(ops_conn, "later@example.com") is not None
    assert not list(tmp_path.glob("sales.db.before-restore-*"))


def test_a_replica_restore_into_the_live_directory_puts_credentials_where_they_live(
        tmp_path, procs, db_file, invoke, monkeypatch):
    """With SALESCLI_CREDENTIALS_DB elsewhere, the restored credentials replace that file,
    not a new credentials.db beside the sales database."""
    import json
    import signal

    from tests.ops.test_replication import PASSWORD, in_step, start_replicator, wait_until
    from tests.support.cli import ok

    monkeypatch.setenv("SALESCLI_REPLICA_SYNC_INTERVAL", "1s")
    cred = tmp_path / "keys" / "credentials.db"
    monkeypatch.setenv("SALESCLI_CREDENTIALS_DB", str(cred))
    url = f"file://{tmp_path / 'replica'}"
    ok(invoke("init"))
    ok(invoke("users", "add", "ada", "--role", "admin", "--password-stdin", input=PASSWORD))
    replicator, _, _ = start_replicator(procs, tmp_path, url)
    wait_until(lambda: in_step(url, db_file) and in_step(url, cred), 60, "the replica")
    replicator.send_signal(signal.SIGTERM)
    assert replicator.wait(timeout=60) == 0
    ok(invoke("users", "add", "bob", "--role", "analyst", "--password-stdin", input=PASSWORD))

    ok(invoke("db", "restore", "--from-replica", url, "--output", tmp_path, "--force"))
    names = [u["username"] for u in json.loads(ok(invoke("users", "list", "--format", "json")))]
    assert names == ["ada"]
    assert not (tmp_path / "credentials.db").exists()
    assert len(list(cred.parent.glob("credentials.db.before-restore-*"))) == 1


def test_restoring_a_missing_backup_file_names_it(invoke, ops_conn, tmp_path):
    from tests.support.cli import fails

    missing = tmp_path / "sales-20250101T000000Z.db"
    assert fails(invoke("db", "restore", missing, "--force")) == \
        f"Error: backup file {str(missing)!r} not found"


def test_a_damaged_backup_is_refused_naming_what_integrity_check_found(invoke, ops_conn,
                                                                       db_file, tmp_path):
    from salescli.ops import backup
    from tests.ops.helpers import corrupt
    from tests.support.cli import fails

    for i in range(200):
        prospects.add(ops_conn, "tester", f"p{i}@damage.example", notes="n" * 300)
    copy = backup.backup(db_file, tmp_path / "bk", keep=1)["copies"][0].path
    corrupt(copy, "prospects")
    line = fails(invoke("db", "restore", copy, "--force"))
    assert line.startswith(f"Error: FILE '{copy}' fails integrity_check: ")
    assert len(line) > len(f"Error: FILE '{copy}' fails integrity_check: ") + 10
    assert prospects.find_by_email(ops_conn, "p199@damage.example") is not None


def test_any_non_empty_file_in_the_databases_place_is_replaced_only_with_force_and_kept(
        invoke, ops_conn, db_file, tmp_path):
    from salescli.ops import backup
    from tests.support.cli import fails

    copy = backup.backup(db_file, tmp_path / "bk", keep=1)["copies"][0].path
    ops_conn.close()
    for suffix in ("", "-wal", "-shm"):
        db_file.with_name(db_file.name + suffix).unlink(missing_ok=True)
    db_file.write_bytes(b"")  # an empty file holds nothing to lose
    assert invoke("db", "restore", copy).exit_code == 0
    db_file.unlink()
    db_file.write_bytes(b"x")  # one byte of something is not ours to throw away
    assert fails(invoke("db", "restore", copy)).startswith(
        f"Error: {db_file} exists and would be replaced; add --force")
    assert db_file.read_bytes() == b"x"
    assert invoke("db", "restore", copy, "--force").exit_code == 0
    # kept beside (SQLite reads a one-byte file as an empty database, so a copy of that)
    assert len(list(tmp_path.glob("sales.db.before-restore-*"))) == 1


def test_a_backup_from_the_first_schema_restores_and_is_brought_up_to_date(invoke, tmp_path):
    from salescli.core import migrations
    from tests.support.cli import database_before, ok, query

    old = tmp_path / "sales-20200101T000000Z.db"
    conn = database_before(old, migrations.m._migrations[1].name)  # schema version 1
    conn.execute("INSERT INTO stages(name, position, created_at) VALUES ('lead', 0, '2020-01-01')")
    conn.execute("INSERT INTO prospects(email, stage_id, stage_entered_at, created_at,"
                 " updated_at) VALUES ('old@example.com', 1, '2020-01-01', '2020-01-01',"
                 " '2020-01-01')")
    conn.close()
    live = tmp_path / "live" / "sales.db"
    assert ok(invoke("--db", live, "db", "restore", old)) == (
        f"restored the sales database {live} from {old} (schema version 1)\n")
    assert "old@example.com" in ok(invoke("--db", live, "prospects", "list"))
    assert query(live, "PRAGMA user_version")[0]["user_version"] > 1
