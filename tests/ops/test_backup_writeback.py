"""A backup big enough to be written back to disk as it goes (sync_file_range every
FLUSH_EVERY_BYTES) is still a whole, verified copy. Production flushes every 256 MB; here
the step is one page so a small database goes through every flush."""

from __future__ import annotations

import sqlite3

from salescli.ops import backup
from salescli.pipeline import prospects


def test_a_backup_written_back_in_steps_is_a_whole_copy(db_file, tmp_path, ops_conn,
                                                         monkeypatch, invoke):
    for i in range(300):
        prospects.add(ops_conn, "tester", f"p{i}@flush.example", name=f"Person {i}",
                      notes="n" * 400)
    monkeypatch.setattr(backup, "FLUSH_EVERY_BYTES", 4096)
    monkeypatch.setattr(backup, "_sync_file_range", None)  # looked up afresh, as at start-up
    result = backup.backup(db_file, tmp_path / "bk", pages_per_step=4)
    (copy,) = result["copies"]
    path = copy.path
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM prospects WHERE email LIKE"
                            " '%@flush.example'").fetchone()[0] == 300
    finally:
        conn.close()
    shown = invoke("--db", path, "prospects", "show", "p299@flush.example")
    assert shown.exit_code == 0 and "Person 299" in shown.output
