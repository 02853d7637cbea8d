"""Pipeline stages and moving prospects between them, with stage history."""

from __future__ import annotations

import sqlite3
from typing import Any

from salescli.core import audit
from salescli.core.currency import default_currency, totals
from salescli.core.db import transaction
from salescli.core.enums import StageKind
from salescli.core.errors import Conflict, InvalidValue
from salescli.core.timeutil import now


def list_stages(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Live stages in pipeline order, with how many live prospects each holds and their
    value: ``values`` per currency; ``value`` is their total only when there is one
    currency (None when there are several: they never add up)."""
    base = default_currency()
    values: dict[int, list[tuple[str, float]]] = {}
    for sid, code, v in conn.execute(
            "SELECT stage_id, coalesce(currency, ?), total(value) FROM prospects"
            " WHERE archived_at IS NULL AND value IS NOT NULL GROUP BY 1, 2", (base,)):
        values.setdefault(sid, []).append((code, v))
    rows = []
    for r in conn.execute(
            """SELECT s.id, s.position, s.name, s.kind,
                      count(p.id) AS prospects, coalesce(sum(p.value), 0) AS value
               FROM stages s LEFT JOIN prospects p
                    ON p.stage_id = s.id AND p.archived_at IS NULL
               WHERE s.removed_at IS NULL
               GROUP BY s.id ORDER BY s.position, s.id"""):
        row = dict(r)
        row["values"] = totals(values.get(row.pop("id"), ()), default=base)
        if len(row["values"]) > 1:
            row["value"] = None
        rows.append(row)
    return rows



def get_stage(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    """The live stage called ``name`` (case-insensitive), or a clear error listing the stages."""
    row = conn.execute(
        "SELECT * FROM stages WHERE name = ? AND removed_at IS NULL", (str(name).strip(),)
    ).fetchone()
    if row is None:
        known = ", ".join(
            r[0] for r in conn.execute(
                "SELECT name FROM stages"  # pragma: no mutate: SQL ignores case
                " WHERE removed_at IS NULL ORDER BY position")  # pragma: no mutate: SQL case
        )
        raise InvalidValue("stage", name, f"is not a stage (stages: {known})")
    return row


def first_stage(conn: sqlite3.Connection) -> sqlite3.Row:
    """The stage new prospects start in: the first open stage."""
    row = conn.execute(
        "SELECT * FROM stages WHERE removed_at IS NULL AND kind = 'open'"
        " ORDER BY position, id LIMIT 1"
    ).fetchone()
    if row is None:
        raise Conflict("the pipeline has no open stage; add one with: salescli stages add NAME")
    return row


def _stage_snapshot(row: sqlite3.Row) -> dict[str, Any]:
    # (keys named once: a sqlite3.Row reads "NAME" as "name", the audit JSON would not)
    return {key: row[key] for key in ("name", "position", "kind")}


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or any(c in name for c in "\n\r\t"):
        raise InvalidValue("stage name", name, "must be 1-64 characters on one line")
    return name


def add_stage(conn: sqlite3.Connection, actor: str, name: str, kind: str = "open",
              position: int | None = None) -> dict[str, Any]:
    """Add a stage; by default an open stage goes after the last open one."""
    name = _check_name(name)
    try:
        kind = StageKind(kind)
    except ValueError:
        raise InvalidValue("kind", kind, "must be open, won or lost") from None
    with transaction(conn):
        if conn.execute("SELECT 1 FROM stages WHERE name = ? AND removed_at IS NULL",
                        (name,)).fetchone():
            raise Conflict(f"stage {name!r} already exists")
        live = conn.execute(
            "SELECT id, kind FROM stages WHERE removed_at IS NULL ORDER BY position, id"
        ).fetchall()
        if position is None:
            if kind == StageKind.OPEN:
                opens = [i for i, (_, k) in enumerate(live) if k == "open"]
                position = (opens[-1] + 1) if opens else 0
            else:
                position = len(live)
        position = max(0, min(position, len(live)))
        ids = [i for i, _ in live]
        cur = conn.execute(
            "INSERT INTO stages(name, position, kind, created_at) VALUES (?, ?, ?, ?)",
            (name, position, kind.value, now()),
        )
        ids.insert(position, cur.lastrowid)
        _renumber(conn, ids)
        row = conn.execute("SELECT * FROM stages WHERE id = ?", (cur.lastrowid,)).fetchone()
        audit.record(conn, actor, "create", "stage", row["id"], None, _stage_snapshot(row))
    return _stage_snapshot(row)


def _renumber(conn: sqlite3.Connection, ids: list[int]) -> None:
    """Number the stages in this order, the open ones first: the funnel reads a stage's
    position as how far a deal got, so a won or lost stage never comes before an open one
    (each kind keeps the order asked for)."""
    kinds = dict(conn.execute("SELECT id, kind FROM stages"))
    ordered = [i for i in ids if kinds[i] == StageKind.OPEN] + \
        [i for i in ids if kinds[i] != StageKind.OPEN]
    conn.executemany("UPDATE stages SET position = ? WHERE id = ?",
                     [(i, sid) for i, sid in enumerate(ordered)])


def rename_stage(conn: sqlite3.Connection, actor: str, old: str, new: str) -> dict[str, Any]:
    """Rename a stage; history keeps pointing at it, so it shows the new name."""
    new = _check_name(new)
    with transaction(conn):
        row = get_stage(conn, old)
        clash = conn.execute("SELECT 1 FROM stages WHERE name = ? AND removed_at IS NULL"
                             " AND id != ?", (new, row["id"])).fetchone()
        if clash:
            raise Conflict(f"stage {new!r} already exists")
        conn.execute("UPDATE stages SET name = ? WHERE id = ?", (new, row["id"]))
        audit.record(conn, actor, "rename", "stage", row["id"], {"name": row["name"]},
                     {"name": new})
    return {"name": new, "position": row["position"], "kind": row["kind"]}


def reorder_stages(conn: sqlite3.Connection, actor: str, names: list[str]) -> list[dict]:
    """Put the named stages first, in that order; the others keep their relative order."""
    with transaction(conn):
        wanted = [get_stage(conn, n)["id"] for n in names]
        if len(set(wanted)) != len(wanted):
            raise InvalidValue("stages", " ".join(names), "names a stage twice")
        # (columns unpacked, not read by name: sqlite3.Row's names ignore case)
        live = [i for (i,) in conn.execute(
            "SELECT id FROM stages WHERE removed_at IS NULL ORDER BY position, id")]
        before = [n for (n,) in conn.execute(
            "SELECT name FROM stages WHERE removed_at IS NULL ORDER BY position, id")]
        _renumber(conn, wanted + [i for i in live if i not in wanted])
        after = [n for (n,) in conn.execute(
            "SELECT name FROM stages WHERE removed_at IS NULL ORDER BY position, id")]
        audit.record(conn, actor, "reorder", "stage", None, {"order": before}, {"order": after})
    return list_stages(conn)


def remove_stage(conn: sqlite3.Connection, actor: str, name: str,
                 move_to: str | None = None) -> int:
    """Remove a stage; prospects in it need ``move_to``. Returns how many were moved.

    A stage that appears in history is kept as removed (so history stays readable);
    an unused one is deleted.
    """
    with transaction(conn):
        row = get_stage(conn, name)
        held = conn.execute("SELECT id FROM prospects WHERE stage_id = ? ORDER BY id",
                            (row["id"],)).fetchall()
        moved = 0
        if held:
            if not move_to:
                raise Conflict(
                    f"stage {row['name']!r} holds {len(held)} prospect(s); "
                    "use --move-to STAGE to move them first"
                )
            target = get_stage(conn, move_to)
            if target["id"] == row["id"]:
                raise InvalidValue("--move-to", move_to, "is the stage being removed")
            for (pid,) in held:
                move_in_transaction(conn, actor, pid, target,
                                    note=f"stage {row['name']} removed", reason=None,
                                    at=None, require_reason=False)
                moved += 1
        used = conn.execute(
            "SELECT 1 FROM stage_changes WHERE from_stage_id = ? OR to_stage_id = ? LIMIT 1",
            (row["id"], row["id"])).fetchone()
        if used:
            conn.execute("UPDATE stages SET removed_at = ? WHERE id = ?", (now(), row["id"]))
        else:
            conn.execute("DELETE FROM stages WHERE id = ?", (row["id"],))
        audit.record(conn, actor, "remove", "stage", row["id"], _stage_snapshot(row),
                     {"moved_to": move_to, "moved": moved} if moved else None)
        live = [r["id"] for r in conn.execute(
            "SELECT id FROM stages WHERE removed_at IS NULL ORDER BY position, id")]
        _renumber(conn, live)
    return moved


def move_in_transaction(conn: sqlite3.Connection, actor: str, prospect_id: int,
                        target: sqlite3.Row,
          *, note: str | None, reason: str | None, at: str | None,
          require_reason: bool = True) -> bool:
    """Move to the ``target`` stage row inside the caller's open transaction (no savepoint);
    returns False when already there. For bulk callers; ``move`` is the safe entry point."""
    p = conn.execute(
        "SELECT p.*, s.name AS stage FROM prospects p JOIN stages s ON s.id = p.stage_id"
        " WHERE p.id = ?", (prospect_id,)).fetchone()
    if p["stage_id"] == target["id"]:
        return False
    if require_reason and target["kind"] != StageKind.OPEN and not (reason or "").strip():
        raise InvalidValue("--reason", reason or "",
                           f"is required to move to the {target['kind']} stage "
                           f"{target['name']!r}")
    ts = at or now()
    conn.execute(
        "INSERT INTO stage_changes(prospect_id, from_stage_id, to_stage_id, at, actor, owner,"
        " value, note, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (prospect_id, p["stage_id"], target["id"], ts, actor, p["owner"], p["value"], note,
         reason),
    )
    conn.execute("UPDATE prospects SET stage_id = ?, stage_entered_at = ?, updated_at = ?"
                 " WHERE id = ?", (target["id"], ts, now(), prospect_id))
    after = {"stage": target["name"]}
    if note:
        after["note"] = note
    if reason:
        after["reason"] = reason
    audit.record(conn, actor, "move", "prospect", prospect_id, {"stage": p["stage"]}, after,
                 prospect_id=prospect_id)
    return True


def move(conn: sqlite3.Connection, actor: str, prospect_id: int, stage: str, *,
         note: str | None = None, reason: str | None = None, at: str | None = None,
         require_reason: bool = True) -> bool:
    """Move a prospect to ``stage`` (recording history and audit); False if already there.

    Won and lost stages need a reason unless ``require_reason`` is False (rules that
    only ever move forward through open stages pass False).
    """
    with transaction(conn):
        target = get_stage(conn, stage)
        return move_in_transaction(conn, actor, prospect_id, target, note=note, reason=reason,
                                   at=at, require_reason=require_reason)
