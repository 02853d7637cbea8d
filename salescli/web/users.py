"""Users of salescli: who may sign in to the dashboard, with which role, and where
notifications go. Passwords go to the credentials database, never here."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from salescli.core import audit
from salescli.core.db import transaction
from salescli.core.enums import Role
from salescli.core.errors import Conflict, InvalidValue, NotFound
from salescli.core.timeutil import now
from salescli.pipeline.prospects import normalise_email
from salescli.web import credentials

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


def parse_role(value: str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise InvalidValue("role", value, "must be one of " + ", ".join(Role)) from None


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidValue("password", "…", f"must be at least {MIN_PASSWORD} characters")
    return password


def get(conn: sqlite3.Connection, username: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        raise NotFound("user", username)
    return _public(row)


def _public(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["disabled"] = bool(d["disabled"])
    return d


def list_users(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [_public(r) for r in conn.execute("SELECT * FROM users ORDER BY username")]


def parse_full_name(value: str | None) -> str | None:
    """A person's full name, trimmed ('' or None: none); one line of at most 200 characters."""
    text = " ".join(str(value or "").split())
    if len(text) > 200 or any(c in str(value or "") for c in "\r\n"):
        raise InvalidValue("--full-name", value, "must be one line of at most 200 characters")
    return text or None


def add(conn: sqlite3.Connection, db_file: str | Path, actor: str, username: str, role: str,
        *, email: str | None = None, password: str | None = None,
        full_name: str | None = None) -> dict[str, Any]:
    """Create a user (and their password hash in the credentials database)."""
    if not _USERNAME.match(username or ""):
        raise InvalidValue("username", username,
                           "must be 1-64 letters, digits, '.', '_', '@' or '-'")
    role = parse_role(role)
    email = normalise_email(email, "--email") if email else None
    full_name = parse_full_name(full_name)
    if password is not None:
        check_password(password)
    with transaction(conn):
        if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise Conflict(f"user {username!r} already exists")
        ts = now()
        cur = conn.execute("INSERT INTO users(username, email, role, full_name, created_at,"
                           " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                           (username, email, role.value, full_name, ts, ts))
        after = {"username": username, "email": email, "role": role.value, "disabled": False}
        if full_name:
            after["full_name"] = full_name
        audit.record(conn, actor, "create", "user", cur.lastrowid, None, after)
        if password is not None:
            _store_password(db_file, username, password)
    return get(conn, username)


def _store_password(db_file: str | Path, username: str, password: str) -> None:
    creds = credentials.open_credentials(db_file)
    try:
        with transaction(creds):
            credentials.set_password(creds, username, password)
    finally:
        creds.close()


def _change(conn: sqlite3.Connection, actor: str, username: str, action: str,
            fields: dict[str, Any]) -> dict[str, Any]:
    with transaction(conn):
        before = get(conn, username)
        changed = {k: v for k, v in fields.items() if before[k] != v}
        if changed:
            conn.execute("UPDATE users SET " + ", ".join(f"{k} = ?" for k in changed)
                         + ", updated_at = ? WHERE username = ?",
                         [*changed.values(), now(), username])
            audit.record(conn, actor, action, "user", before["id"],
                         {k: before[k] for k in changed}, changed)
            if "role" in changed or changed.get("disabled"):
                _end_credentials(conn, username, f"{actor} ({action})")
    return get(conn, username)


def _end_credentials(conn: sqlite3.Connection, username: str, by: str) -> None:
    """Revoke the user's tokens and sessions in the credentials database, committed before
    the sales change (a crash between leaves them revoked: fail closed)."""
    main = conn.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()[0]
    creds = credentials.open_credentials(main)
    try:
        with transaction(creds):
            credentials.revoke_user_records(creds, username, by)
    finally:
        creds.close()


def set_role(conn: sqlite3.Connection, actor: str, username: str, role: str) -> dict:
    """Change a user's role; their tokens and sessions end (mint new ones)."""
    return _change(conn, actor, username, "set-role", {"role": parse_role(role).value})


def set_disabled(conn: sqlite3.Connection, actor: str, username: str, disabled: bool) -> dict:
    """Disable (or enable) a user. Disabling revokes their tokens and web sessions at once:
    enabling them again does not bring those back."""
    return _change(conn, actor, username, "disable" if disabled else "enable",
                   {"disabled": disabled})


def set_email(conn: sqlite3.Connection, actor: str, username: str, email: str | None) -> dict:
    """Change where a user's notifications go (None or '' clears it), audited."""
    value = normalise_email(email, "--email") if email else None
    return _change(conn, actor, username, "update", {"email": value})


def update(conn: sqlite3.Connection, actor: str, username: str, *,
           full_name: str | None = None, email: str | None = None) -> dict:
    """Change a user's full name and/or email ('' clears one; None leaves it), in one
    audited update. Owners in an imported file are matched by full name too."""
    fields: dict[str, Any] = {}
    if full_name is not None:
        fields["full_name"] = parse_full_name(full_name)
    if email is not None:
        fields["email"] = normalise_email(email, "--email") if email.strip() else None
    if not fields:
        raise InvalidValue("update", username, "needs --full-name or --email")
    return _change(conn, actor, username, "update", fields)



def passwd(conn: sqlite3.Connection, db_file: str | Path, actor: str, username: str,
           password: str) -> None:
    """Set a user's password; the audit row says it changed, never what to."""
    check_password(password)
    with transaction(conn):
        user = get(conn, username)
        audit.record(conn, actor, "passwd", "user", user["id"], None, {"password": "changed"})
        _store_password(db_file, username, password)
