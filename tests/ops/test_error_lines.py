"""Operations a user sets up wrong (a setting, a file, a replica URL) stop with exactly one
``Error:`` line naming the setting or file and the value, a non-zero exit, and leave every
file as it was."""

from __future__ import annotations

import sqlite3

import pytest

from tests.support.cli import fails

SETTINGS = [
    (("db", "backup", "{tmp}/backups"), {"SALESCLI_BACKUP_KEEP": "0"},
     "SALESCLI_BACKUP_KEEP '0' must be a whole number ≥ 1"),
    (("db", "backup", "{tmp}/backups"), {"SALESCLI_BACKUP_KEEP": "1.5"},
     "SALESCLI_BACKUP_KEEP '1.5' must be a whole number ≥ 1"),
    (("health",), {"SALESCLI_HEALTH_INTEGRITY": "sometimes"},
     "SALESCLI_HEALTH_INTEGRITY 'sometimes' must be quick, full or off"),
    (("db", "cleanup"), {"SALESCLI_RETENTION_DAYS": "ninety"},
     "SALESCLI_RETENTION_DAYS 'ninety' must be a whole number of days"),
    (("db", "cleanup"), {"SALESCLI_RETENTION_DAYS": "-1"},
     "SALESCLI_RETENTION_DAYS '-1' must be a whole number of days"),
    (("db", "replicate", "--to", "s3://b'x/p"), {},
     "--to \"s3://b'x/p\" must not contain quotes or control characters"),
    (("db", "replicate", "--to", "bucket/path"), {},
     "--to 'bucket/path' is not a URL like s3://bucket/path or a path"),
    (("db", "replicate"), {"SALESCLI_REPLICA_URL": "bucket/path"},
     "SALESCLI_REPLICA_URL 'bucket/path' is not a URL like s3://bucket/path or a path"),
    (("db", "replicate", "--to", "{tmp}/replica"), {"SALESCLI_REPLICA_RETENTION": "59m"},
     "SALESCLI_REPLICA_RETENTION '59m' must be at least 1h"),
]


@pytest.mark.parametrize("args, env, line", SETTINGS, ids=[line[:34] for *_, line in SETTINGS])
def test_a_bad_setting_is_one_error_line(invoke, conn, tmp_path, monkeypatch, args, env, line):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = invoke(*(a.format(tmp=tmp_path) for a in args))
    assert fails(result) == "Error: " + line
    assert not (tmp_path / "backups").exists() and not (tmp_path / "replica").exists()


@pytest.mark.parametrize("text, line", [
    ("replication = \n", "is not valid TOML (Invalid value (at line 1, column 15))"),
    ('replication = "s3://b/p"\n', "has a [replication] that is not a table"),
])
def test_a_bad_replication_table_names_the_config_file(invoke, db_file, tmp_path, monkeypatch,
                                                       text, line):
    config = tmp_path / "salescli.toml"
    config.write_text(text)
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    assert fails(invoke("db", "replicate")) == f"Error: SALESCLI_CONFIG '{config}' {line}"


def _file(tmp_path, kind: str, db_file) -> str:
    path = tmp_path / f"{kind}.db"
    if kind == "text":
        path.write_text("hello")
    elif kind == "other":
        with sqlite3.connect(path) as c:
            c.execute("CREATE TABLE t(x)")
    elif kind == "newer":
        with sqlite3.connect(db_file) as c:
            c.execute("VACUUM INTO ?", (str(path),))
        with sqlite3.connect(path) as c:
            c.execute("PRAGMA user_version = 99")
    return str(path)


@pytest.mark.parametrize("kind, line", [
    ("text", "FILE '{path}' is not a SQLite database (file is not a database)"),
    ("other", "FILE '{path}' is not a salescli sales or credentials database"),
    ("newer", "{path} has schema version 99, newer than this salescli understands ({version});"
              " restore it with a newer salescli"),
    ("missing", "backup file '{path}' not found"),
])
def test_a_file_that_is_no_backup_is_refused_and_the_database_kept(invoke, conn, db_file, tmp_path,
                                                                   kind, line):
    from salescli.core.schema import SCHEMA_VERSION

    path = _file(tmp_path, kind, db_file)
    before = db_file.read_bytes()
    assert fails(invoke("db", "restore", path, "--force")) == "Error: " + line.format(
        path=path, version=SCHEMA_VERSION)
    assert db_file.read_bytes() == before


@pytest.mark.parametrize("args, line", [
    (("db", "restore", "{tmp}/x.db", "--from-replica", "{tmp}/replica"),
     "give either FILE or --from-replica, not both"),
    (("db", "restore"), "give a backup FILE, or --from-replica URL"),
    (("db", "restore", "{tmp}/x.db", "--timestamp", "2h"),
     "--timestamp and --output go with --from-replica"),
    (("db", "restore", "{tmp}/x.db", "--output", "{tmp}/out"),
     "--timestamp and --output go with --from-replica"),
    (("db", "replicate",), "no replica: give --to URL or set SALESCLI_REPLICA_URL"),
])
def test_options_that_do_not_go_together_are_a_usage_error(invoke, db_file, tmp_path,
                                                           monkeypatch, args, line):
    monkeypatch.delenv("SALESCLI_REPLICA_URL", raising=False)
    monkeypatch.delenv("SALESCLI_CONFIG", raising=False)
    result = invoke(*(a.format(tmp=tmp_path) for a in args))
    assert fails(result, code=2) == "Error: " + line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [
    ("db", "backup", "{tmp}/backups"), ("db", "cleanup"), ("db", "optimize"),
    ("db", "replicate"), ("rollup",), ("forecast", "refresh"), ("notify",), ("send",),
    ("report", "weekly", "-o", "{tmp}/r.html"),
], ids=lambda args: " ".join(args[:2]))
def test_a_job_on_a_database_that_is_not_there_is_an_error_and_creates_nothing(
        invoke, tmp_path, monkeypatch, args):
    """A mistyped SALESCLI_DB (or --db) in a cron job: one Error: line, exit 1; not a new
    empty database at that path, scanned, backed up or replicated every night as if all
    were well (a replica of the empty file would be the newest one to restore from)."""
    monkeypatch.setenv("SALESCLI_REPLICA_URL", f"file://{tmp_path}/replica")
    typo = tmp_path / "sales-typo.db"
    result = invoke("--db", typo, *(a.format(tmp=tmp_path) for a in args))
    assert fails(result) == f"Error: database {str(typo)!r} does not exist; run: salescli init"
    assert list(tmp_path.iterdir()) == []


def test_a_scan_makes_the_database_on_first_use(invoke, tmp_path):
    """scan brings data in, as prospects add does: a new database, not an error."""
    (tmp_path / "Maildir" / "cur").mkdir(parents=True)
    new = tmp_path / "new.db"
    assert invoke("--db", new, "scan", "--source", f"maildir:{tmp_path}/Maildir").exit_code == 0
    assert sqlite3.connect(new).execute("SELECT count(*) FROM job_runs").fetchone()[0] == 1


def test_the_library_backup_refuses_a_database_that_is_not_there(tmp_path):
    from salescli.core.errors import NotFound
    from salescli.ops import backup

    with pytest.raises(NotFound) as err:
        backup.backup(tmp_path / "gone.db", tmp_path / "backups")
    assert str(err.value) == f"database {str(tmp_path / 'gone.db')!r} not found"
    assert list(tmp_path.iterdir()) == []
