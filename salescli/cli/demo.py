"""``salescli demo``: the README's main job, on embedded defaults, in ./demo."""

from __future__ import annotations

import os
from pathlib import Path

import click


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
    from salescli import demo as lib
    from salescli.cli.common import emit
    from salescli.db import open_read
    from salescli.pipeline import list_stages

    base = Path(directory)
    click.echo(f"Building a demo database in {base}/ (your SALESCLI_DB is not touched)…")
    db_file = lib.build(base)
    os.environ["SALESCLI_DB"] = str(db_file)  # every later step works on the demo only
    for step in _steps():
        step(db_file, base)
    conn = open_read(db_file)
    click.echo("\nPipeline:")
    emit(list_stages(conn), "table")
    click.echo(f"\nTry: salescli --db {db_file} prospects list --stage contacted")
    if not no_serve:
        _serve(db_file, port)


def _steps():
    """Steps that later parts of salescli add to the demo, each optional."""
    return []


def _serve(db_file: Path, port: int) -> None:
    click.echo("(dashboard not available in this build)")
