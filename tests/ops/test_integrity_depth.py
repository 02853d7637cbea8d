"""How deep health looks: the quick check cron runs every few minutes reads every page but
not whether each index holds the rows of its table; SALESCLI_HEALTH_INTEGRITY=full does."""

from __future__ import annotations

import json
import sqlite3


def test_an_index_out_of_step_with_its_table_is_found_by_the_full_check_only(
        invoke, ops_conn, db_file, monkeypatch):
    ops_conn.close()
    conn = sqlite3.connect(db_file, isolation_level=None)
    conn.execute("CREATE TABLE ledger(a, b)")
    conn.execute("CREATE INDEX ledger_a ON ledger(a)")
    conn.executemany("INSERT INTO ledger VALUES (?, ?)", [(i, i * 2) for i in range(50)])
    # The index now claims to cover column b, but its entries hold column a.
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX ledger_a ON ledger(b)'"
                 " WHERE name = 'ledger_a'")
    conn.execute("PRAGMA writable_schema = OFF")
    conn.close()

    quick = json.loads(invoke("health", "--format", "json").output)
    assert quick["database"]["integrity"] == "ok"

    monkeypatch.setenv("SALESCLI_HEALTH_INTEGRITY", "full")
    result = invoke("health", "--format", "json")
    full = json.loads(result.output)
    assert result.exit_code == 1
    assert "missing from index ledger_a" in full["database"]["integrity"]
