"""Web sign-in and authorisation: role rules, secrets, browser sessions, sign-in checks.

Plain functions and one small class with no Datasette import, so that the web
plugin stays a thin layer and moving to Datasette 1.0's permission API is one
small change there. Secrets, hashes and revocations live in the credentials
database; the sales database is only ever read here. JWT API tokens live in
``salescli.web.tokens``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from salescli.core.db import transaction
from salescli.core.enums import Role
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso, now
from salescli.web import credentials, throttle
from salescli.web.tokens import (
    MIN_SECRET_BYTES,
    SESSION_PREFIX,
    SigninEvent,
    TokenRejected,
    decode_token,
    find_user,
    log_event,
    read_users,
)

SESSION_LIFETIME = timedelta(hours=12)
SERVED_DATABASE = "sales"
OPERATOR_TABLES = frozenset({"prospects"})
LOGIN_FAILED_MESSAGE = "Sign-in failed: unknown user or wrong password."
THROTTLED_MESSAGE = "Too many failed sign-ins. Try again in a few minutes."


class Action(StrEnum):
    """What a request wants to do: Datasette 0.65's permission names plus CSV export."""

    VIEW_INSTANCE = "view-instance"
    VIEW_DATABASE = "view-database"
    DOWNLOAD_DATABASE = "view-database-download"
    VIEW_TABLE = "view-table"
    VIEW_QUERY = "view-query"
    EXECUTE_SQL = "execute-sql"
    PERMISSIONS_DEBUG = "permissions-debug"
    DEBUG_MENU = "debug-menu"
    EXPORT_CSV = "salescli-export-csv"


_EVERYTHING = frozenset({Action.VIEW_INSTANCE, Action.VIEW_DATABASE, Action.VIEW_TABLE,
                         Action.VIEW_QUERY, Action.EXECUTE_SQL, Action.EXPORT_CSV})
GRANTS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: _EVERYTHING | {Action.PERMISSIONS_DEBUG, Action.DEBUG_MENU},
    Role.MANAGER: _EVERYTHING | {Action.PERMISSIONS_DEBUG, Action.DEBUG_MENU},
    Role.ANALYST: _EVERYTHING,
    Role.OPERATOR: frozenset({Action.VIEW_INSTANCE, Action.VIEW_DATABASE, Action.VIEW_TABLE,
                              Action.VIEW_QUERY}),
}


# --- roles → decisions -----------------------------------------------------------------


def actor_role(actor: dict[str, Any] | None) -> Role | None:
    """The role of an actor this module authenticated, else None (anonymous or foreign)."""
    if not isinstance(actor, dict) or actor.get("auth") not in ("token", "session"):
        return None
    try:
        return Role(actor.get("role"))
    except ValueError:
        return None


def is_allowed(actor: dict[str, Any] | None, action: str, resource: Any = None) -> bool:
    """Whether ``actor`` may do ``action`` on ``resource`` (a database name or a
    (database, table-or-query) pair). Everything requires a signed-in actor."""
    role = actor_role(actor)
    if role is None:
        return False
    try:
        action = Action(action)
    except ValueError:
        return False
    if action not in GRANTS[role]:
        return False
    database, name = (resource if isinstance(resource, tuple | list) else (resource, None))
    if action in (Action.VIEW_DATABASE, Action.EXECUTE_SQL, Action.VIEW_TABLE,
                  Action.VIEW_QUERY) and database != SERVED_DATABASE:
        return False
    if action == Action.VIEW_TABLE and role == Role.OPERATOR:
        return name in OPERATOR_TABLES
    return True


ADMIN_PAGES = frozenset({"databases", "metadata", "versions", "plugins", "settings",
                         "threads", "config"})


def is_admin_page(path: str) -> bool:
    """Datasette's introspection pages (``/-/databases.json`` shows the file's path on disk,
    ``/-/versions``, ``/-/plugins``, …), open to admins only."""
    path = urllib.parse.unquote(path).rstrip("/").lower()
    if not path.startswith("/-/"):
        return False
    return path[3:].removesuffix(".json") in ADMIN_PAGES


def landing_page(role: Role | None) -> str:
    """Where a browser goes after signing in: the dashboard if the role may see it."""
    if role is not None and Action.EXECUTE_SQL in GRANTS[role]:
        return "/-/dashboards/pipeline"
    return f"/{SERVED_DATABASE}"


# --- secrets ----------------------------------------------------------------------------


def derived_secret(secret: bytes) -> str:
    """Datasette's cookie-signing key: derived from the secret (not the secret itself),
    stable across restarts."""
    # Any label gives a working key of its own, so changing it is not behaviour a test can
    # see (it would sign everyone out once, at the upgrade): pragma.
    return hmac.new(secret, b"salescli:datasette-signing",  # pragma: no mutate
                    hashlib.sha256).hexdigest()


# --- request-time checks (used by the web server) -------------------------------------


@dataclass
class LoginResult:
    """Outcome of a sign-in attempt: a session to put in a cookie, or a status and message."""

    ok: bool
    status: int
    message: str = ""
    session: dict[str, Any] = field(default_factory=dict)
    expires: int = 0
    role: Role | None = None
    retry_after: int = 0


class WebAuth:
    """Checks bearer tokens, session cookies and passwords for one served database.

    Every request is checked against the databases: no cache, so that ``tokens revoke``,
    ``users disable`` and ``users set-role`` take effect on the very next request (the
    check costs tens of microseconds against a page's tens of milliseconds, see
    benchmarks/bench_web.py). ``clock`` (an aware UTC datetime) is for tests.
    """

    def __init__(self, sales_db: str | os.PathLike, secret: bytes, *,
                 clock: Callable[[], datetime] | None = None):
        if len(secret) < MIN_SECRET_BYTES:
            raise InvalidValue("SALESCLI_SECRET", "…", f"must be at least {MIN_SECRET_BYTES} bytes")
        self.sales_db = Path(sales_db)
        self.secret = secret
        self.clock = clock or (lambda: datetime.now(UTC))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        credentials.open_credentials(self.sales_db).close()  # create it (mode 0600) if needed

    # connections: one pair per thread, all closed by close()
    def _conn(self, kind: str) -> sqlite3.Connection:
        conn = getattr(self._local, kind, None)
        if conn is None:
            if kind == "users":
                conn = read_users(self.sales_db)
            else:
                conn = credentials.open_credentials(self.sales_db)
            setattr(self._local, kind, conn)
            with self._lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this object opened."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def _check_user(self, username: str, role: str | None = None) -> sqlite3.Row:
        user = find_user(self._conn("users"), username)
        if user is None:
            raise TokenRejected("unknown user")
        if user["disabled"]:
            raise TokenRejected("user disabled")
        if role is not None and user["role"] != role:
            raise TokenRejected("role changed since issue")
        return user

    def _check_record(self, jti: str, username: str) -> sqlite3.Row:
        row = self._conn("creds").execute(
            "SELECT username, role, expires_at, revoked_at FROM tokens WHERE jti = ?",
            (jti,)).fetchone()
        if row is None or row["username"] != username:
            raise TokenRejected("unknown jti")
        if row["revoked_at"]:
            raise TokenRejected("revoked")
        if row["expires_at"] <= iso(self.clock()):
            raise TokenRejected("expired")
        return row

    def actor_for_token(self, token: str) -> dict[str, Any]:
        """The actor for a bearer JWT, or TokenRejected."""
        claims = decode_token(self.secret, token)
        if claims["jti"].startswith(SESSION_PREFIX):
            raise TokenRejected("unknown jti")
        record = self._check_record(claims["jti"], claims["sub"])
        if record["role"] != claims["role"]:  # pragma: no mutate: sqlite3.Row ignores case
            raise TokenRejected("role claim does not match the issued token")
        user = self._check_user(claims["sub"], claims["role"])
        # The name as signed (the users row matched it exactly); sqlite3.Row keys ignore case.
        return {"id": claims["sub"], "role": user["role"], "auth": "token",
                "jti": claims["jti"]}

    def actor_for_session(self, session: Any) -> dict[str, Any]:
        """The actor for the (already signature-checked) session dict in a login cookie."""
        if not isinstance(session, dict) or not all(
                isinstance(session.get(k), str) for k in ("id", "sid", "pw")):
            raise TokenRejected("malformed session")
        if not session["sid"].startswith(SESSION_PREFIX):
            raise TokenRejected("unknown session")
        record = self._check_record(session["sid"], session["id"])
        user = self._check_user(session["id"], record["role"])
        stored = credentials.password_hash(self._conn("creds"), session["id"])
        if stored is None or not hmac.compare_digest(self._fingerprint(stored), session["pw"]):
            raise TokenRejected("password changed")
        return {"id": session["id"], "role": user["role"], "auth": "session",
                "sid": session["sid"]}

    def _fingerprint(self, stored_hash: str) -> str:
        """Names the password a session was opened with (any change, even within the same
        second, gives a new salt and so a new fingerprint) without revealing the hash."""
        return hmac.new(self.secret, b"session-password:" + stored_hash.encode(),
                        hashlib.sha256).hexdigest()[:32]

    def login(self, username: str, password: str, remote: str | None) -> LoginResult:
        """Check a password (throttled per user and address, see ``throttle``) and open
        a session."""
        username = (username or "").strip()[:64]
        creds = self._conn("creds")
        at = self.clock()
        # The check and the attempt's log row in one write transaction: a try counts from
        # the moment it is let in (as a failure until the password proves right), so
        # guesses sent in parallel get no more tries than guesses sent one by one.
        with transaction(creds):
            verdict = throttle.check(creds, username, remote, at)
            if verdict.allowed:
                attempt = creds.execute(
                    "INSERT INTO signin_log(at, username, event, remote, detail)"
                    " VALUES (?, ?, ?, ?, ?)", (iso(at), username or None,
                                                SigninEvent.LOGIN_FAILED.value, remote,
                                                '{"reason": "checking"}')).lastrowid
        if not verdict.allowed:
            self.log(SigninEvent.LOGIN_THROTTLED, username or None, remote,
                     {"by": verdict.key, "retry_after": verdict.retry_after}, at=at)
            return LoginResult(False, 429, THROTTLED_MESSAGE, retry_after=verdict.retry_after)
        password = password or ""
        stored = credentials.password_hash(creds, username) if username else None
        good = credentials.verify_password(password[:1024], stored) and len(password) <= 1024
        user = find_user(self._conn("users"), username) if good else None
        if user is None or user["disabled"]:
            reason = "disabled" if user is not None else "bad credentials"
            self._settle(attempt, SigninEvent.LOGIN_FAILED, {"reason": reason})
            return LoginResult(False, 401, LOGIN_FAILED_MESSAGE)
        issued = at.replace(microsecond=0)
        expires = issued + SESSION_LIFETIME
        sid = SESSION_PREFIX + secrets.token_hex(16)
        with transaction(creds):
            creds.execute("INSERT INTO tokens(jti, username, role, issued_at, expires_at)"
                          " VALUES (?, ?, ?, ?, ?)",
                          (sid, username, user["role"], iso(issued), iso(expires)))
            self._settle(attempt, SigninEvent.LOGIN, {"sid": sid})
        session = {"id": username, "sid": sid, "pw": self._fingerprint(stored)}
        return LoginResult(True, 200, session=session,
                           expires=int(expires.timestamp()), role=Role(user["role"]))

    def _settle(self, attempt: int, event: SigninEvent, detail: dict) -> None:
        """Give a sign-in attempt's log row its outcome."""
        with transaction(self._conn("creds")) as creds:
            creds.execute("UPDATE signin_log SET event = ?, detail = ? WHERE id = ?",
                          (event.value, json.dumps(detail, sort_keys=True), attempt))

    def logout(self, actor: dict[str, Any] | None, remote: str | None) -> None:
        """End a browser session: revoke its record so a copied cookie stops working."""
        if not actor or actor.get("auth") != "session":
            return
        creds = self._conn("creds")
        with transaction(creds):
            creds.execute("UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE jti = ?"
                          " AND revoked_at IS NULL", (now(), actor["id"], actor["sid"]))
            log_event(creds, SigninEvent.LOGOUT, actor["id"], remote, {"sid": actor["sid"]})

    def log(self, event: SigninEvent, username: str | None, remote: str | None,
            detail: dict | None = None, *, at: datetime | None = None) -> None:
        """Write one sign-in log row (call from a worker thread: it may wait for a lock)."""
        try:
            log_event(self._conn("creds"), event, username, remote, detail,
                      at=iso(at or self.clock()))
        except sqlite3.Error as exc:  # the log must never take the server down
            import logging

            logging.getLogger("salescli.web").warning("sign-in log write failed: %s", exc)
