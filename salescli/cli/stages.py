"""``salescli stages …``: the pipeline's stages."""

from __future__ import annotations

import click

from salescli.cli.common import emit, format_option, read_conn, settings, write_conn


@click.group()
def stages() -> None:
    """Pipeline stages."""


@stages.command("list")
@format_option()
def list_cmd(fmt) -> None:
    """Stages in order, with prospect counts and open value."""
    from salescli.pipeline import stages

    rows = stages.list_stages(read_conn())
    emit(table_lines(rows) if fmt == "table" else rows, fmt)


def table_lines(rows: list[dict]) -> list[dict]:
    """Stage rows for people: the value with its currency code, and a line of its own for
    each further currency (two currencies never add up)."""
    from salescli.core.currency import money

    lines = []
    for r in rows:
        r = dict(r)
        amounts = [money(v, c) for c, v in r.pop("values").items()] or [money(0, "")]
        lines.append({**r, "value": amounts[0]})
        lines += [{**{k: "" for k in r}, "value": a} for a in amounts[1:]]
    return lines




@stages.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["open", "won", "lost"]), default="open",
              show_default=True, help="Open stages are the pipeline; won and lost end it.")
@click.option("--position", type=click.IntRange(min=0),
              help="0-based place in the order (open stages always come before won and lost).")
def add_cmd(name, kind, position) -> None:
    """Add a stage (open stages go after the last open one).

    Example: salescli stages add demo-booked --position 3
    """
    from salescli.pipeline import stages

    stages.add_stage(write_conn(), settings().actor, name, kind, position)
    click.echo(f"added stage {name}")


@stages.command("rename")
@click.argument("old")
@click.argument("new")
def rename_cmd(old, new) -> None:
    """Rename a stage; history follows the new name."""
    from salescli.pipeline import stages

    stages.rename_stage(write_conn(), settings().actor, old, new)
    click.echo(f"renamed {old} → {new}")


@stages.command("reorder")
@click.argument("names", nargs=-1, required=True)
@format_option()
def reorder_cmd(names, fmt) -> None:
    """Put the named stages first, in this order (among open stages, or among won and
    lost ones: the open stages always come first, as the funnel reads them).

    Example: salescli stages reorder lead contacted meeting replied
    """
    from salescli.pipeline import stages

    emit(stages.reorder_stages(write_conn(), settings().actor, list(names)), fmt)


@stages.command("remove")
@click.argument("name")
@click.option("--move-to", metavar="STAGE", help="Move the stage's prospects here first.")
def remove_cmd(name, move_to) -> None:
    """Remove a stage; one that holds prospects needs --move-to."""
    from salescli.pipeline import stages

    moved = stages.remove_stage(write_conn(), settings().actor, name, move_to)
    click.echo(f"removed stage {name}" + (f", moved {moved} prospect(s) to {move_to}"
                                          if moved else ""))
