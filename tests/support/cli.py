"""Assertions shared by the tests: CLI results and database state."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any


def database_before(path: str | Path, migration: str) -> sqlite3.Connection:
    """A database as salescli left it just before ``migration`` (by name): the migrations
    before it applied and ``user_version`` their count, what the next open upgrades from.
    An autocommit connection to it, for the test to add rows the old schema holds."""
    from sqlite_utils import Database

    from salescli.core import db, migrations

    names = [mig.name for mig in migrations.m._migrations]
    conn = db.connect(path, create=True)
    migrations.m.apply(Database(conn), stop_before=migration)
    conn.execute(f"PRAGMA user_version = {names.index(migration)}")
    return conn


def ok(result) -> str:
    """Assert a CLI run succeeded; return its stdout."""
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output
    return result.stdout


def fails(result, *needles: str, code: int = 1) -> str:
    """Assert a user error: exit ``code``, one ``Error: …`` line holding each needle,
    nothing on stdout and no traceback. Returns the error line."""
    assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    if code == 1:
        assert result.stdout == "", result.stdout
        assert len(lines) == 1, lines
        line = lines[0]
    else:  # usage errors come after the usage line and may list choices below
        line = next(x for x in lines if x.startswith("Error: "))
    assert line.startswith("Error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def query(path: str | Path, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    conn = connect(path)
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def scalar(path: str | Path, sql: str, params: tuple = ()) -> Any:
    conn = connect(path)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def db_state(path: str | Path) -> dict[str, Any]:
    """Every row of every table (FTS shadow tables included) and the schema version:
    equal before and after means nothing was written."""
    conn = connect(path)
    try:
        state: dict[str, Any] = {"user_version": conn.execute("PRAGMA user_version").fetchone()[0]}
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                    " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"):
            state[name] = [tuple(r) for r in conn.execute(f'SELECT * FROM "{name}"')]
        return state
    finally:
        conn.close()


def counts(path: str | Path) -> dict[str, int]:
    """Row counts per table, for readable assertion messages."""
    return {k: len(v) for k, v in db_state(path).items() if k != "user_version"}


def activities(path: str | Path, **where: Any) -> list[dict[str, Any]]:
    """Activity rows (oldest first) with before/after decoded, filtered by column values."""
    sql = "SELECT * FROM activities"
    if where:
        sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
    rows = query(path, sql + " ORDER BY id", tuple(where.values()))
    for r in rows:
        r["before"] = json.loads(r["before"]) if r["before"] else None
        r["after"] = json.loads(r["after"]) if r["after"] else None
    return rows


def new_activities(path: str | Path, since_id: int) -> list[dict[str, Any]]:
    return [a for a in activities(path) if a["id"] > since_id]


def last_activity_id(path: str | Path) -> int:
    return scalar(path, "SELECT coalesce(max(id), 0) FROM activities")


def assert_fts_in_sync(path: str | Path) -> None:
    """The full-text index matches the prospects table exactly (FTS5 integrity-check
    with rank 1 compares an external-content index with its content table)."""
    conn = connect(path)
    try:
        conn.execute("INSERT INTO prospects_fts(prospects_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


ROOT = Path(__file__).resolve().parents[2]


def cli_process(db_file: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """``python -m salescli --db DB …`` as a separate process (for kill -9 tests)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-m", "salescli", "--db", str(db_file), *args],
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def write_file(tmp_path, name: str, content: str | bytes):
    """``content`` (text as UTF-8, or bytes as they are) in ``tmp_path/name``; the path."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``python -m salescli ARGS`` with stderr on a pseudo-terminal, as an operator at a
    shell would (progress bars and human lines go there): (exit code, stdout, what the
    terminal showed)."""
    import pty

    primary, secondary = pty.openpty()
    try:
        p = subprocess.Popen([sys.executable, "-m", "salescli", *args], env=env,
                             stdout=subprocess.PIPE, stderr=secondary, text=True)
        out, _ = p.communicate(timeout=60)
        os.close(secondary)
        secondary = None
        chunks = []
        while True:
            try:
                data = os.read(primary, 4096)
            except OSError:  # EIO once the child's side is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(primary)
        if secondary is not None:
            os.close(secondary)
    return p.returncode, out, b"".join(chunks).decode()
