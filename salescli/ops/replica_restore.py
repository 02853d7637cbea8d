"""Restore the sales and credentials databases from a Litestream replica (``salescli db
restore --from-replica``): to a point in time, each file checked before it is put in place,
a live database replaced through SQLite's backup API."""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from salescli.core.db import credentials_path, db_path, make_private_dirs
from salescli.core.errors import Conflict, InvalidValue
from salescli.ops.replication import (
    ReplicationError,
    litestream,
    parse_time,
    replica_of,
    replica_position,
    shown,
)

# What ``litestream restore -timestamp`` says when the replica starts after that time.
_NOTHING_THEN = re.compile(r"no backups found|timestamp does not exist|no snapshot", re.I)


def _rfc3339(value: str, field: str = "--timestamp") -> str:
    """A point in time as Litestream wants it (UTC, fractions of a second kept)."""
    from salescli.core.timeutil import parse_when

    text = str(value).strip()
    try:
        dt = datetime.fromisoformat(text)  # Python 3.11 reads a Z and a space for the T
    except ValueError:
        dt = parse_time(parse_when(text, field))  # 'now', '2h' (ago), a bare date
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check(path: Path, kind: str) -> dict[str, Any]:
    """A restored file must pass integrity_check and not come from a newer salescli."""
    from salescli.ops.backup import inspect

    info = inspect(path)  # integrity_check, kind, schema version (newer refused)
    if info["kind"] != kind:
        raise ReplicationError(f"{path.name} in the replica holds a {info['kind']} database")
    return info


def _mark_interrupted(path: Path) -> None:
    """Runs that were going when the replica was taken (the replicator itself among them)
    are marked failed."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        from salescli.core.timeutil import now

        conn.execute(
            "UPDATE job_runs SET status = 'failed', finished_at = ?, error = 'unknown: the "
            "database was restored from a replica taken while this run was going'"
            " WHERE status = 'running'", (now(),))
    finally:
        conn.close()


def restore(url: str, output: str | os.PathLike, *, timestamp: str | None = None,
            force: bool = False, live_db: str | os.PathLike | None = None) -> dict[str, Any]:
    """Restore sales.db and (if replicated) credentials.db from ``url`` into ``output``.

    Each file is restored beside its destination, checked, then moved into place.
    Files already in ``output`` are only replaced with ``force``. When ``output`` is the
    live database's directory, the restored content is copied into the live files with
    SQLite's backup API (``db restore FILE --force``), keeping the old ones beside them.
    """
    out = Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise InvalidValue("--output", str(out), "is not a directory")
    when = _rfc3339(timestamp) if timestamp else None
    live = db_path(live_db).resolve()
    targets = {"sales": out / live.name if out.resolve() == live.parent else out / "sales.db",
               "credentials": out / "credentials.db"}
    if out.resolve() == live.parent:
        targets["credentials"] = credentials_path(live)
    existing = [p for p in targets.values() if p.exists()]
    if existing and not force:
        raise Conflict(f"{existing[0]} exists and would be replaced; choose an empty --output "
                       "directory, or add --force")
    make_private_dirs(out)
    results = []
    # The directory is gone when the restore ends, so no test sees its name: pragma.
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=out) as tmp:  # pragma: no mutate
        staged: dict[str, Path] = {}
        for kind, name in (("sales", "sales.db"), ("credentials", "credentials.db")):
            dest = Path(tmp) / name
            args = ["restore", "-o", str(dest)]
            if when:
                args += ["-timestamp", when]
            if kind == "credentials" and \
                    replica_position(url, Path(name))["newest_at"] is None:
                continue  # no credentials were ever replicated
            try:
                litestream(*args, replica_of(url, Path(name)))
            except ReplicationError as exc:
                if kind == "credentials" and when and _NOTHING_THEN.search(str(exc)):
                    continue  # credentials.db was first replicated after that time
                raise ReplicationError(f"restoring {name} from {shown(url)}"
                                       f"{' at ' + when if when else ''} failed: {exc}") \
                    from None
            # Litestream exits non-zero when it has nothing to restore, so dest exists here.
            info = _check(dest, kind)
            if kind == "sales":
                _mark_interrupted(dest)
            staged[kind] = dest
            results.append({"kind": kind, "to": targets[kind], **info})
        for kind, src in staged.items():
            _put(src, targets[kind], live)
    return {"url": url, "timestamp": when, "output": out, "databases": results}


def _put(src: Path, target: Path, live: Path) -> None:
    """Move a checked file into place; into a live database through the backup API."""
    if target.exists() and target.resolve() in (live, credentials_path(live).resolve()):
        from salescli.ops.backup import restore as restore_file

        restore_file(src, live, force=True)  # picks sales or credentials by content
        return
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.chmod(src, 0o600)
    os.replace(src, target)

