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
from pathlib import Path

from salescli.core.db import connect, credentials_path
from salescli.core.timeutil import now

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


def open_credentials(sales_db: str | os.PathLike) -> sqlite3.Connection:
    """Open (creating with mode 0600) the credentials database beside ``sales_db``."""
    path: Path = credentials_path(sales_db)
    conn = connect(path, create=True)
    if conn.execute("PRAGMA user_version").fetchone()[0] < 1:
        conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "PRAGMA user_version = 1; COMMIT;")
    return conn


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
