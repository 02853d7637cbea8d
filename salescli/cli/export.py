"""``salescli export TABLE_OR_VIEW``: stream any table or view to CSV, JSON or NL."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from salescli.cli.common import read_conn

FORMATS = ("csv", "json", "nl")
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "nl", ".ndjson": "nl",
                  ".nl": "nl"}


@click.command()
@click.argument("name", metavar="[TABLE_OR_VIEW]", required=False)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="csv, json or nl [default: from the --output extension, else csv].")
@click.option("--output", "-o", type=click.Path(), metavar="FILE",
              help="Write to FILE (complete or not at all; mode 0600) instead of stdout.")
@click.option("--raw", is_flag=True,
              help="CSV: keep cells starting with = + - @ as they are (no formula guard).")
def export(name, fmt, output, raw) -> None:
    """Export a table or view of the sales database for analysis; without a name,
    list what can be exported.

    \b
    Examples:
      salescli export prospects --output prospects.csv
      salescli export interactions --format nl | gzip > interactions.jsonl.gz
      salescli export metrics --format json
    """
    from salescli.core import export

    conn = read_conn()
    if name is None:
        for s in export.sources(conn):
            click.echo(f"{s['name']}\t{s['type']}")
        return
    export.resolve_source(conn, name)
    fmt = fmt or (SUFFIX_FORMATS.get(Path(output).suffix.lower(), "csv") if output else "csv")
    if output is None:
        export.export(conn, name, fmt, out=sys.stdout, raw=raw)
        return
    if sys.stderr.isatty():
        total = export.count(conn, name)
        with click.progressbar(length=total, label=f"Exporting {name}", file=sys.stderr) as bar:
            seen = [0]

            def progress(done: int) -> None:
                bar.update(done - seen[0])
                seen[0] = done

            n = export.export(conn, name, fmt, output, raw=raw, progress=progress)
    else:
        n = export.export(conn, name, fmt, output, raw=raw)
    if sys.stderr.isatty():
        click.echo(f"Exported {n:,} rows of {name} to {output}", err=True)
