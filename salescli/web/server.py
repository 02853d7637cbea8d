"""Serving the sales database with Datasette: read-only, as /sales, behind our sign-in.

The settings that keep the server safe (no download, a SQL time limit) are
here in code; titles, canned queries and dashboards come from the bundled
``reports/datasette.yml``. Datasette itself is imported only when serving.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import socket
import sqlite3
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from salescli.core.errors import InvalidValue, SalescliError, SchemaError
from salescli.core.schema import check_version
from salescli.web import tokens

log = logging.getLogger("salescli.web")

CONFIG_FILE = "datasette.yml"
SWITCH_INTERVAL_S = 0.001
SETTINGS: dict[str, Any] = {
    "allow_download": False,          # never hand out the database file
    "sql_time_limit_ms": 3000,        # one heavy query cannot stall the server
    "facet_time_limit_ms": 300,
    "max_returned_rows": 1000,
    "suggest_facets": False,          # costly on a large prospects table
    "allow_csv_stream": True,         # CSV is further limited by role in the plugin
    "max_csv_mb": 100,
    "num_sql_threads": 6,             # short catalog and row queries queue less behind
                                      # the dashboard's aggregates (bench_load p99)
    "default_cache_ttl": 0,
}


def load_metadata() -> dict[str, Any]:
    """The bundled Datasette metadata: title, descriptions, canned queries, dashboards."""
    import yaml

    from salescli.core.currency import default_currency

    text = importlib.resources.files("salescli.reports").joinpath(CONFIG_FILE).read_text(
        encoding="utf-8")
    # The queries name a prospect's currency, NULL being the default: three letters A-Z,
    # checked, so safe as an SQL literal.
    return yaml.safe_load(text.replace("'__CURRENCY__'", f"'{default_currency()}'"))



def check_database(db_file: str | os.PathLike) -> Path:
    """The resolved path of a current salescli database this user can read read-only."""
    path = Path(db_file).resolve()
    try:
        if not path.is_file():
            raise SchemaError(f"database {str(db_file)!r} does not exist; run: salescli init")
        conn = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True)
        try:
            check_version(conn, db_file)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # pragma: no mutate
        finally:
            conn.close()
    except (sqlite3.OperationalError, PermissionError) as exc:
        raise SalescliError(
            f"cannot open {str(db_file)!r} read-only ({exc}): run salescli serve as the OS "
            "user (or a member of the group) that owns the database and its directory, like "
            "the cron jobs that write it; SQLite must be able to create its -shm file"
        ) from None
    return path


def build_datasette(db_file: str | os.PathLike) -> Any:
    """A ready Datasette for ``db_file``; refuses a missing or short ``SALESCLI_SECRET``."""
    from salescli.core.timeutil import zone
    from salescli.web.plugin import make_datasette

    secret = tokens.load_secret()
    zone()  # a bad SALESCLI_TZ is one error line now, not a failing panel later
    path = check_database(db_file)
    return make_datasette(path, metadata=load_metadata(), settings=dict(SETTINGS),
                          secret=secret)


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
        # TCP; without it every keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise InvalidValue("--port", port, f"cannot be used on {host}: {exc.strerror or exc}"
                           ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve_database(db_file: str | os.PathLike, host: str = "127.0.0.1", port: int = 8001, *,
                   on_ready: Callable[[str], None] | None = None) -> None:
    """Serve ``db_file`` as /sales until interrupted. ``on_ready(url)`` is called once the
    port is bound (port 0 picks a free one), before requests are answered."""
    import uvicorn

    # Every page's Python runs on the event loop thread; after each socket write or file
    # check it waits for the GIL while the SQL threads build rows. Python's default 5 ms
    # switch interval made that wait ~30% of the loop's time under bench_load (py-spy).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    ds = build_datasette(db_file)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    config = uvicorn.Config(ds.app(), log_level="warning", access_log=False, lifespan="on",
                            proxy_headers=True,  # pragma: no mutate: uvicorn's default too
                            forwarded_allow_ips="127.0.0.1", server_header=False)
    server = uvicorn.Server(config)
    log.info("serving %s as /sales on %s", db_file, url)
    if on_ready:
        on_ready(url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        ds._salescli_auth.close()
