"""The credentials database: password hashes, issued tokens, the web sign-in log.

It lives beside the sales database (``credentials.db``) and is never served by
Datasette: any role that may run SQL there could read every served table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3
import urllib.parse
from pathlib import Path

from salescli.core.db import connect, credentials_path, transaction
from salescli.core.errors import SchemaError
from salescli.core.timeutil import now

# PRAGMA user_version of credentials.db; ops.backup.CREDENTIALS_VERSION must match.
#   1: passwords, tokens, signin_log
#   2: signin_log indexed by address (sign-in throttling); records issued before a user
#      was disabled or changed role revoked (they stay dead once the user is back)
VERSION = 2
# scrypt at N=2^15, r=8: 32 MiB and ~0.1 s per hash, memory-hard against GPUs.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS passwords (
    username TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    jti TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE INDEX IF NOT EXISTS tokens_username ON tokens(username);
CREATE TABLE IF NOT EXISTS signin_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    username TEXT,
    event TEXT NOT NULL,
    remote TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS signin_log_at ON signin_log(at);
CREATE INDEX IF NOT EXISTS signin_log_user ON signin_log(username, at);
"""


_V2 = "CREATE INDEX IF NOT EXISTS signin_log_remote ON signin_log(remote, at);"


def open_credentials(sales_db: str | os.PathLike) -> sqlite3.Connection:
    """Open (creating with mode 0600) the credentials database beside ``sales_db``,
    bringing an older one up to ``VERSION`` in place; a newer one is refused."""
    path: Path = credentials_path(sales_db)
    conn = connect(path, create=True)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > VERSION:
        conn.close()
        raise SchemaError(f"{path} has credentials schema version {version}, newer than this"
                          f" salescli understands ({VERSION}); upgrade salescli")
    if version < 1:
        conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "PRAGMA user_version = 1; COMMIT;")
    if version < VERSION:
        with transaction(conn):
            if conn.execute("PRAGMA user_version").fetchone()[0] < 2:  # another process won
                conn.execute(_V2)
                revoke_stale_records(conn, sales_db)
                conn.execute(f"PRAGMA user_version = {VERSION}")
    return conn


def revoke_stale_records(creds: sqlite3.Connection, sales_db: str | os.PathLike) -> None:
    """Revoke the live records of users who are disabled, gone, or hold another role than
    the record was issued with: before version 2 they came back to life when the user was
    re-enabled or given the old role again."""
    path = Path(sales_db).resolve()
    if not path.is_file():
        return
    sales = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True)
    try:
        users = {name: (role, disabled) for name, role, disabled in sales.execute(
            "SELECT username, role, disabled FROM users")}
    except sqlite3.Error:
        return
    finally:
        sales.close()
    stale = [(jti,) for jti, username, role in creds.execute(
        "SELECT jti, username, role FROM tokens WHERE revoked_at IS NULL")
        if username not in users or users[username][1] or users[username][0] != role]
    creds.executemany("UPDATE tokens SET revoked_at = ?, revoked_by = 'salescli upgrade'"
                      " WHERE jti = ?", [(now(), jti) for (jti,) in stale])


def revoke_user_records(creds: sqlite3.Connection, username: str, by: str) -> int:
    """Revoke every live token and session of ``username`` (on disable or a role change),
    so that none comes back when the user is re-enabled or given the old role again."""
    return creds.execute("UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE username = ?"
                         " AND revoked_at IS NULL", (now(), by, username)).rowcount


def hash_password(password: str) -> str:
    """A salted scrypt hash in a self-describing string."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a stored hash (False if none)."""
    if not stored:
        # Spend the same time so a missing user is not told apart by timing.
        hash_password(password)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        assert scheme == "scrypt"
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), maxmem=64 * 1024 * 1024, dklen=32)
    except (ValueError, AssertionError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def set_password(conn: sqlite3.Connection, username: str, password: str) -> None:
    """Store a new hash; ``changed_at`` lets the web server end older sessions."""
    conn.execute(
        "INSERT INTO passwords(username, hash, changed_at) VALUES (?, ?, ?)"
        " ON CONFLICT(username) DO UPDATE SET hash = excluded.hash,"
        " changed_at = excluded.changed_at",
        (username, hash_password(password), now()),
    )


def password_hash(conn: sqlite3.Connection, username: str) -> str | None:
    row = conn.execute("SELECT hash FROM passwords WHERE username = ?", (username,)).fetchone()
    return row[0] if row else None
