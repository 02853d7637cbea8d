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
