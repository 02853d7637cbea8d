"""The schema version: what this salescli writes, what a file says it holds, and the check.

Kept apart from ``db`` (which opens files) and ``migrations`` (which needs sqlite-utils)
so that both can use it and readers check the version without importing sqlite-utils.
"""

from __future__ import annotations

import os
import sqlite3

from salescli.core.errors import SchemaError

# The number of migrations in salescli.core.migrations (checked there at import).
SCHEMA_VERSION = 14


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the file (``PRAGMA user_version``)."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def check_version(conn: sqlite3.Connection, path: str | os.PathLike) -> int:
    """Refuse a database that is newer than this salescli or not initialised."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"database {str(path)!r} has schema version {version}, newer than this "
            f"salescli understands ({SCHEMA_VERSION}); upgrade salescli"
        )
    if version == 0 and conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'stages'").fetchone() is not None:
        raise SchemaError(f"database {str(path)!r} has salescli tables but no schema version"
                          " (a copy made with sqlite3 .dump?); run: salescli init")
    if version == 0:
        raise SchemaError(f"database {str(path)!r} is not a salescli database; run: salescli init")
    if version < SCHEMA_VERSION:
        raise SchemaError(
            f"database {str(path)!r} has schema version {version}, older than this "
            f"salescli ({SCHEMA_VERSION}); run: salescli init"
        )
    return version
