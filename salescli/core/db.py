"""Opening the sales database: WAL, busy timeout, foreign keys, schema checks, and
writers taking turns.

Plain reads use the stdlib ``sqlite3`` module alone so that read commands start
fast; migrations (which need sqlite-utils) are imported only by writers.

Writers take turns. SQLite's busy handler is not a queue: a writer waiting for the lock
polls at up to 100 ms intervals, so a long job that commits and begins again at once
(the scan, batch after batch) can starve it for the job's whole length, until its busy
timeout ends in "database is locked". So a writer first says it is waiting (a shared
``flock`` on ``<database>-writers``), then polls for the lock every few milliseconds;
a long job calls ``let_writers_in`` between its transactions, which waits until every
writer that said so has committed (an exclusive ``flock`` is granted only then).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Unix: writers do not take turns
    fcntl = None  # type: ignore[assignment]

from salescli.core.env import number
from salescli.core.errors import SchemaError
from salescli.core.faults import failpoint
from salescli.core.schema import SCHEMA_VERSION, check_version, schema_version

DEFAULT_DB = "sales.db"
CREDENTIALS_NAME = "credentials.db"
DEFAULT_BUSY_TIMEOUT_MS = 30000
TURNS_SUFFIX = "-writers"
LET_IN_MAX_S = 1.0  # a long job waits at most this long for the writers queued before it
_POLL_MAX_S = 0.005
MAX_INTEGER = 2**63 - 1  # the largest whole number SQLite stores (ids, limits, offsets)
# (first, longest) wait between tries: switching to WAL, and BEGIN IMMEDIATE
_WAL_WAITS = (0.001, 0.05)
_BEGIN_WAITS = (0.0005, _POLL_MAX_S)
_LET_IN_FIRST_S = 0.0002  # let_writers_in's first wait for the exclusive lock


class Connection(sqlite3.Connection):
    """sqlite3's connection, knowing its file and its writers'-turn lock (opened on the
    first write transaction, closed with the connection)."""

    db_file: Path | None = None
    turns_fd: int | None = None

    def close(self) -> None:
        fd, self.turns_fd = self.turns_fd, -1  # pragma: no mutate (any negative: closed)
        if fd is not None and fd >= 0:
            os.close(fd)
        super().close()

    def __del__(self) -> None:
        fd, self.turns_fd = self.turns_fd, -1
        # no mutate: fds 0-2 are never the turns file (SQLite keeps them filled)
        if fd is not None and fd >= 0:  # pragma: no mutate
            try:
                os.close(fd)
            except (OSError, TypeError):  # already gone at interpreter exit
                pass


def row_id(text: str) -> int | None:
    """The row id a user typed ("42"), or None when the text is no id SQLite could hold
    (not ASCII digits, or over ``MAX_INTEGER``): such a key is looked up as it is."""
    text = text.strip()
    if text.isascii() and text.isdigit() and int(text) <= MAX_INTEGER:
        return int(text)
    return None


def db_path(path: str | os.PathLike | None = None) -> Path:
    """The sales database path: argument, else ``SALESCLI_DB``, else ./sales.db."""
    return Path(path or os.environ.get("SALESCLI_DB") or DEFAULT_DB)


def credentials_path(sales_db: str | os.PathLike) -> Path:
    """The credentials database beside the sales one (``SALESCLI_CREDENTIALS_DB`` overrides)."""
    override = os.environ.get("SALESCLI_CREDENTIALS_DB")
    return Path(override) if override else Path(sales_db).with_name(CREDENTIALS_NAME)


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700, whatever the umask.

    ``Path.mkdir(parents=True)`` gives the parents it creates the umask's mode (0777 under
    ``umask 000``); the directories salescli creates hold the databases, so they are private.
    Directories that already exist are left as they are: they belong to the operator.
    """
    missing = []
    for parent in (path, *path.parents):
        if parent.exists():
            break
        missing.append(parent)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)  # pragma: no mutate (the chmod below sets it)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask, never widened


def create_private(path: Path) -> None:
    """Create an empty file readable by its owner only, if it does not exist yet.

    The mode is 0600 whatever the umask; SQLite gives the -wal, -shm and -journal files
    the mode of the database file, so they are private too.
    """
    make_private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # a umask can only narrow os.open's mode; make it exact
    finally:
        os.close(fd)


def busy_timeout_ms() -> int:
    """How long a writer waits for another before "database is locked", in milliseconds
    (``SALESCLI_BUSY_TIMEOUT_MS``, read at each use: tests and jobs set it per process)."""
    return number("SALESCLI_BUSY_TIMEOUT_MS", DEFAULT_BUSY_TIMEOUT_MS)


def must_exist(path: str | os.PathLike) -> None:
    """Refuse a database file that is not there (SchemaError): what reads and jobs need."""
    if not Path(path).exists():
        raise SchemaError(f"database {str(path)!r} does not exist; run: salescli init")


def connect(path: str | os.PathLike, *, create: bool = False) -> sqlite3.Connection:
    """Open a connection in autocommit mode with our pragmas; transactions are explicit."""
    path = Path(path)
    if not create:
        must_exist(path)
    elif not path.exists():
        create_private(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           factory=Connection)
    conn.db_file = path
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")  # the one place it is set
    conn.execute("PRAGMA foreign_keys = ON")
    # Switching to WAL rewrites the file header: never do it to a file from a newer
    # salescli, which the version check refuses untouched.
    if create and schema_version(conn) <= SCHEMA_VERSION:
        _switch_to_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """``PRAGMA journal_mode = WAL``, waiting out another process doing the same.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy handler, when another connection holds the file meanwhile (two
    writers opening a brand-new file). So wait here, up to the busy timeout.
    """
    _while_locked(conn, "PRAGMA journal_mode = WAL", *_WAL_WAITS)


def _while_locked(conn: sqlite3.Connection, sql: str, first: float, most: float) -> None:
    """Run ``sql``, again while SQLite answers "locked", waiting ``first`` seconds, then
    twice as long each time up to ``most``, until the busy timeout has passed."""
    deadline = time.monotonic() + busy_timeout_ms() / 1000
    delay = first
    while True:
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, most)  # pragma: no mutate (timing)


def _turns(conn: sqlite3.Connection) -> int | None:
    """The descriptor of ``conn``'s writers'-turn lock file, or None (not our connection,
    no flock on this system, or the file cannot be opened: then no turns are taken)."""
    if not isinstance(conn, Connection):
        return None
    fd = conn.turns_fd
    if fd is None and fcntl is not None:
        turns = conn.db_file.with_name(conn.db_file.name + TURNS_SUFFIX)
        try:
            create_private(turns)
            fd = os.open(turns, os.O_RDWR)
        except OSError:
            fd = -1
        conn.turns_fd = fd
    return fd if fd is not None and fd >= 0 else None


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, polling every few milliseconds up to the busy timeout (SQLite's own
    handler sleeps up to 100 ms between tries and would miss the turns it is given)."""
    if not isinstance(conn, Connection):
        conn.execute("BEGIN IMMEDIATE")
        return
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        _while_locked(conn, "BEGIN IMMEDIATE", *_BEGIN_WAITS)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")


def let_writers_in(conn: sqlite3.Connection) -> None:
    """Between the transactions of a long job: let every writer already waiting for the
    lock commit first (at most ``LET_IN_MAX_S``), so that nobody waits out the job."""
    fd = _turns(conn)
    if fd is None or conn.in_transaction:
        return
    deadline = time.monotonic() + LET_IN_MAX_S
    delay = _LET_IN_FIRST_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX_S / 2)  # pragma: no mutate (timing)
            continue
        fcntl.flock(fd, fcntl.LOCK_UN)
        return


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken up front (BEGIN IMMEDIATE) in the writers' turn (see the
    module docstring); nested use is a savepoint."""
    if conn.in_transaction:
        name = f"sp_{id(conn)}_{os.urandom(4).hex()}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    fd = _turns(conn)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)  # "waiting to write": a long job lets us in
    try:
        failpoint("db.begin")
        _begin_immediate(conn)
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


def open_read(path: str | os.PathLike | None = None) -> sqlite3.Connection:
    """Open an existing database for reading; the schema version must match exactly."""
    path = db_path(path)
    conn = connect(path)
    try:
        check_version(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def open_write(path: str | os.PathLike | None = None) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database to the current schema.

    sqlite-utils (for the migrations) is imported only when there is something to do.
    """
    path = db_path(path)
    conn = connect(path, create=True)
    try:
        if schema_version(conn) != SCHEMA_VERSION:
            # Imported only when there is something to migrate: sqlite-utils costs ~115 ms.
            from salescli.core.migrations import migrate

            migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn
