"""JWT API tokens: minting and verifying them, and their records in the credentials database.

Kept apart from ``salescli.web.auth`` so that module keeps to
roles, web sessions and sign-in; this one never imports ``salescli.web.auth``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import urllib.parse
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from salescli.core.db import db_path, transaction
from salescli.core.enums import Role
from salescli.core.errors import Conflict, InvalidValue, NotFound
from salescli.core.timeutil import iso, now
from salescli.web import credentials

ISSUER = "salescli"
AUDIENCE = "salescli-web"
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "role", "iat", "exp", "jti", "iss", "aud"]
LEEWAY_SECONDS = 30
MIN_SECRET_BYTES = 32
MAX_TOKEN_LIFETIME = timedelta(days=366)
SESSION_PREFIX = "s-"
JWT = jwt.PyJWT(options={"enforce_minimum_key_length": True})


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


class TokenRejected(Exception):
    """A bearer token or session cookie that must not authenticate; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


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


def mint_token(secret: bytes, username: str, role: Role | str, lifetime: timedelta, *,
               issued: datetime | None = None) -> tuple[str, dict]:
    """A signed HS256 JWT for ``username`` and its claims."""
    issued = (issued or datetime.now(UTC)).replace(microsecond=0)  # pragma: no mutate
    # Any unguessable id will do (16 bytes, as 'tokens list' shows): its length is not
    # behaviour, hence the pragma.
    jti = secrets.token_hex(16)  # pragma: no mutate
    claims = {"sub": username, "role": str(Role(role)), "iat": int(issued.timestamp()),
              "exp": int((issued + lifetime).timestamp()), "jti": jti,
              "iss": ISSUER, "aud": AUDIENCE}
    return JWT.encode(claims, secret, algorithm=ALGORITHM), claims


def decode_token(secret: bytes, token: str) -> dict[str, Any]:
    """Verify a JWT: HS256 only, every required claim, issuer, audience, times with a
    small leeway, a key of at least 32 bytes. Raises TokenRejected."""
    try:
        claims = JWT.decode(
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
    # PyJWT accepts a numeric string or a float for the times; we mint whole numbers only.
    if not all(type(claims[k]) is int and 0 <= claims[k] < 2**40 for k in ("iat", "exp")) or (
            "nbf" in claims and type(claims["nbf"]) is not int):
        raise TokenRejected("malformed time claims")
    return claims


# --- token records (credentials database) -------------------------------------------------


def read_users(sales_db: str | os.PathLike) -> sqlite3.Connection:
    """A read-only connection to the sales database, for its users table (never writes it)."""
    path = Path(sales_db).resolve()
    if not path.exists():
        raise NotFound("database", str(sales_db))
    conn = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True,
                           check_same_thread=False, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


def find_user(conn: sqlite3.Connection, username: str) -> sqlite3.Row | None:
    """The user's name, role and disabled flag, or None when there is no such user."""
    return conn.execute("SELECT username, role, disabled FROM users WHERE username = ?",
                        (username,)).fetchone()


def log_event(creds: sqlite3.Connection, event: SigninEvent, username: str | None,
              remote: str | None = None, detail: dict | None = None, *,
              at: str | None = None) -> None:
    """Append one row to the sign-in log (credentials database), at ``at`` or now."""
    creds.execute("INSERT INTO signin_log(at, username, event, remote, detail)"
                  " VALUES (?, ?, ?, ?, ?)",
                  (at or now(), username, str(event), remote,
                   json.dumps(detail, sort_keys=True) if detail else None))


def create_token(sales_db: str | os.PathLike | None, username: str, lifetime: timedelta,
                 actor: str, *, secret: bytes | None = None) -> tuple[str, dict[str, Any]]:
    """Mint an API token for an enabled user with their current role and record it."""
    if lifetime <= timedelta(0) or lifetime > MAX_TOKEN_LIFETIME:
        raise InvalidValue("--expires", f"{lifetime.days}d" if lifetime.days else str(lifetime),
                           f"must be between 1 second and {MAX_TOKEN_LIFETIME.days} days")
    secret = secret if secret is not None else load_secret()
    sales_db = db_path(sales_db)
    users = read_users(sales_db)
    try:
        user = find_user(users, username)
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
                          (claims["jti"], username, claims["role"], timestamp(claims["iat"]),
                           timestamp(claims["exp"])))
            log_event(creds, SigninEvent.TOKEN_CREATED, username,
                      detail={"jti": claims["jti"], "by": actor,
                              "expires_at": timestamp(claims["exp"])})
    finally:
        creds.close()
    return token, token_record(jti=claims["jti"], username=username, role=claims["role"],
                          issued_at=timestamp(claims["iat"]), expires_at=timestamp(claims["exp"]))


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
    return [token_record(**dict(r)) for r in rows]


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
    return token_record(**dict(row))


def token_record(jti: str, username: str, role: str, issued_at: str, expires_at: str,
            revoked_at: str | None = None, revoked_by: str | None = None) -> dict:
    """A token's row as the CLI and API show it, with its status worked out now."""
    status = ("revoked" if revoked_at else "expired" if expires_at <= now() else "active")
    return {"jti": jti, "username": username, "role": role, "issued_at": issued_at,
            "expires_at": expires_at, "status": status, "revoked_at": revoked_at,
            "revoked_by": revoked_by}


def timestamp(epoch: int | float) -> str:
    """A JWT time claim (seconds since the epoch) as ISO-8601 UTC."""
    return iso(datetime.fromtimestamp(epoch, UTC))


def unverified_subject(token: str) -> str | None:
    """The ``sub`` of a token without trusting it, for the sign-in log only."""
    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except Exception:
        return None
    return sub[:64] if isinstance(sub, str) else None
