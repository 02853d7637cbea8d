"""Owners named in another CRM's export, matched to salescli users by username, email or
full name, ignoring case and accents ("Lucía Fernández" is "lucia fernandez").

``create`` makes the missing ones operators without a password (``--create-owners``). It
writes the users row itself, audited, in the import's transaction: the dashboard's user
module (``salescli.web.users``) sits in a higher layer and also stores passwords, which an
imported owner does not have yet (``salescli users passwd`` gives one later).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable

from salescli.core import audit
from salescli.core.enums import Role
from salescli.core.timeutil import now
from salescli.pipeline.crm_profiles import fold

_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")  # as salescli.web.users accepts


def known(conn: sqlite3.Connection) -> dict[str, str]:
    """Every folded username, email and full name of a user → that username."""
    out: dict[str, str] = {}
    rows = conn.execute("SELECT username, email, full_name FROM users ORDER BY id DESC"
                        ).fetchall()
    for row in rows:  # full names, then emails, then usernames: a username always wins
        for value in reversed(tuple(row)[1:]):
            if value:
                out[fold(value)] = row[0]
    for row in rows:
        out[fold(row[0])] = row[0]
    return out


def match(conn: sqlite3.Connection, names: Iterable[str],
          explicit: dict[str, str] | None = None) -> dict[str, str | None]:
    """Owner in the file → username (None: no user); ``explicit`` (owner → username, from
    the profile, the plan or --owner-map) wins over the users' names."""
    users = known(conn)
    chosen = {fold(k): v for k, v in (explicit or {}).items()}
    out: dict[str, str | None] = {}
    for name in names:
        target = chosen.get(fold(name))
        if target:
            out[name] = users.get(fold(target))
        else:
            out[name] = users.get(fold(name))
    return out


def username_for(name: str, taken: Iterable[str] = ()) -> str:
    """A username for an owner's name: its address if it is one, else the name in ASCII
    lower case with dots ("Lucía Fernández" → "lucia.fernandez"), made unique."""
    text = fold(name)
    base = text if "@" in text and _USERNAME.match(text) else \
        ".".join(re.findall(r"[a-z0-9]+", text.encode("ascii", "ignore").decode())) or "owner"
    base = base[:60]
    used = {fold(t) for t in taken}
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}{n}"
    return candidate


def create(conn: sqlite3.Connection, actor: str, names: Iterable[str], *,
           at: str | None = None) -> dict[str, str]:
    """Create an operator without a password for each owner name, audited; name →
    username. The caller holds the transaction (the import's)."""
    ts = at or now()
    taken = {r[0] for r in conn.execute("SELECT username FROM users")}
    out: dict[str, str] = {}
    for name in names:
        username = username_for(name, taken)
        taken.add(username)
        email = fold(name) if "@" in name and username == fold(name) else None
        cols, values = ["username", "email", "role", "created_at", "updated_at"], \
            [username, email, Role.OPERATOR.value, ts, ts]
        after = {"username": username, "email": email, "role": Role.OPERATOR.value,
                 "disabled": False, "created_by": "import --create-owners"}
        if email is None:
            cols.append("full_name")
            values.append(name.strip())
            after["full_name"] = name.strip()
        cur = conn.execute(f"INSERT INTO users({', '.join(cols)}) VALUES "
                           f"({', '.join('?' * len(cols))})", values)
        audit.record(conn, actor, "create", "user", cur.lastrowid, None, after, at=ts)
        out[name] = username
    return out
