"""Web sign-in and authorisation: role rules, JWT API tokens, browser sessions, sign-in log.

Plain functions and one small class with no Datasette import, so that the web
plugin stays a thin layer and moving to Datasette 1.0's permission API is one
small change there. Secrets, hashes and revocations live in the credentials
database; the sales database is only ever read here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from salescli import credentials
from salescli.db import db_path, now, transaction
from salescli.enums import Role
from salescli.errors import Conflict, InvalidValue, NotFound
from salescli.timeutil import iso

ISSUER = "salescli"
AUDIENCE = "salescli-web"
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "role", "iat", "exp", "jti", "iss", "aud"]
LEEWAY_SECONDS = 30
MIN_SECRET_BYTES = 32
MAX_TOKEN_LIFETIME = timedelta(days=366)
SESSION_LIFETIME = timedelta(hours=12)
SESSION_PREFIX = "s-"
SERVED_DATABASE = "sales"
OPERATOR_TABLES = frozenset({"prospects"})
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_USER_FAILURES = 5
MAX_REMOTE_FAILURES = 20
LOGIN_FAILED_MESSAGE = "Sign-in failed: unknown user or wrong password."
THROTTLED_MESSAGE = "Too many failed sign-ins. Try again in a few minutes."
_JWT = jwt.PyJWT(options={"enforce_minimum_key_length": True})


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


class SigninEvent(StrEnum):
    """The ``event`` column of the sign-in log."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    LOGOUT = "logout"
    TOKEN_REFUSED = "token_refused"
    SESSION_REFUSED = "session_refused"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"


_EVERYTHING = frozenset({Action.VIEW_INSTANCE, Action.VIEW_DATABASE, Action.VIEW_TABLE,
                         Action.VIEW_QUERY, Action.EXECUTE_SQL, Action.EXPORT_CSV})
GRANTS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: _EVERYTHING | {Action.PERMISSIONS_DEBUG, Action.DEBUG_MENU},
    Role.MANAGER: _EVERYTHING | {Action.PERMISSIONS_DEBUG, Action.DEBUG_MENU},
    Role.ANALYST: _EVERYTHING,
    Role.OPERATOR: frozenset({Action.VIEW_INSTANCE, Action.VIEW_DATABASE, Action.VIEW_TABLE,
                              Action.VIEW_QUERY}),
}


class TokenRejected(Exception):
    """A bearer token or session cookie that must not authenticate; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


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


def landing_page(role: Role | None) -> str:
    """Where a browser goes after signing in: the dashboard if the role may see it."""
    if role is not None and Action.EXECUTE_SQL in GRANTS[role]:
        return "/-/dashboards/pipeline"
    return f"/{SERVED_DATABASE}"


# --- secrets and JWT --------------------------------------------------------------------


def load_secret(environ: dict[str, str] | None = None) -> bytes:
    """``SALESCLI_SECRET`` as bytes; refuses a missing or short (< 32 bytes) secret."""
    value = (os.environ if environ is None else environ).get("SALESCLI_SECRET", "")
    raw = value.encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise InvalidValue("SALESCLI_SECRET", "…" if value else "",
                           f"must be set to at least {MIN_SECRET_BYTES} bytes"
                           " (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
    return raw


def derived_secret(secret: bytes, purpose: str) -> str:
    """A separate key for ``purpose`` (e.g. Datasette cookie signing), stable across restarts."""
    return hmac.new(secret, f"salescli:{purpose}".encode(), hashlib.sha256).hexdigest()


def mint_token(secret: bytes, username: str, role: Role | str, lifetime: timedelta, *,
               issued: datetime | None = None, jti: str | None = None) -> tuple[str, dict]:
    """A signed HS256 JWT for ``username`` and its claims."""
    issued = (issued or datetime.now(UTC)).replace(microsecond=0)
    claims = {"sub": username, "role": str(Role(role)), "iat": int(issued.timestamp()),
              "exp": int((issued + lifetime).timestamp()), "jti": jti or secrets.token_hex(16),
              "iss": ISSUER, "aud": AUDIENCE}
    return _JWT.encode(claims, secret, algorithm=ALGORITHM), claims


def decode_token(secret: bytes, token: str) -> dict[str, Any]:
    """Verify a JWT: HS256 only, every required claim, issuer, audience, times with a
    small leeway, a key of at least 32 bytes. Raises TokenRejected."""
    try:
        claims = _JWT.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True,
                     "enforce_minimum_key_length": True},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenRejected("not yet valid") from None
    except jwt.InvalidAudienceError:
        raise TokenRejected("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("wrong issuer") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"missing claim {exc.claim}") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("bad signature") from None
    except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
        raise TokenRejected("algorithm not allowed") from None
    except jwt.InvalidTokenError as exc:
        raise TokenRejected(f"invalid token: {type(exc).__name__}") from None
    if not all(isinstance(claims[k], str) and claims[k] for k in ("sub", "role", "jti")):
        raise TokenRejected("malformed claims")
    return claims


# --- token records (credentials database) -------------------------------------------------


def _read_users(sales_db: str | os.PathLike) -> sqlite3.Connection:
    """A read-only connection to the sales database (never writes it)."""
    path = Path(sales_db).resolve()
    if not path.exists():
        raise NotFound("database", str(sales_db))
    conn = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True,
                           check_same_thread=False, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


def _user(conn: sqlite3.Connection, username: str) -> sqlite3.Row | None:
    return conn.execute("SELECT username, role, disabled FROM users WHERE username = ?",
                        (username,)).fetchone()


def log_event(creds: sqlite3.Connection, event: SigninEvent, username: str | None,
              remote: str | None = None, detail: dict | None = None) -> None:
    """Append one row to the sign-in log (credentials database)."""
    creds.execute("INSERT INTO signin_log(at, username, event, remote, detail)"
                  " VALUES (?, ?, ?, ?, ?)",
                  (now(), username, str(event), remote,
                   json.dumps(detail, sort_keys=True) if detail else None))


def create_token(sales_db: str | os.PathLike | None, username: str, lifetime: timedelta,
                 actor: str, *, secret: bytes | None = None) -> tuple[str, dict[str, Any]]:
    """Mint an API token for an enabled user with their current role and record it."""
    if lifetime <= timedelta(0) or lifetime > MAX_TOKEN_LIFETIME:
        raise InvalidValue("--expires", f"{lifetime.days}d" if lifetime.days else str(lifetime),
                           f"must be between 1 second and {MAX_TOKEN_LIFETIME.days} days")
    secret = secret if secret is not None else load_secret()
    sales_db = db_path(sales_db)
    users = _read_users(sales_db)
    try:
        user = _user(users, username)
    finally:
        users.close()
    if user is None:
        raise NotFound("user", username)
    if user["disabled"]:
        raise InvalidValue("user", username, "is disabled")
    token, claims = mint_token(secret, username, user["role"], lifetime)
    creds = credentials.open_credentials(sales_db)
    try:
        with transaction(creds):
            creds.execute("INSERT INTO tokens(jti, username, role, issued_at, expires_at)"
                          " VALUES (?, ?, ?, ?, ?)",
                          (claims["jti"], username, claims["role"], _ts(claims["iat"]),
                           _ts(claims["exp"])))
            log_event(creds, SigninEvent.TOKEN_CREATED, username,
                      detail={"jti": claims["jti"], "by": actor, "expires_at": _ts(claims["exp"])})
    finally:
        creds.close()
    return token, _record(jti=claims["jti"], username=username, role=claims["role"],
                          issued_at=_ts(claims["iat"]), expires_at=_ts(claims["exp"]))


def list_tokens(sales_db: str | os.PathLike | None, *,
                include_sessions: bool = False) -> list[dict[str, Any]]:
    """Issued API tokens (and browser sessions if asked), newest first, with a status."""
    creds = credentials.open_credentials(db_path(sales_db))
    try:
        sql = "SELECT * FROM tokens"
        if not include_sessions:
            sql += f" WHERE jti NOT LIKE '{SESSION_PREFIX}%'"
        rows = creds.execute(sql + " ORDER BY issued_at DESC, jti").fetchall()
    finally:
        creds.close()
    return [_record(**dict(r)) for r in rows]


def revoke_token(sales_db: str | os.PathLike | None, jti: str, actor: str) -> dict[str, Any]:
    """Revoke a token or session by its jti; it stops working at the next request."""
    creds = credentials.open_credentials(db_path(sales_db))
    try:
        with transaction(creds):
            row = creds.execute("SELECT * FROM tokens WHERE jti = ?", (jti,)).fetchone()
            if row is None:
                raise NotFound("token", jti)
            if row["revoked_at"]:
                raise Conflict(f"token {jti!r} was already revoked at {row['revoked_at']}")
            creds.execute("UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE jti = ?",
                          (now(), actor, jti))
            log_event(creds, SigninEvent.TOKEN_REVOKED, row["username"],
                      detail={"jti": jti, "by": actor})
            row = creds.execute("SELECT * FROM tokens WHERE jti = ?", (jti,)).fetchone()
    finally:
        creds.close()
    return _record(**dict(row))


def _record(jti: str, username: str, role: str, issued_at: str, expires_at: str,
            revoked_at: str | None = None, revoked_by: str | None = None) -> dict:
    status = ("revoked" if revoked_at else "expired" if expires_at <= now() else "active")
    return {"jti": jti, "username": username, "role": role, "issued_at": issued_at,
            "expires_at": expires_at, "status": status, "revoked_at": revoked_at,
            "revoked_by": revoked_by}


def _ts(epoch: int | float) -> str:
    return iso(datetime.fromtimestamp(epoch, UTC))


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


class WebAuth:
    """Checks bearer tokens, session cookies and passwords for one served database.

    Verdicts for valid credentials are cached for ``cache_seconds`` so that a busy
    server does not query SQLite per request; disabling a user, revoking a token or
    changing a password takes effect within that time.
    """

    def __init__(self, sales_db: str | os.PathLike, secret: bytes, *,
                 cache_seconds: float | None = None):
        if len(secret) < MIN_SECRET_BYTES:
            raise InvalidValue("SALESCLI_SECRET", "…", f"must be at least {MIN_SECRET_BYTES} bytes")
        self.sales_db = Path(sales_db)
        self.secret = secret
        if cache_seconds is None:
            cache_seconds = float(os.environ.get("SALESCLI_AUTH_CACHE_SECONDS", "5"))
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        credentials.open_credentials(self.sales_db).close()  # create it (mode 0600) if needed

    # connections: one pair per thread, all closed by close()
    def _conn(self, kind: str) -> sqlite3.Connection:
        conn = getattr(self._local, kind, None)
        if conn is None:
            if kind == "users":
                conn = _read_users(self.sales_db)
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

    def _cached(self, key: tuple[str, str]) -> dict[str, Any] | None:
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def _remember(self, key: tuple[str, str], actor: dict[str, Any], expires: float) -> None:
        if self.cache_seconds <= 0:
            return
        if len(self._cache) > 10_000:
            self._cache.clear()
        ttl = min(self.cache_seconds, max(0.0, expires - time.time()))
        self._cache[key] = (time.monotonic() + ttl, actor)

    def _check_user(self, username: str, role: str | None = None) -> sqlite3.Row:
        user = _user(self._conn("users"), username)
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
        if row["expires_at"] <= now():
            raise TokenRejected("expired")
        return row

    def actor_for_token(self, token: str) -> dict[str, Any]:
        """The actor for a bearer JWT, or TokenRejected."""
        key = ("token", token)
        actor = self._cached(key)
        if actor is not None:
            return actor
        claims = decode_token(self.secret, token)
        if claims["jti"].startswith(SESSION_PREFIX):
            raise TokenRejected("unknown jti")
        record = self._check_record(claims["jti"], claims["sub"])
        if record["role"] != claims["role"]:
            raise TokenRejected("role claim does not match the issued token")
        user = self._check_user(claims["sub"], claims["role"])
        actor = {"id": user["username"], "role": user["role"], "auth": "token",
                 "jti": claims["jti"]}
        self._remember(key, actor, claims["exp"])
        return actor

    def actor_for_session(self, session: Any) -> dict[str, Any]:
        """The actor for the (already signature-checked) session dict in a login cookie."""
        if not isinstance(session, dict) or not all(
                isinstance(session.get(k), str) for k in ("id", "sid", "pw")):
            raise TokenRejected("malformed session")
        key = ("session", session["sid"])
        actor = self._cached(key)
        if actor is not None and actor["id"] == session["id"]:
            return actor
        if not session["sid"].startswith(SESSION_PREFIX):
            raise TokenRejected("unknown session")
        record = self._check_record(session["sid"], session["id"])
        user = self._check_user(session["id"])
        stored = credentials.password_hash(self._conn("creds"), session["id"])
        if stored is None or not hmac.compare_digest(self._fingerprint(stored), session["pw"]):
            raise TokenRejected("password changed")
        actor = {"id": user["username"], "role": user["role"], "auth": "session",
                 "sid": session["sid"]}
        expires = datetime.fromisoformat(record["expires_at"].replace("Z", "+00:00"))
        self._remember(key, actor, expires.timestamp())
        return actor

    def _fingerprint(self, stored_hash: str) -> str:
        """Names the password a session was opened with (any change, even within the same
        second, gives a new salt and so a new fingerprint) without revealing the hash."""
        return hmac.new(self.secret, b"session-password:" + stored_hash.encode(),
                        hashlib.sha256).hexdigest()[:32]

    def _failures(self, creds: sqlite3.Connection, column: str, value: str) -> int:
        since = iso(datetime.now(UTC) - THROTTLE_WINDOW)
        return creds.execute(f"SELECT count(*) FROM signin_log WHERE {column} = ? AND at >= ?"
                             " AND event = ?", (value, since, SigninEvent.LOGIN_FAILED.value)
                             ).fetchone()[0]

    def login(self, username: str, password: str, remote: str | None) -> LoginResult:
        """Check a password (throttled after repeated failures) and open a session."""
        username = (username or "").strip()[:64]
        creds = self._conn("creds")
        if (username and self._failures(creds, "username", username) >= MAX_USER_FAILURES) or (
                remote and self._failures(creds, "remote", remote) >= MAX_REMOTE_FAILURES):
            self.log(SigninEvent.LOGIN_THROTTLED, username or None, remote)
            return LoginResult(False, 429, THROTTLED_MESSAGE)
        password = password or ""
        stored = credentials.password_hash(creds, username) if username else None
        good = credentials.verify_password(password[:1024], stored) and len(password) <= 1024
        user = _user(self._conn("users"), username) if good else None
        if user is None or user["disabled"]:
            reason = "disabled" if user is not None else "bad credentials"
            self.log(SigninEvent.LOGIN_FAILED, username or None, remote, {"reason": reason})
            return LoginResult(False, 401, LOGIN_FAILED_MESSAGE)
        issued = datetime.now(UTC).replace(microsecond=0)
        expires = issued + SESSION_LIFETIME
        sid = SESSION_PREFIX + secrets.token_hex(16)
        with transaction(creds):
            creds.execute("INSERT INTO tokens(jti, username, role, issued_at, expires_at)"
                          " VALUES (?, ?, ?, ?, ?)",
                          (sid, username, user["role"], iso(issued), iso(expires)))
            log_event(creds, SigninEvent.LOGIN, username, remote, {"sid": sid})
        session = {"id": username, "sid": sid, "pw": self._fingerprint(stored)}
        return LoginResult(True, 200, session=session,
                           expires=int(expires.timestamp()), role=Role(user["role"]))

    def logout(self, actor: dict[str, Any] | None, remote: str | None) -> None:
        """End a browser session: revoke its record so a copied cookie stops working."""
        if not actor or actor.get("auth") != "session":
            return
        creds = self._conn("creds")
        with transaction(creds):
            creds.execute("UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE jti = ?"
                          " AND revoked_at IS NULL", (now(), actor["id"], actor["sid"]))
            log_event(creds, SigninEvent.LOGOUT, actor["id"], remote, {"sid": actor["sid"]})
        self._cache.pop(("session", actor["sid"]), None)

    def log(self, event: SigninEvent, username: str | None, remote: str | None,
            detail: dict | None = None) -> None:
        """Write one sign-in log row (call from a worker thread: it may wait for a lock)."""
        try:
            log_event(self._conn("creds"), event, username, remote, detail)
        except sqlite3.Error as exc:  # the log must never take the server down
            import logging

            logging.getLogger("salescli.web").warning("sign-in log write failed: %s", exc)


def unverified_subject(token: str) -> str | None:
    """The ``sub`` of a token without trusting it, for the sign-in log only."""
    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except Exception:
        return None
    return sub[:64] if isinstance(sub, str) else None

