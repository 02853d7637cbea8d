"""The database file: creation, modes, migrations, version checks."""

from __future__ import annotations

import gc
import os
import sqlite3
import stat

import pytest
from sqlite_utils import Database

from salescli.core import db, migrations
from salescli.core.enums import DEFAULT_STAGES
from tests.support.cli import assert_fts_in_sync, db_state, fails, ok, query, scalar


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_private_database_with_default_stages(invoke, db_file):
    out = ok(invoke("init"))
    assert f"created {db_file}" in out
    assert f"schema version {db.SCHEMA_VERSION}" in out
    assert mode(db_file) == 0o600
    assert scalar(db_file, "PRAGMA journal_mode") == "wal"
    assert scalar(db_file, "PRAGMA user_version") == db.SCHEMA_VERSION
    stages = query(db_file, "SELECT name, kind FROM stages ORDER BY position")
    assert [(s["name"], s["kind"]) for s in stages] == [(n, k.value) for n, k in DEFAULT_STAGES]
    applied = [r["name"] for r in query(db_file, "SELECT name FROM _sqlite_migrations"
                                                 " ORDER BY id")]
    assert applied == [mig.name for mig in migrations.m._migrations]


def test_init_twice_keeps_data_and_stages(invoke, db_file):
    ok(invoke("init"))
    ok(invoke("prospects", "add", "a@example.com"))
    before = db_state(db_file)
    assert "up to date" in ok(invoke("init"))
    assert db_state(db_file) == before


def test_connection_pragmas(conn):
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == db.DEFAULT_BUSY_TIMEOUT_MS
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.isolation_level is None


def test_an_up_to_date_file_in_rollback_journal_mode_is_switched_back_to_wal(invoke, db_file):
    """A database of this version left in rollback-journal mode (a copy written by another
    tool) is back in WAL, where readers never block the writer, after the next write."""
    ok(invoke("init"))
    gc.collect()  # in-process CLI runs leave connections for the collector to close
    plain = sqlite3.connect(db_file)
    assert plain.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    plain.close()
    ok(invoke("prospects", "add", "a@example.com"))
    assert scalar(db_file, "PRAGMA journal_mode") == "wal"


def test_wal_and_shm_files_are_private_too(invoke, db_file):
    ok(invoke("init"))
    keep = sqlite3.connect(db_file)  # keeps -wal/-shm alive while we look
    try:
        ok(invoke("prospects", "add", "a@example.com"))
        for suffix in ("-wal", "-shm"):
            side = db_file.with_name(db_file.name + suffix)
            assert side.exists()
            assert mode(side) & 0o077 == 0, (suffix, oct(mode(side)))
    finally:
        keep.close()


def test_init_in_a_new_directory_with_db_option(invoke, tmp_path):
    target = tmp_path / "nested" / "dir" / "mine.db"
    ok(invoke("--db", target, "init"))
    assert mode(target) == 0o600
    ok(invoke("--db", target, "prospects", "add", "a@example.com"))
    assert scalar(target, "SELECT count(*) FROM prospects") == 1


def test_read_command_on_missing_database_creates_nothing(invoke, db_file):
    fails(invoke("prospects", "list"), str(db_file), "salescli init")
    assert not db_file.exists()


def test_read_command_on_empty_file_says_init(invoke, db_file):
    db_file.touch()
    fails(invoke("prospects", "list"), "not a salescli database", "salescli init")
    assert db_file.read_bytes() == b""


def test_garbage_file_is_an_error_not_a_traceback(invoke, db_file):
    db_file.write_bytes(b"this is not sqlite at all" * 100)
    before = db_file.read_bytes()
    fails(invoke("prospects", "list"), "database")
    fails(invoke("prospects", "add", "a@example.com"), "database")
    assert db_file.read_bytes() == before


def test_write_command_creates_and_migrates_on_open(invoke, db_file):
    ok(invoke("prospects", "add", "a@example.com"))
    assert scalar(db_file, "PRAGMA user_version") == db.SCHEMA_VERSION
    assert mode(db_file) == 0o600


def build_first_version(path) -> None:
    """A database exactly as the first schema version left it: m001 only, user_version 1,
    the default stages, and some data written the way that version wrote it."""
    conn = db.connect(path, create=True)
    database = Database(conn)
    first = migrations.m._migrations[0].name
    later = [mig.name for mig in migrations.m._migrations[1:]]
    assert first == "m001_initial"
    migrations.m.apply(database, stop_before=later[0])
    ts = "2024-01-02T03:04:05Z"
    conn.executemany("INSERT INTO stages(name, position, kind, created_at) VALUES (?, ?, ?, ?)",
                     [(n, i, k.value, ts) for i, (n, k) in enumerate(DEFAULT_STAGES)])
    conn.execute("INSERT INTO prospects(email, name, stage_id, tags, stage_entered_at,"
                 " created_at, updated_at) VALUES ('old@example.com', 'Old Timer', 1,"
                 " '[\"legacy\"]', ?, ?, ?)", (ts, ts, ts))
    conn.execute("INSERT INTO stage_changes(prospect_id, to_stage_id, at, actor)"
                 " VALUES (1, 1, ?, 'old')", (ts,))
    conn.execute("INSERT INTO activities(at, actor, action, entity, entity_id, prospect_id,"
                 " after) VALUES (?, 'old', 'create', 'prospect', 1, 1, '{}')", (ts,))
    conn.execute("PRAGMA user_version = 1")
    conn.close()


def test_first_schema_version_is_upgraded_by_init(invoke, db_file):
    build_first_version(db_file)
    assert [r["name"] for r in query(db_file, "SELECT name FROM _sqlite_migrations")] \
        == ["m001_initial"]
    old_activities = query(db_file, "SELECT * FROM activities")

    assert "upgraded" in ok(invoke("init"))

    assert scalar(db_file, "PRAGMA user_version") == db.SCHEMA_VERSION
    applied = [r["name"] for r in query(db_file, "SELECT name FROM _sqlite_migrations"
                                                 " ORDER BY id")]
    assert applied == [mig.name for mig in migrations.m._migrations]
    # the stages were not inserted a second time, the data is intact
    assert scalar(db_file, "SELECT count(*) FROM stages") == len(DEFAULT_STAGES)
    assert query(db_file, "SELECT * FROM activities") == old_activities
    out = ok(invoke("prospects", "list", "--search", "timer", "--tag", "legacy",
                    "--format", "json"))
    assert "old@example.com" in out
    ok(invoke("prospects", "move", "old@example.com", "contacted"))
    assert scalar(db_file, "SELECT count(*) FROM stage_changes") == 2
    assert_fts_in_sync(db_file)


def test_reading_an_older_database_says_run_init_and_changes_nothing(invoke, db_file):
    build_first_version(db_file)
    before = db_state(db_file)
    for args in (("prospects", "list"), ("prospects", "show", "1"), ("stages", "list"),
                 ("activity",), ("users", "list"), ("prospects", "export")):
        fails(invoke(*args), f"database {str(db_file)!r} has schema version 1, older",
              "run: salescli init")
    assert db_state(db_file) == before


def test_write_command_upgrades_an_older_database(invoke, db_file):
    build_first_version(db_file)
    ok(invoke("prospects", "add", "new@example.com"))
    assert scalar(db_file, "PRAGMA user_version") == db.SCHEMA_VERSION
    assert scalar(db_file, "SELECT count(*) FROM prospects") == 2


def _sidecars(path):
    return {s: path.with_name(path.name + s).exists() for s in ("-wal", "-shm", "-journal")}


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_newer_database_is_refused_and_not_modified(invoke, db_file, journal):
    ok(invoke("init"))
    ok(invoke("prospects", "add", "a@example.com"))
    gc.collect()  # in-process CLI runs leave connections for the collector to close
    conn = sqlite3.connect(db_file, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    conn.close()
    before = db_file.read_bytes()
    sidecars = _sidecars(db_file)
    for args in (("init",), ("prospects", "list"), ("prospects", "show", "1"),
                 ("prospects", "add", "b@example.com"), ("prospects", "move", "1", "contacted"),
                 ("stages", "add", "x"), ("users", "add", "u", "--role", "admin",
                                          "--no-password"), ("log", "1", "--kind", "note")):
        fails(invoke(*args), f"database {str(db_file)!r} has schema version "
              f"{db.SCHEMA_VERSION + 1}", "newer", "upgrade salescli")
    assert db_file.read_bytes() == before
    assert _sidecars(db_file) == sidecars
    assert not db.credentials_path(db_file).exists()


def test_library_refuses_newer_database(db_file, conn):
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 3}")
    from salescli.core.errors import SchemaError

    with pytest.raises(SchemaError, match="newer"):
        db.open_read(db_file)
    with pytest.raises(SchemaError, match="newer"):
        db.open_write(db_file)


def test_migrations_count_matches_reader_constant():
    assert len(migrations.m._migrations) == db.SCHEMA_VERSION == migrations.SCHEMA_VERSION


def test_nested_transaction_rolls_back_only_the_inner_part(conn):
    with db.transaction(conn):
        conn.execute("INSERT INTO users(username, role, created_at, updated_at)"
                     " VALUES ('a', 'admin', 'x', 'x')")
        with pytest.raises(RuntimeError):
            with db.transaction(conn):
                conn.execute("INSERT INTO users(username, role, created_at, updated_at)"
                             " VALUES ('b', 'admin', 'x', 'x')")
                raise RuntimeError("inner")
    assert [r[0] for r in conn.execute("SELECT username FROM users")] == ["a"]
    assert not conn.in_transaction


def test_a_transaction_on_a_plain_sqlite3_connection_commits_or_rolls_back(sales):
    """Code handed a connection it did not open with db.connect (sqlite3's own) still gets
    a working transaction, without the writers' turn lock file."""
    plain = sqlite3.connect(sales, isolation_level=None)
    try:
        with db.transaction(plain):
            plain.execute("INSERT INTO users(username, role, created_at, updated_at)"
                          " VALUES ('a', 'admin', 'x', 'x')")
        with pytest.raises(RuntimeError):
            with db.transaction(plain):
                plain.execute("INSERT INTO users(username, role, created_at, updated_at)"
                              " VALUES ('b', 'admin', 'x', 'x')")
                raise RuntimeError("undo")
        db.let_writers_in(plain)  # nothing to wait for: returns at once
    finally:
        plain.close()
    assert [r["username"] for r in query(sales, "SELECT username FROM users")] == ["a"]
    assert not (sales.parent / (sales.name + db.TURNS_SUFFIX)).exists()


def test_the_credentials_database_goes_where_its_variable_says(invoke, sales, tmp_path,
                                                              monkeypatch):
    elsewhere = tmp_path / "secure" / "creds.db"
    monkeypatch.setenv("SALESCLI_CREDENTIALS_DB", str(elsewhere))
    ok(invoke("users", "add", "maria", "--role", "operator", "--password-stdin",
              input="correct horse battery staple\n"))
    assert mode(elsewhere) == 0o600
    assert not sales.with_name(db.CREDENTIALS_NAME).exists()


def test_the_first_write_creates_the_private_writers_turn_file(invoke, db_file):
    """The lock file writers take turns on sits beside the database, 0600 like it."""
    ok(invoke("init"))
    turns = db_file.parent / (db_file.name + db.TURNS_SUFFIX)
    turns.unlink(missing_ok=True)
    ok(invoke("prospects", "add", "ada@example.com"))
    assert mode(turns) == 0o600


def test_a_writers_turn_file_that_cannot_be_opened_does_not_stop_writes(invoke, db_file):
    """Turns are a courtesy between writers: where the file cannot be opened (here a
    directory sits in its place) writers go on without them."""
    ok(invoke("init"))
    turns = db_file.parent / (db_file.name + db.TURNS_SUFFIX)
    turns.unlink(missing_ok=True)
    turns.mkdir()
    ok(invoke("prospects", "add", "ada@example.com"))
    assert scalar(db_file, "SELECT count(*) FROM prospects") == 1


def test_a_transaction_on_a_plain_connection_leaves_its_busy_timeout_alone(sales):
    """A connection salescli did not open (a plugin host's own) keeps the busy timeout
    its owner chose: only db.connect's connections poll with the timeout switched off."""
    plain = sqlite3.connect(sales, isolation_level=None)
    try:
        plain.execute("PRAGMA busy_timeout = 1234")
        with db.transaction(plain):
            plain.execute("INSERT INTO users(username, role, created_at, updated_at)"
                          " VALUES ('a', 'admin', 'x', 'x')")
        assert plain.execute("PRAGMA busy_timeout").fetchone()[0] == 1234
    finally:
        plain.close()


def test_a_long_job_letting_writers_in_with_none_waiting_goes_on(sales):
    """Between its transactions a long job (the scan) calls let_writers_in; with nobody
    waiting it returns, and the job's next transaction and other writers go on."""
    job = db.connect(sales)
    try:
        for name in ("a", "b"):
            with db.transaction(job):
                job.execute("INSERT INTO users(username, role, created_at, updated_at)"
                            " VALUES (?, 'admin', 'x', 'x')", (name,))
            db.let_writers_in(job)
        other = db.connect(sales)
        try:
            with db.transaction(other):
                other.execute("INSERT INTO users(username, role, created_at, updated_at)"
                              " VALUES ('c', 'admin', 'x', 'x')")
        finally:
            other.close()
    finally:
        job.close()
    assert [r["username"] for r in query(sales, "SELECT username FROM users")] == ["a", "b", "c"]


def _turn_files_open(sales) -> int:
    """How many descriptors of this process are open on ``sales``' writers'-turn file."""
    turns = str(sales) + db.TURNS_SUFFIX
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == turns
        except OSError:  # the listing's own descriptor, gone by now
            pass
    return count


def test_a_connection_dropped_unclosed_gives_back_its_writers_turn_file(sales):
    """A long-lived process (the dashboard, a job) that drops a connection without closing
    it gets the turn file's descriptor back, so it never runs out of open files."""
    before = _turn_files_open(sales)
    job = db.connect(sales)
    with db.transaction(job):
        job.execute("INSERT INTO users(username, role, created_at, updated_at)"
                    " VALUES ('a', 'admin', 'x', 'x')")
    assert _turn_files_open(sales) == before + 1
    del job
    gc.collect()
    assert _turn_files_open(sales) == before
