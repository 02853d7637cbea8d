"""Backups and jobs of a database whose file name is long: the temporary copy's and the
job lock's names must fit in the 255 bytes a file name may have, and a backup name that
cannot fit is one clear error."""

from __future__ import annotations

import pytest

from salescli.core import db
from salescli.core.errors import JobLocked
from tests.support.cli import ok


def test_a_long_database_name_is_backed_up(invoke, tmp_path):
    source = tmp_path / ("s" * 230 + ".db")  # its backup's name fits, with 5 bytes to spare
    db.open_write(source).close()
    out = ok(invoke("--db", source, "db", "backup", tmp_path / "bk"))
    (copy,) = [p for p in (tmp_path / "bk").iterdir()]
    assert out.splitlines() == [str(copy)]
    assert copy.name.startswith("s" * 230 + "-") and copy.name.endswith(".db")


def test_a_backup_name_too_long_for_the_file_system_is_one_error_line(invoke, tmp_path):
    source = tmp_path / ("s" * 239 + ".db")
    db.open_write(source).close()
    result = invoke("--db", source, "db", "backup", tmp_path / "bk")
    assert result.exit_code == 1 and result.stdout == ""
    # the job's log line, then the error
    logged, error = result.stderr.splitlines()
    assert " ERROR [db] backup failed after " in logged
    assert error == (f"Error: backup of {source} into {tmp_path / 'bk'} failed: "
                     "File name too long")
    assert list((tmp_path / "bk").iterdir()) == []


def test_a_job_runs_on_a_database_whose_name_leaves_no_room_for_its_lock(invoke, tmp_path):
    """The job's lock file is named after the database: a name of 243 bytes would make a
    lock name over 255; the job still runs, locked, and records its row."""
    source = tmp_path / ("s" * 240 + ".db")  # SQLite's -journal needs <= 247
    db.open_write(source).close()
    ok(invoke("--db", source, "rollup"))
    conn = db.open_read(source)
    try:
        assert [tuple(r) for r in conn.execute("SELECT job, status FROM job_runs")] == \
            [("rollup", "ok")]
    finally:
        conn.close()
    from salescli.ops.runner import job_lock
    with job_lock(source, "rollup"), pytest.raises(JobLocked):  # still a lock: one run at a time
        with job_lock(source, "rollup"):
            pass


def test_two_long_names_cut_alike_keep_their_own_locks(tmp_path):
    """Databases whose long names differ only at the end run their jobs at the same time;
    a name whose lock name just fits (255 bytes) keeps it whole."""
    from salescli.ops.runner import job_lock, lock_path
    first, second = (tmp_path / ("s" * 239 + end + ".db") for end in "ab")
    with job_lock(first, "rollup"), job_lock(second, "rollup"):
        assert lock_path(first, "rollup") != lock_path(second, "rollup")
    fits = tmp_path / ("s" * 239 + ".db")  # "." + 242 + ".rollup.lock": 255 bytes
    assert lock_path(fits, "rollup").name == f".{fits.name}.rollup.lock"


def test_a_cut_lock_name_still_says_which_database_it_locks(tmp_path, monkeypatch):
    """In the lock directory an operator sees whose lock it is: a name cut to fit keeps the
    start of the database's name (and the job's)."""
    from salescli.ops.runner import job_lock
    locks = tmp_path / "locks"
    monkeypatch.setenv("SALESCLI_LOCK_DIR", str(locks))
    source = tmp_path / ("pipeline-2024-" + "s" * 226 + ".db")
    with job_lock(source, "rollup"):
        (lock,) = [p.name for p in locks.iterdir()]
    assert lock.startswith(".pipeline-2024-sss") and lock.endswith(".rollup.lock")
    assert len(lock.encode()) <= 255
