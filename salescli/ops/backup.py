"""Online backups and restores of the sales and credentials databases.

A backup copies each database with SQLite's online backup API, in steps, inside
one read transaction on the source: in WAL mode that snapshot never blocks the
writers (cron jobs keep committing) and the copy is consistent as of its first
step — without the held snapshot, every concurrent commit would restart the
copy from page one. Each copy is written under a temporary name with mode 0600,
switched to a self-contained rollback journal, checked with ``PRAGMA
integrity_check`` and only then renamed to ``<name>-YYYYMMDDTHHMMSSZ.db``.

A restore copies a backup *into* the live database through the same API, as
one write transaction, so processes that have the file open (the web server)
see either the old or the restored content, never a mix or a deleted inode.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from salescli.core.db import (
    connect,
    create_private,
    credentials_path,
    db_path,
    make_private_dirs,
    open_write,
    transaction,
)
from salescli.core.errors import Conflict, InvalidValue, NotFound, SalescliError, SchemaError
from salescli.core.schema import SCHEMA_VERSION
from salescli.core.timeutil import now

DEFAULT_KEEP = 7
PAGES_PER_STEP = 4096  # 16 MiB with 4 KiB pages: a progress tick
FLUSH_EVERY_BYTES = 256 * 1024**2
CREDENTIALS_VERSION = 2  # salescli.web.credentials.VERSION (tests/web checks they match)
_NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?\.db$")
Progress = Callable[[str, int, int], None]


class BackupError(SalescliError):
    """A copy could not be made or did not verify; nothing was left in its place."""


@dataclass
class Copy:
    """One database copied: where from, where to, how big, how long."""

    source: Path
    path: Path
    bytes: int
    seconds: float
    integrity: str = "ok"


def default_keep() -> int:
    """Generations to keep: ``SALESCLI_BACKUP_KEEP`` (default 7)."""
    raw = os.environ.get("SALESCLI_BACKUP_KEEP", "").strip()
    if not raw:
        return DEFAULT_KEEP
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidValue("SALESCLI_BACKUP_KEEP", raw, "must be a whole number ≥ 1")
    return int(raw)


def _stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(dest: Path) -> None:
    """Temporary copies left by a backup that was killed (its pid is gone)."""
    for p in dest.glob(".*.partial-*"):
        pid = p.name.rpartition("-")[2]
        if pid.isdigit() and not _pid_alive(int(pid)):
            p.unlink(missing_ok=True)
            Path(f"{p}-journal").unlink(missing_ok=True)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a range to disk now, without waiting or evicting it
    (Linux ``sync_file_range``); elsewhere a no-op."""
    global _sync_file_range
    if _sync_file_range is None:
        try:
            import ctypes

            # The C library's, found in this process (no ldconfig run, unlike find_library).
            # A failed lookup only loses the hint: no behaviour tells it apart, hence the pragma.
            func = ctypes.CDLL(None, use_errno=True).sync_file_range  # pragma: no mutate
            func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            _sync_file_range = func
        except (OSError, AttributeError):
            _sync_file_range = False
    if _sync_file_range:
        _sync_file_range(fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE


_sync_file_range: Any = None


def copy_database(source: Path, target: Path, *, pages_per_step: int = PAGES_PER_STEP,
                  progress: Progress | None = None, label: str = "") -> float:
    """Copy ``source`` to a new file ``target`` (mode 0600) from one consistent snapshot.

    The copy is left in rollback-journal mode so it is a single self-contained file,
    and synced to disk once at the end. Returns the seconds spent copying.
    """
    src = connect(source)
    dst = None
    try:
        create_private(target)
        dst = sqlite3.connect(target, isolation_level=None)
        # No fsync per step: the caller syncs the finished copy once, before publishing it.
        dst.execute("PRAGMA synchronous = OFF")
        started = time.monotonic()
        # Pin one snapshot for every step: writers go on (WAL), the copy does not restart.
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()

        page_size = src.execute("SELECT page_size FROM pragma_page_size()").fetchone()[0]
        fd = os.open(target, os.O_RDWR)
        synced = [0]  # pragma: no mutate (where writeback starts: a hint to the kernel)

        def step(status: int, remaining: int, total: int) -> None:
            # Start writing back as we go (without waiting): a gigabyte of dirty pages
            # flushed at once stalls every other writer on the disk for seconds. Only a hint
            # to the kernel, so no behaviour tells its mutants apart: hence the pragma.
            done = total - remaining
            if (done - synced[0]) * page_size >= FLUSH_EVERY_BYTES:  # pragma: no mutate block
                _start_writeback(fd, synced[0] * page_size, (done - synced[0]) * page_size)
                synced[0] = done
            if progress:
                progress(label or source.name, done, total)

        try:
            src.backup(dst, pages=pages_per_step, progress=step, sleep=0.05)
            src.execute("COMMIT")
            dst.execute("PRAGMA journal_mode = DELETE")
            dst.close()
            dst = None
            os.fsync(fd)
        finally:
            os.close(fd)
        elapsed = time.monotonic() - started
    finally:
        if dst is not None:
            dst.close()
        src.close()
    return elapsed


def verify(path: Path) -> str:
    """``ok`` or what ``PRAGMA integrity_check`` found (a file that is not SQLite says so)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            # A row may hold several problems, one a line: the refusal stays one line.
            rows = [line for r in conn.execute("PRAGMA integrity_check(20)")
                    for line in r[0].splitlines()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"error: {exc}"
    return "ok" if rows == ["ok"] else "; ".join(rows[:5])


def _unique_name(dest: Path, stem: str, stamp: str) -> Path:
    """``stem-stamp.db``, or ``stem-stamp-N.db`` sorting after every copy of the same second."""
    taken = [m for p in dest.iterdir() if (m := _NAME.match(p.name))
             and m.group("stem") == stem and m.group("stamp") == stamp]
    if not taken:
        return dest / f"{stem}-{stamp}.db"
    n = max(int(m.group("n") or 0) for m in taken) + 1
    return dest / f"{stem}-{stamp}-{n}.db"


def _finish_own_run(path: Path, run_id: int) -> None:
    """In the copy, this backup's own job_runs row says ``ok`` (the copy exists only if so)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("UPDATE job_runs SET status = 'ok', finished_at = ?, error = NULL"
                     " WHERE id = ? AND status = 'running'", (now(), run_id))
    finally:
        conn.close()


def backup_file(source: Path, dest: Path, stamp: str, *, progress: Progress | None = None,
                pages_per_step: int = PAGES_PER_STEP, run_id: int | None = None) -> Copy:
    """Copy, verify and publish one database into ``dest``; on any failure leave nothing."""
    final = _unique_name(dest, source.stem, stamp)
    # Cut so that a final name that fits leaves a temporary name that fits (255 bytes).
    partial = dest / f".{final.name[:200]}.partial-{os.getpid()}"
    try:
        seconds = copy_database(source, partial, pages_per_step=pages_per_step,
                                progress=progress, label=source.name)
        if run_id is not None:
            _finish_own_run(partial, run_id)
        result = verify(partial)
        if result != "ok":
            raise BackupError(f"the copy of {source} failed integrity_check: {result}; "
                              f"the database itself may be damaged: run salescli health")
        with open(partial, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, final)
        _fsync_dir(dest)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"backup of {source} failed: {exc}") from None
    except OSError as exc:
        raise BackupError(f"backup of {source} into {dest} failed: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
        Path(f"{partial}-journal").unlink(missing_ok=True)
    return Copy(source=source, path=final, bytes=final.stat().st_size, seconds=seconds)


def generations(dest: Path, stem: str) -> list[Path]:
    """Backups of ``stem`` in ``dest``, oldest first."""
    found = []
    for p in dest.iterdir():
        m = _NAME.match(p.name)
        if m and m.group("stem") == stem and p.is_file():
            found.append(((m.group("stamp"), int(m.group("n") or 0)), p))
    return [p for _, p in sorted(found)]


def prune(dest: Path, stem: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``stem``; returns what was deleted."""
    old = generations(dest, stem)[:-keep] if keep > 0 else []
    for p in old:
        p.unlink(missing_ok=True)
    return old


def backup(db_file: str | os.PathLike | None, dest: str | os.PathLike, *,
           keep: int | None = None, progress: Progress | None = None,
           pages_per_step: int = PAGES_PER_STEP, run_id: int | None = None) -> dict[str, Any]:
    """Back up the sales database and (if present) its credentials database into ``dest``.

    ``run_id``: the job_runs row of this backup, recorded as finished in the copy.
    """
    source = db_path(db_file)
    keep = default_keep() if keep is None else keep
    if keep < 1:
        raise InvalidValue("--keep", keep, "must be at least 1")
    if not source.exists():
        raise NotFound("database", str(source))
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InvalidValue("DIR", str(dest), "is not a directory")
    try:
        make_private_dirs(dest)
    except OSError as exc:
        raise BackupError(f"cannot create the backup directory {dest}: {exc.strerror}") \
            from None
    sources = [source]
    cred = credentials_path(source)
    if cred.exists():
        sources.append(cred)
    needed = sum(p.stat().st_size + _wal_size(p) for p in sources)
    free = shutil.disk_usage(dest).free
    if free < needed:
        raise BackupError(f"not enough space in {dest}: {free // 1024**2} MB free, "
                          f"the copies need about {needed // 1024**2} MB")
    _remove_stale_partials(dest)
    stamp = _stamp()
    copies = [backup_file(p, dest, stamp, progress=progress, pages_per_step=pages_per_step,
                          run_id=run_id if p == source else None)
              for p in sources]
    pruned: list[Path] = []
    for c in copies:
        pruned += prune(dest, c.source.stem, keep)
    return {"copies": copies, "pruned": pruned, "keep": keep}


def _wal_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


# ------------------------------------------------------------------ restore


def inspect(file: Path) -> dict[str, Any]:
    """What a backup file holds: kind (sales/credentials) and schema version, once it has
    passed integrity_check."""
    if not file.is_file():
        raise NotFound("backup file", str(file))
    result = verify(file)
    if result.startswith("error:"):
        raise InvalidValue("FILE", str(file), f"is not a SQLite database ({result[7:]})")
    if result != "ok":
        raise InvalidValue("FILE", str(file), f"fails integrity_check: {result}")
    conn = sqlite3.connect(f"file:{file}?mode=ro", uri=True, isolation_level=None)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    if {"prospects", "stages", "job_runs"} <= tables:
        kind, supported = "sales", SCHEMA_VERSION
    elif {"passwords", "tokens"} <= tables:
        kind, supported = "credentials", CREDENTIALS_VERSION
    else:
        raise InvalidValue("FILE", str(file), "is not a salescli sales or credentials database")
    if version > supported:
        raise SchemaError(f"{file} has schema version {version}, newer than this salescli "
                          f"understands ({supported}); restore it with a newer salescli")
    if version < 1:
        raise InvalidValue("FILE", str(file), "has no salescli schema version")
    return {"kind": kind, "schema_version": version}


def restore(file: str | os.PathLike, db_file: str | os.PathLike | None = None, *,
            force: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Put a backup back in place of the sales (or credentials) database.

    A live database is only replaced with ``force``, and a copy of it is kept
    beside it first (``<db>.before-restore-<stamp>``). An older schema is migrated.
    """
    file = Path(file)
    info = inspect(file)
    sales = db_path(db_file)
    target = sales if info["kind"] == "sales" else credentials_path(sales)
    if target.exists() and file.resolve() == target.resolve():
        raise InvalidValue("FILE", str(file), "is the live database itself")
    live = target.exists() and target.stat().st_size > 0
    saved = None
    if live and not force:
        raise Conflict(f"{target} exists and would be replaced; add --force to restore over it "
                       "(a copy of the current file is kept beside it)")
    if live:
        saved = target.with_name(f"{target.name}.before-restore-{_stamp()}")
        _keep_current(target, saved, progress)
    started = time.monotonic()
    _copy_into(file, target, progress)
    if info["kind"] == "sales":
        conn = open_write(target)  # migrates an older schema
        try:
            with transaction(conn):
                conn.execute(
                    "UPDATE job_runs SET status = 'failed', finished_at = ?, error = 'unknown: "
                    "the database was restored from a backup taken while this run was going'"
                    " WHERE status = 'running'", (now(),))
        finally:
            conn.close()
    return {"kind": info["kind"], "from": file, "to": target, "saved": saved,
            "schema_version": info["schema_version"], "seconds": time.monotonic() - started}


def _readable(path: Path) -> bool:
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return True


def _keep_current(target: Path, saved: Path, progress: Progress | None) -> None:
    """Save the database about to be replaced; a file SQLite cannot read is copied as bytes."""
    try:
        copy_database(target, saved, label=f"{target.name} (current)", progress=progress)
    except sqlite3.DatabaseError:
        # (copy_database made ``saved``, mode 0600, before SQLite refused the file: the
        # bytes overwrite what it began)
        create_private(saved)
        shutil.copyfile(target, saved)
        wal = Path(f"{target}-wal")
        if wal.exists():
            create_private(Path(f"{saved}-wal"))
            shutil.copyfile(wal, f"{saved}-wal")


def _copy_into(file: Path, target: Path, progress: Progress | None) -> None:
    """Copy ``file`` into ``target`` as one write transaction, creating it if needed.

    A target SQLite cannot read at all (a broken header) is replaced by a new file.
    """
    if target.exists() and not _readable(target):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    fresh = not target.exists()
    src = sqlite3.connect(f"file:{file}?mode=ro", uri=True, isolation_level=None)
    dst = connect(target, create=fresh)
    try:
        if fresh:
            dst.execute("PRAGMA journal_mode = DELETE")

        def step(status: int, remaining: int, total: int) -> None:
            if progress:
                progress(file.name, total - remaining, total)

        try:
            # Pacing only (pages a step, the pause after a busy step), hence the pragma.
            src.backup(dst, pages=PAGES_PER_STEP, progress=step, sleep=0.05)  # pragma: no mutate
        except sqlite3.OperationalError as exc:
            raise BackupError(f"cannot restore into {target}: {exc} (is another process "
                              "writing? try again, or stop the cron jobs first)") from None
        dst.execute("PRAGMA journal_mode = WAL")
        with contextlib.suppress(sqlite3.OperationalError):
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        dst.close()
        src.close()
