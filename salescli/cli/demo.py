"""``salescli demo``: the README's main job, on embedded defaults, in ./demo."""

from __future__ import annotations

import os
from pathlib import Path

import click

from salescli.core import db


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default="demo",
              show_default=True, help="Where to build the demo (never your SALESCLI_DB).")
@click.option("--no-serve", is_flag=True, help="Do not start the dashboard at the end.")
@click.option("--port", type=int, default=8001, show_default=True, help="Dashboard port.")
def demo(directory: str, no_serve: bool, port: int) -> None:
    """Build a demo pipeline, scan a sample mailbox, roll up metrics, write a report
    and serve the dashboard on localhost.

    Example: salescli demo --no-serve
    """
    from salescli.cli.common import emit
    from salescli.core.db import open_read
    from salescli.demo import seed as lib
    from salescli.pipeline.stages import list_stages

    base = Path(directory)
    click.echo(f"Building a demo database in {base}/ (your SALESCLI_DB is not touched)…")
    db_file = lib.build(base)
    os.environ["SALESCLI_DB"] = str(db_file)  # every later step works on the demo only
    for step in _steps():
        step(db_file, base)
    conn = open_read(db_file)
    click.echo("\nPipeline:")
    from salescli.cli.stages import table_lines

    emit(table_lines(list_stages(conn)), "table")

    click.echo(f"\nTry: salescli --db {db_file} prospects list --stage contacted")
    if not no_serve:
        _serve(db_file, port)


def _steps():
    """What the demo does after building the database, in order."""
    return [_scan, _rollup, _forecast, _report]


def _scan(db_file: Path, base: Path) -> None:
    from salescli.demo.seed import MY_ADDRESS, sample_prospects
    from salescli.mail.sample import write_sample_maildir
    from salescli.mail.scan import scan_sources

    conn = db.open_read(db_file)
    people = sample_prospects(conn)
    conn.close()
    maildir = base / "Maildir"
    n = write_sample_maildir(maildir, people, MY_ADDRESS)
    counts = scan_sources(db_file, source=f"maildir:{maildir}", my_addresses=[MY_ADDRESS])
    click.echo(f"Scanned the sample mailbox ({n} messages): "
               f"{counts.get('matched', 0)} matched, {counts.get('replies', 0)} replies, "
               f"{counts.get('bounces', 0)} bounces.")


def _rollup(db_file: Path, base: Path) -> None:
    from salescli.metrics import rollup
    from salescli.ops.runner import run_job

    with run_job("rollup", db_file) as run:
        run.counts.update(rollup.rollup(run.conn))
    click.echo(f"Rolled up daily metrics ({run.counts.get('days', '?')} days).")


def _forecast(db_file: Path, base: Path) -> None:
    from salescli.forecast import store
    from salescli.ops.runner import run_job

    with run_job("forecast", db_file) as run:
        run.counts.update(store.refresh(run.conn))
    click.echo(f"Forecast the open pipeline ({run.counts['model']} model, "
               f"{run.counts['deals']} deals); try: salescli --db {db_file} forecast")


def _report(db_file: Path, base: Path) -> None:
    from salescli.reports.render import write_report

    conn = db.open_read(db_file)
    path = write_report(conn, "weekly", "html", base / "weekly-report.html", days=28)
    conn.close()
    click.echo(f"Wrote the weekly report: {path.resolve().as_uri()}")


def _serve(db_file: Path, port: int) -> None:
    """Serve the demo dashboard with a fresh password for the demo manager."""
    import secrets

    from salescli.core import db
    from salescli.demo.seed import DEMO_MANAGER
    from salescli.web import users
    from salescli.web.server import serve_database

    os.environ.setdefault("SALESCLI_SECRET", secrets.token_urlsafe(48))
    password = secrets.token_urlsafe(12)
    conn = db.open_write(db_file)
    try:
        users.passwd(conn, db_file, "demo", DEMO_MANAGER, password)
    finally:
        conn.close()

    def ready(url: str) -> None:
        click.echo(f"\nDashboard: {url}-/dashboards/pipeline")
        click.echo(f"Sign in as {DEMO_MANAGER} / {password}   (Ctrl-C to stop)")

    serve_database(db_file, "127.0.0.1", port, on_ready=ready)
