"""``salescli prospects import FILE``: a thin layer over ``salescli.pipeline.importer``.

Kept free of heavy imports: the ``prospects`` group imports this module on every run.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from salescli.cli.common import settings, write_conn


@click.command("import")
@click.argument("file", metavar="FILE")
@click.option("--dry-run", is_flag=True,
              help="Check every row and report what would happen; write nothing.")
@click.option("--on-duplicate", type=click.Choice(["error", "skip", "update"]),
              default="error", show_default=True,
              help="An email already in the database or earlier in the file: reject the "
                   "row, skip it, or update the prospect with the row's non-empty fields.")
@click.option("--skip-invalid", is_flag=True,
              help="Import the valid rows even if some are rejected (default: all or nothing).")
@click.option("--ignore-unknown", is_flag=True,
              help="Skip columns that are not prospect fields instead of failing.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]),
              help="Input format (default: from the extension, else from the content).")
@click.option("--date-format", metavar="FORMAT",
              help="How created_at and <stage>_at dates are written, in strftime codes, "
                   "e.g. %y-%m-%d for 25-10-16 (default: ISO 8601, e.g. 2025-10-16).")
@click.option("--from", "tool", metavar="NAME",
              help="Read FILE as this tool's export (e.g. hubspot-contacts) instead of "
                   "recognising it from the header row.")
@click.option("--mapping", metavar="FILE",
              help="Read FILE by this mapping (the profile format; see --write-mapping).")
@click.option("--write-mapping", metavar="FILE",
              help="Save the plan (columns, stages, owners, formats) as a mapping to edit.")
@click.option("--map", "maps", multiple=True, metavar="'COLUMN=field'",
              help="Send a column to a field ('' ignores it); repeatable.")
@click.option("--stage-map", "stage_maps", multiple=True, metavar="'VALUE=stage'",
              help="Map a stage or status value of the file to a stage; repeatable.")
@click.option("--owner-map", "owner_maps", multiple=True, metavar="'NAME=user'",
              help="Map an owner of the file to a salescli user; repeatable.")
@click.option("--create-owners", is_flag=True,
              help="Create owners that are no user as operators without a password.")
def import_prospects(file: str, dry_run: bool, on_duplicate: str, skip_invalid: bool,
                     ignore_unknown: bool, fmt: str | None, date_format: str | None,
                     tool: str | None, mapping: str | None, write_mapping: str | None,
                     maps: tuple[str, ...], stage_maps: tuple[str, ...],
                     owner_maps: tuple[str, ...], create_owners: bool) -> None:
    """Import prospects from a CSV or JSON file (FILE may be - for stdin).

    CSV needs a header row with an email column; JSON is an array of objects or one
    object per line. History columns: created_at, <stage>_at for any stage (contacted_at,
    won_at, ...) and lost_reason. Every rejected row is reported on stderr with its row
    number. The file is read as a stream, with limits on cell size and JSON nesting.

    An export of another CRM (HubSpot, Pipedrive, Salesforce, ...) is recognised from its
    header row and read by a plan: --dry-run prints it, --write-mapping saves it to edit,
    --mapping applies it.

    Example: salescli prospects import leads.csv --on-duplicate skip --dry-run
    """
    from salescli.pipeline import importer

    if date_format is not None and "%" not in date_format:
        raise click.BadParameter("needs at least one % code, e.g. %d/%m/%Y",
                                 param_hint="--date-format")
    source = importer.Source.open(file)
    conn = write_conn()
    with ExitStack() as stack:
        stack.callback(source.close)
        progress = None
        if sys.stderr.isatty():
            progress = _Progress(stack)
        crm = importer.CrmOptions(tool=tool, mapping=mapping, maps=list(maps),
                                  stage_maps=list(stage_maps), owner_maps=list(owner_maps),
                                  create_owners=create_owners, write_mapping=write_mapping)
        try:
            result = importer.import_source(
                conn, settings().actor, source, fmt=fmt, on_duplicate=on_duplicate,
                skip_invalid=skip_invalid, dry_run=dry_run, ignore_unknown=ignore_unknown,
                date_format=date_format, crm=crm, progress=progress)
        except importer.PlanIncomplete as exc:
            stack.close()
            if dry_run or write_mapping:
                _head(exc.plan.label, dry_run and exc.plan, None, write_mapping)
            raise click.ClickException(str(exc)) from None
        except importer.ImportRejected as exc:
            stack.close()
            if exc.result.recognised:
                _head(exc.result.recognised, dry_run and exc.result.plan, exc.result,
                      write_mapping)
            _report(exc.result)
            raise click.ClickException(str(exc)) from None
    if result.recognised:
        _head(result.recognised, dry_run and result.plan, result, write_mapping)
    _report(result)
    click.echo(result.summary())


def _head(title: str, plan, result, write_mapping: str | None) -> None:
    """The first lines of a recognised export's import: what it was taken for, and for a
    dry run the plan."""
    click.echo(f"recognised: {title}")
    if plan:
        click.echo(plan.render(result.rejected if result else None,
                               result.rejected_rows if result else 0))
    if write_mapping:
        click.echo(f"mapping written to {write_mapping}")


def _report(result) -> None:
    """Notes and one line per rejected row, on stderr."""
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for rejection in result.rejected:
        click.echo(str(rejection), err=True)
    if result.unreported:
        click.echo(f"… and {result.unreported} more rejected rows", err=True)


class _Progress:
    """A progress bar over the bytes read, created on the first report."""

    def __init__(self, stack: ExitStack):
        self.stack = stack
        self.bar = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = self.stack.enter_context(
                click.progressbar(length=total, label="importing", file=sys.stderr))
        self.bar.length = total if done == total else max(self.bar.length or 0, total)
        self.bar.update(done - self.done)
        self.done = done
