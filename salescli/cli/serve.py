"""``salescli serve``: the read-only Datasette dashboard and JSON API."""

from __future__ import annotations

import click

from salescli.cli.common import settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
def serve(host: str, port: int) -> None:
    """Serve the sales database read-only as /sales: dashboards, canned queries, JSON, CSV.

    Needs SALESCLI_SECRET (at least 32 bytes; it also signs login cookies, so keep it
    stable across restarts). Run it as the same OS user or group as the cron jobs that
    write the database. Sign in at /-/login or send Authorization: Bearer TOKEN.
    """
    from salescli.web.server import serve_database

    def ready(url: str) -> None:
        click.echo(f"Serving {settings().db} on {url} (sign in at {url}-/login,"
                   f" dashboard {url}-/dashboards/pipeline)", err=True)

    serve_database(settings().db, host, port, on_ready=ready)
