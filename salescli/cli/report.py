"""``salescli report weekly|owner``: render a pipeline report to a file, stdout or mail."""

from __future__ import annotations

import sys

import click

from salescli.cli.common import read_conn, settings

FORMATS = ("html", "md", "text")


def _tell(message: str) -> None:
    """A confirmation for people at a terminal; silent under cron."""
    if sys.stderr.isatty():
        click.echo(message, err=True)


@click.command()
@click.argument("name", metavar="weekly|owner")
@click.option("--owner", help="Only this owner (the owner report covers every owner "
              "by default).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="html, md or text [default: from the --output extension, else text].")
@click.option("--output", "-o", type=click.Path(), metavar="FILE",
              help="Write to FILE (created atomically, mode 0600) instead of stdout.")
@click.option("--email", "emails", multiple=True, metavar="ADDR",
              help="Mail the report (HTML + text) to ADDR; repeat or comma-separate, "
              "@manager means every manager with an email address. Uses SALESCLI_SMTP_*.")
@click.option("--days", type=int, default=7, show_default=True,
              help="Length of the period in days.")
@click.option("--until", metavar="DATE",
              help="Last day of the period, YYYY-MM-DD [default: yesterday].")
@click.option("--stale-days", type=int, default=14, show_default=True,
              help="Open prospects untouched this long are listed as stale.")
@click.option("--templates", type=click.Path(), metavar="DIR",
              help="Directory of templates that override the bundled ones "
              "(SALESCLI_TEMPLATES).")
def report(name, owner, fmt, output, emails, days, until, stale_days, templates) -> None:
    """Render the weekly pipeline report or the per-owner activity report.

    \b
    Examples:
      salescli report weekly --output weekly.html
      salescli report owner --owner alice --format md
      salescli report weekly --email @manager
    """
    from salescli.reports import data as data
    from salescli.reports import render

    render.check_name(name)
    data.make_period(days, until)  # bad --days/--until fail before anything starts
    render.templates_dir(templates)
    fmt = fmt or render.format_for(output)
    opts = {"owner": owner, "days": days, "until": until, "stale_days": stale_days,
            "templates": templates}
    conn = read_conn()
    if not emails:
        if output:
            path = render.write_report(conn, name, fmt, output, **opts)
            _tell(f"Wrote the {name} report to {path}")
        else:
            click.echo(render.render(conn, name, fmt, **opts), nl=False)
        return
    from salescli.ops.runner import run_job

    to = render.recipients(conn, emails)  # bad addresses fail before the job starts
    conn.close()
    with run_job("report", settings().db) as run:
        if output:
            render.write_report(run.conn, name, fmt, output, **opts)
            run.counts["file"] = str(output)
        templates_opt = opts.pop("templates")
        sent = render.send_report(run.conn, name, to, templates=templates_opt, **opts)
        run.counts.update(sent)
    _tell(f"Sent the {name} report to {sent['recipients']} recipient(s)")
