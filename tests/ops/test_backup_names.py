"""Backups of a database whose file name is long: the temporary copy's name must fit in
the 255 bytes a file name may have, and a backup name that cannot fit is one clear error."""

from __future__ import annotations

from salescli.core import db
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
