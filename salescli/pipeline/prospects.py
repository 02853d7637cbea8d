"""Prospects: the people being sold to. Add, find, list, update, archive, merge, forget.

Every function that writes takes the acting user and records an activity in the
same transaction. Functions return plain dicts in the public JSON shape.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from salescli.core import audit
from salescli.core.currency import default_currency, parse_currency
from salescli.core.db import row_id, transaction
from salescli.core.enums import EmailStatus
from salescli.core.errors import Conflict, InvalidValue, NotFound
from salescli.core.timeutil import now
from salescli.pipeline import stages

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\x00-\x1f\x7f]+@" + _LABEL + r"(?:\." + _LABEL + r")+$")

# Columns a person may set directly, with the public field name.
EDITABLE = ("email", "name", "company", "owner", "value", "currency", "tags", "source",
            "notes", "email_status")
PUBLIC_FIELDS = ("id", "email", "name", "company", "owner", "stage", "email_status",
                 "bounce_reason", "value", "currency", "tags", "source", "notes",
                 "stage_entered_at", "last_contacted_at", "last_reply_at",
                 "last_interaction_at", "created_at", "updated_at", "archived_at")
SELECT = ("SELECT p.*, s.name AS stage FROM prospects p JOIN stages s ON s.id = p.stage_id")
SORTS = {
    "id": "p.id", "email": "p.email", "name": "p.name COLLATE NOCASE",
    "company": "p.company COLLATE NOCASE", "owner": "p.owner", "stage": "s.position",
    "value": "p.value", "created": "p.created_at", "updated": "p.updated_at",
    "last-contacted": "p.last_contacted_at", "last-interaction": "p.last_interaction_at",
}


def normalise_email(value: Any, field: str = "email") -> str:
    """Lower-case, trimmed address, or InvalidValue naming the field."""
    text = str(value or "").strip().lower()
    if text.startswith("mailto:"):
        text = text[7:]
    if len(text) > 254 or not _EMAIL.match(text) or ".." in text:
        raise InvalidValue(field, value, "is not a valid email address")
    return text


# A comma in a value is only ever a thousands separator here (1,250 or 1,250.50): any
# other comma may be a decimal comma (980,50; 12.500,00), and reading it either way could
# be silently wrong. A plan decides a column's style from all of its values.
_US_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")


def parse_value(value: Any, field: str = "value") -> float | None:
    """A deal value: empty → None, else a non-negative number (1250, 1250.5, 1,250.50).
    A comma that is not a thousands separator is an error, never read as one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and "," in value and not _US_GROUPED.match(value.strip()):
        raise InvalidValue(field, value, "is not a number in the 1,250.50 style (a decimal "
                           "comma? an import by a plan reads the column's style: add "
                           "--write-mapping FILE)")
    try:
        number = float(str(value).strip().replace(",", "")) if isinstance(value, str) \
            else float(value)
    except (TypeError, ValueError):
        raise InvalidValue(field, value, "is not a number") from None
    if number != number or number < 0 or number in (float("inf"),):
        raise InvalidValue(field, value, "must be a number ≥ 0")
    return number


def parse_tags(value: Any, field: str = "tags") -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, unique, order kept."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise InvalidValue(field, value, "is not a JSON array or comma list") from None
        else:
            value = text.split(",")
    if not isinstance(value, list | tuple):
        raise InvalidValue(field, value, "must be a list of tags")
    tags: list[str] = []
    seen: set[str] = set()
    for tag in value:
        tag = str(tag).strip()
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            if len(tag) > 64:
                raise InvalidValue("tag", tag, "is longer than 64 characters")
            tags.append(tag)
    return tags


def parse_email_status(value: Any) -> str:
    try:
        return EmailStatus(str(value).strip()).value
    except ValueError:
        raise InvalidValue("email_status", value,
                           "must be one of " + ", ".join(EmailStatus)) from None


def public(row: sqlite3.Row | dict, currency: str | None = None) -> dict[str, Any]:
    """A prospect row in the public shape: stage by name, tags as a list, the currency as
    a code (NULL in the table is ``currency``, else the default: SALESCLI_CURRENCY)."""
    d = dict(row)
    out = {k: d.get(k) for k in PUBLIC_FIELDS}
    out["tags"] = json.loads(d["tags"]) if d.get("tags") else []
    out["currency"] = d.get("currency") or currency or default_currency()
    if "other_emails" in d:  # asked for by list_prospects(addresses=True)
        text = d["other_emails"]
        out["other_emails"] = json.loads(text) if text and text != "[]" else []
    return out


def _snapshot(p: dict[str, Any]) -> dict[str, Any]:
    """The audited fields of a prospect (everything a person can see or set)."""
    return {k: p[k] for k in ("email", "name", "company", "owner", "stage", "email_status",
                              "bounce_reason", "value", "currency", "tags", "source", "notes",
                              "archived_at")}


def resolve(conn: sqlite3.Connection, key: Any) -> dict[str, Any]:
    """Find a prospect by id or email, primary or other (archived ones too)."""
    text = str(key).strip()
    if text.isdigit():  # an id (one too big for SQLite, or not ASCII, is NULL: no one's)
        row = conn.execute(SELECT + " WHERE p.id = ?", (row_id(text),)).fetchone()
    else:
        row = conn.execute(SELECT + " WHERE p.email = ?", (text.lower(),)).fetchone()
        if row is None:
            row = conn.execute(SELECT + " WHERE p.id = (SELECT prospect_id FROM"
                               " prospect_addresses WHERE email = ?)", (text.lower(),)).fetchone()
    if row is None:
        raise NotFound("prospect", key)
    return public(row)


def find_by_email(conn: sqlite3.Connection, email: str) -> dict[str, Any] | None:
    """The prospect with this (already normalised) address, or None."""
    row = conn.execute(SELECT + " WHERE p.email = ?", (email,)).fetchone()
    return public(row) if row else None


def other_owner(conn: sqlite3.Connection, email: str) -> int | None:
    """The prospect that has ``email`` (normalised) as an other address, or None: such an
    address cannot become a primary one (salescli.pipeline.addresses keeps the rule)."""
    row = conn.execute("SELECT prospect_id FROM prospect_addresses WHERE email = ?",
                       (email,)).fetchone()
    return row[0] if row else None


def add(conn: sqlite3.Connection, actor: str, email: str, *, name: str | None = None,
        company: str | None = None, stage: str | None = None, owner: str | None = None,
        value: Any = None, tags: Any = None, source: str | None = None,
        notes: str | None = None, at: str | None = None,
        currency: str | None = None) -> dict[str, Any]:
    """Create a prospect in ``stage`` (default: the first open stage) and audit it.
    ``currency`` None or '' is the default currency (stored as NULL)."""
    email = normalise_email(email)
    value = parse_value(value)
    tags = parse_tags(tags)
    code = parse_currency(currency) if _clean(currency) else None
    with transaction(conn):
        target = stages.get_stage(conn, stage) if stage else stages.first_stage(conn)
        if find_by_email(conn, email):
            raise Conflict(f"prospect {email!r} already exists")
        if (owner_id := other_owner(conn, email)) is not None:
            raise Conflict(f"address {email!r} is an other address of prospect #{owner_id}")
        ts = at or now()
        cur = conn.execute(
            "INSERT INTO prospects(email, name, company, owner, stage_id, value, currency, tags,"
            " source, notes, stage_entered_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (email, _clean(name), _clean(company), _clean(owner), target["id"], value, code,
             json.dumps(tags), _clean(source), _clean(notes), ts, ts, ts),
        )
        pid = cur.lastrowid
        conn.execute(
            "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor,"
            " owner, value, note) VALUES (?, NULL, ?, ?, ?, ?, ?, 'created')",
            (pid, target["id"], ts, actor, _clean(owner), value),
        )
        p = resolve(conn, pid)
        stored = {**_snapshot(p), "currency": code}  # the default is not written down
        audit.record(conn, actor, "create", "prospect", pid, None,
                     {k: v for k, v in stored.items() if v not in (None, [])},
                     prospect_id=pid)

    return p


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def update(conn: sqlite3.Connection, actor: str, key: Any, changes: dict[str, Any], *,
           add_tags: Iterable[str] = (), remove_tags: Iterable[str] = ()) -> dict[str, Any]:
    """Change fields of a prospect; ``None`` in ``changes`` clears a field.

    Setting ``email_status`` back to ``ok`` clears the bounce reason (the way to
    reset a hard bounce).
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidValue("field", field, "cannot be changed (fields: " +
                           ", ".join(EDITABLE) + ")")
    values: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "email":
            values["email"] = normalise_email(value)
        elif field == "value":
            values["value"] = parse_value(value)
        elif field == "tags":
            values["tags"] = parse_tags(value)
        elif field == "email_status":
            values["email_status"] = parse_email_status(value)
        elif field == "currency":
            values["currency"] = parse_currency(value) if _clean(value) else None
        else:
            values[field] = _clean(value)
    with transaction(conn):
        before = resolve(conn, key)
        tags = list(values.get("tags", before["tags"]))
        for tag in parse_tags(list(add_tags)):
            if tag.lower() not in {t.lower() for t in tags}:
                tags.append(tag)
        drop = {t.lower() for t in parse_tags(list(remove_tags))}
        tags = [t for t in tags if t.lower() not in drop]
        if tags != before["tags"]:
            values["tags"] = tags
        if values.get("email_status") == EmailStatus.OK:
            values["bounce_reason"] = None
        if "email" in values and values["email"] != before["email"]:
            if find_by_email(conn, values["email"]):
                raise Conflict(f"prospect {values['email']!r} already exists")
            owner_id = other_owner(conn, values["email"])
            if owner_id is not None and owner_id != before["id"]:
                raise Conflict(f"address {values['email']!r} is an other address of"
                               f" prospect #{owner_id}")
        changed = {k: v for k, v in values.items() if before.get(k) != v}
        if "currency" in changed and changed["currency"] is None \
                and before["currency"] == default_currency():
            del changed["currency"]  # '' on a prospect already in the default: nothing to do
        if not changed:
            return before
        cols = ", ".join(f"{k} = ?" for k in changed)
        params = [json.dumps(v) if k == "tags" else v for k, v in changed.items()]
        if "email" in changed:  # one of its own other addresses becomes the primary one
            conn.execute("DELETE FROM prospect_addresses WHERE email = ?", (changed["email"],))
        conn.execute(f"UPDATE prospects SET {cols}, updated_at = ? WHERE id = ?",
                     [*params, now(), before["id"]])

        after = resolve(conn, before["id"])
        b, a = audit.diff(_snapshot(before), _snapshot(after))
        audit.record(conn, actor, "update", "prospect", before["id"], b, a,
                     prospect_id=before["id"])
    return after


def set_fields(conn: sqlite3.Connection, actor: str, prospect_id: int,
               fields: dict[str, Any], action: str = "update") -> dict[str, Any]:
    """Set internal fields (email status, bounce reason, last reply) with an audit row.

    For library callers such as the mail monitor; no validation of free text.
    """
    allowed = {"email_status", "bounce_reason", "last_reply_at", "owner"}
    if set(fields) - allowed:
        raise ValueError(f"set_fields cannot set {sorted(set(fields) - allowed)}")
    with transaction(conn):
        before = dict(conn.execute(SELECT + " WHERE p.id = ?", (prospect_id,)).fetchone())
        changed = {k: v for k, v in fields.items() if before.get(k) != v}
        if not changed:
            return public(before)
        write_fields(conn, actor, prospect_id, {k: before.get(k) for k in changed}, changed,
                     action)
        return resolve(conn, prospect_id)


def write_fields(conn: sqlite3.Connection, actor: str, prospect_id: int,
                 before: dict[str, Any], changed: dict[str, Any], action: str = "update") -> None:
    """Write already-validated field changes and their activity, inside the caller's
    transaction (no savepoint, no re-read: for bulk callers such as the mail rules)."""
    cols = ", ".join(f"{k} = ?" for k in changed)
    conn.execute(f"UPDATE prospects SET {cols}, updated_at = ? WHERE id = ?",
                 [*changed.values(), now(), prospect_id])
    audit.record(conn, actor, action, "prospect", prospect_id, before, changed,
                 prospect_id=prospect_id)


def list_prospects(conn: sqlite3.Connection, *, stage: str | None = None,
                   owner: str | None = None, tag: str | None = None,
                   email_status: str | None = None, search: str | None = None,
                   stale_days: int | None = None, sort: str = "id",
                   limit: int | None = None, offset: int = 0, archived: bool = False,
                   addresses: bool = False) -> Iterator[dict[str, Any]]:
    """Stream prospects matching every filter given (archived ones only if asked); with
    ``addresses`` each carries its ``other_emails`` (a list)."""
    where, params = [], []
    where.append("p.archived_at IS NOT NULL" if archived else "p.archived_at IS NULL")
    if stage:
        where.append("p.stage_id = ?")
        params.append(stages.get_stage(conn, stage)["id"])
    if owner:
        where.append("p.owner = ?")
        params.append(owner)
    if tag:
        where.append("p.id IN (SELECT prospect_id FROM prospect_tags WHERE tag = ?)")
        params.append(tag.strip())
    if email_status:
        where.append("p.email_status = ?")
        params.append(parse_email_status(email_status))
    if search:
        where.append("p.id IN (SELECT rowid FROM prospects_fts"  # pragma: no mutate (case)
                     " WHERE prospects_fts MATCH ?)")
        params.append(fts_query(search))
    if stale_days is not None:
        if stale_days < 0:
            raise InvalidValue("--stale", stale_days, "must be a number of days ≥ 0")
        where.append("coalesce(p.last_interaction_at, p.created_at)"
                     " < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)")
        params.append(f"-{int(stale_days)} days")
        where.append("s.kind = 'open'")
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        raise InvalidValue("--sort", sort, "is not a sort key (" + ", ".join(SORTS) + ")")
    select = SELECT
    if addresses:
        select = select.replace(" FROM prospects p",
                                # (the subquery's names and function: SQLite ignores case)
                                ", (SELECT json_group_array(email) FROM"  # pragma: no mutate
                                " (SELECT email FROM prospect_addresses a WHERE a.prospect_id"
                                " = p.id ORDER BY a.id)) AS other_emails FROM prospects p")
    sql = select + " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {SORTS[key]}{' DESC' if desc else ''}, p.id"
    if limit is not None:
        if limit < 0 or offset < 0:
            raise InvalidValue("--limit", limit, "and --offset must be ≥ 0")
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    elif offset:
        sql += " LIMIT -1 OFFSET ?"
        params.append(offset)
    base = default_currency()
    for row in conn.execute(sql, params):
        yield public(row,
                     base,  # pragma: no mutate: public's own default, read once here
                     )



def fts_query(text: str) -> str:
    """Quote each word so user input is never FTS syntax; words are prefix-matched."""
    words = re.findall(r"\w[\w@.'-]*", text)
    if not words:
        raise InvalidValue("--search", text, "has no words to search for")
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def archive(conn: sqlite3.Connection, actor: str, key: Any, *, restore: bool = False) -> dict:
    """Soft-delete (or restore) a prospect: it leaves lists, keeps its history."""
    with transaction(conn):
        before = resolve(conn, key)
        ts = None if restore else now()
        if bool(before["archived_at"]) != (not restore):
            conn.execute("UPDATE prospects SET archived_at = ?, updated_at = ? WHERE id = ?",
                         (ts, now(), before["id"]))
            audit.record(conn, actor, "restore" if restore else "archive", "prospect",
                         before["id"], {"archived_at": before["archived_at"]},
                         {"archived_at": ts}, prospect_id=before["id"])
        return resolve(conn, before["id"])


def delete(conn: sqlite3.Connection, actor: str, key: Any) -> dict[str, Any]:
    """Delete a prospect and its history for good (the audit log keeps the record)."""
    with transaction(conn):
        p = resolve(conn, key)
        conn.execute("DELETE FROM prospects WHERE id = ?", (p["id"],))
        audit.record(conn, actor, "delete", "prospect", p["id"], _snapshot(p), None,
                     prospect_id=p["id"])
    return p


def merge(conn: sqlite3.Connection, actor: str, keep_key: Any, other_key: Any) -> dict:
    """Fold OTHER into KEEP: its interactions, stage history, tasks and enrollments move,
    empty fields and tags fill in, one merge activity names both, OTHER is deleted.
    Audit rows stay."""
    with transaction(conn):
        keep = resolve(conn, keep_key)
        other = resolve(conn, other_key)
        if keep["id"] == other["id"]:
            raise InvalidValue("OTHER", other_key, "is the same prospect as KEEP")
        k, o = keep["id"], other["id"]
        moved = conn.execute("UPDATE OR IGNORE interactions SET prospect_id = ?"
                             " WHERE prospect_id = ?", (k, o)).rowcount
        dupes = conn.execute("DELETE FROM interactions WHERE prospect_id = ?", (o,)).rowcount
        history = conn.execute("UPDATE stage_changes SET prospect_id = ? WHERE prospect_id = ?",
                               (k, o)).rowcount
        conn.execute("UPDATE notifications SET prospect_id = ? WHERE prospect_id = ?", (k, o))
        tasks = conn.execute("UPDATE tasks SET prospect_id = ? WHERE prospect_id = ?",
                             (k, o)).rowcount
        # An enrollment of OTHER in a sequence KEEP is in already ends with OTHER.
        enrollments = conn.execute("UPDATE OR IGNORE enrollments SET prospect_id = ?"
                                   " WHERE prospect_id = ?", (k, o)).rowcount
        # OTHER's other addresses become KEEP's (its primary one does not: a merge made by
        # mistake is undone by adding OTHER again, which that would forbid).
        addresses = [r[0] for r in conn.execute(
            "SELECT email FROM prospect_addresses WHERE prospect_id = ? ORDER BY id", (o,))]
        conn.execute("UPDATE prospect_addresses SET prospect_id = ? WHERE prospect_id = ?",
                     (k, o))
        fills = {f: other[f] for f in ("name", "company", "owner", "value", "source", "notes")
                 if keep[f] in (None, "") and other[f] not in (None, "")}
        if "value" in fills:  # a value comes with its currency
            fills["currency"] = conn.execute("SELECT currency FROM prospects WHERE id = ?",
                                             (o,)).fetchone()[0]

        tags = keep["tags"] + [t for t in other["tags"] if t not in keep["tags"]]
        stamps = {f: max(filter(None, (keep[f], other[f])), default=None)
                  for f in ("last_contacted_at", "last_reply_at", "last_interaction_at")}
        conn.execute("DELETE FROM prospects WHERE id = ?", (o,))
        sets = {**fills, **stamps, "tags": json.dumps(tags), "updated_at": now()}
        conn.execute("UPDATE prospects SET " + ", ".join(f"{c} = ?" for c in sets)
                     + " WHERE id = ?", [*sets.values(), k])
        after = resolve(conn, k)
        audit.record(conn, actor, "merge", "prospect", k,
                     {"keep": {"id": k, **_snapshot(keep)},
                      "other": {"id": o, **_snapshot(other)}},
                     {"id": k, **_snapshot(after), "merged_id": o, "interactions_moved": moved,
                      "duplicates_dropped": dupes, "stage_changes_moved": history,
                      "tasks_moved": tasks, "enrollments_moved": enrollments,
                      "other_emails_moved": addresses},

                     prospect_id=k)
    return after
