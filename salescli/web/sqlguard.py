"""What SQL on the served database may do: an SQLite authorizer and size limits.

Analysts, managers and the dashboard charts run their own SQL. Datasette already allows
only SELECT (plus a few ``pragma_*`` functions) and stops a query after the time limit;
this refuses the rest at the SQLite level, for every statement on the connection:
functions that reach process internals (``fts3_tokenizer`` hands out a library address,
``load_extension``), ATTACH and DETACH, writes of any kind, PRAGMAs other than the
read-only ones Datasette itself uses, and ``pragma_database_list`` (the file's path).
A string or blob is capped in size so that ``zeroblob``/``printf`` cannot eat the memory.
"""

from __future__ import annotations

import sqlite3

DENIED_FUNCTIONS = frozenset({
    "fts3_tokenizer", "load_extension", "fts5", "readfile", "writefile", "edit",
    "sqlite_dbpage", "sqlite_dbdata",
})
# Read-only pragmas Datasette runs on its own (table pages, column lists, facets,
# foreign keys, the database page's attached-database list) and allows in ``?sql=``.
READ_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "function_list", "pragma_list", "table_list", "database_list",
    "schema_version", "data_version", "compile_options",
})
# Read as tables (``select * from pragma_x()``): the path of the file stays private.
DENIED_TABLES = frozenset({"pragma_database_list", "sqlite_dbpage", "sqlite_dbdata"})
ALLOWED_ACTIONS = frozenset({
    sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_PRAGMA, sqlite3.SQLITE_RECURSIVE,
})
MAX_VALUE_BYTES = 32 * 1024 * 1024


def authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None,
               _trigger: str | None) -> int:
    """The SQLite authorizer callback: SQLITE_OK for what reading needs, else DENY."""
    if action not in ALLOWED_ACTIONS:
        # SQLite asks this while it loads the schema (virtual tables, pragma tables): it is
        # not a write (PRAGMA query_only and the read-only open refuse those anyway).
        if action == sqlite3.SQLITE_UPDATE and arg1 in ("sqlite_master", "sqlite_temp_master"):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and (arg1 or "").lower() in DENIED_TABLES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (
            (arg1 or "").lower() not in READ_PRAGMAS
            or arg1.lower() in ("schema_version", "data_version") and arg2 is not None):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def restrict(conn: sqlite3.Connection) -> None:
    """Put the authorizer and the value-size limit on a connection to the served database."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.set_authorizer(authorizer)
