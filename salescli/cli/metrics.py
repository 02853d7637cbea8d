"""``salescli rollup`` (the nightly metrics job) and ``salescli metrics`` (funnel and KPIs)."""

from __future__ import annotations

import sys
from typing import Any

import click

from salescli.cli.common import emit, format_option, read_conn, settings

# KPI rows of the table format: (key, label); rates print as percentages.
KPI_LABELS = (
    ("new_prospects", "new prospects"), ("won", "won"), ("lost", "lost"),
    ("win_rate", "win rate"), ("won_value", "won value"),
    ("median_cycle_days", "sales cycle, median days"), ("p90_cycle_days", "sales cycle, p90 days"),
    ("open_prospects", "open prospects now"), ("open_value", "open pipeline value now"),
    ("stale_prospects", "stale now"), ("emails_sent", "emails sent"),
    ("emails_received", "emails received"), ("replies", "replies"),
    ("auto_replies", "auto-replies"), ("bounces", "bounces"), ("reply_rate", "replies per email"),
    ("bounce_rate", "bounces per email"), ("prospects_emailed", "prospects emailed"),
    ("prospects_replied", "prospects who replied"),
    ("prospect_reply_rate", "prospect reply rate"), ("calls", "calls"),
    ("meetings", "meetings"),
)
FUNNEL_LABELS = {"prospects": "now", "value": "value now", "conversion_rate": "advanced %",
                 "median_days": "median days"}


@click.command()
@click.option("--since", metavar="DATE",
              help="Recompute every day from DATE (YYYY-MM-DD) to today from the history.")
def rollup(since: str | None) -> None:
    """Roll up the daily metrics tables (cron: nightly).

    Incremental: recomputes the days touched since the last run, through today. Days
    are local days in SALESCLI_TZ (default UTC). A second run while one is going
    exits 0 with a message.

    Examples: salescli rollup; salescli rollup --since 2024-01-01
    """
    from datetime import datetime

    from salescli.core.errors import JobLocked
    from salescli.metrics import days
    from salescli.metrics import rollup as lib
    from salescli.ops.runner import run_job

    tz = days.zone()
    since_day = days.parse_since(since, datetime.now(tz).date()) if since else None
    try:
        with run_job("rollup", settings().db) as run:
            if sys.stderr.isatty():
                with click.progressbar(length=lib.ROLLUP_STEPS, label="rollup",
                                       file=sys.stderr) as bar:
                    run.counts.update(lib.rollup(run.conn, since=since_day,
                                                 progress=lambda n: bar.update(1)))
            else:
                run.counts.update(lib.rollup(run.conn, since=since_day))
    except JobLocked as exc:
        click.echo(f"{exc}; not starting another", err=True)


@click.command()
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True,
              help="The period: this many local days up to today.")
@click.option("--owner", help="Only this owner's prospects and activity ('' = no owner).")
@click.option("--stale-days", type=click.IntRange(1, 3650), default=14, show_default=True,
              help="Open prospects idle this long count as stale.")
@click.option("--sequences", "sequences", is_flag=True,
              help="Instead: per sequence and step, mails sent in the period and how "
                   "enrollments ended there (replied, bounced, unsubscribed), reply rate.")
@format_option()
def metrics(days: int, owner: str | None, stale_days: int, sequences: bool, fmt: str) -> None:
    """The pipeline funnel and KPIs of a period, from the live history.

    Per stage: prospects and value now; stays entered and exited in the period, exits
    that advanced or were lost, the share that advanced and the median days in stage.

    Examples: salescli metrics --days 7 --owner ana; salescli metrics --format json
    """
    from salescli.forecast import store
    from salescli.metrics import live as lib

    if sequences:
        _sequences(days, fmt)
        return
    conn = read_conn()
    data = lib.summary(conn, days=days, owner=owner, stale_days=stale_days)
    funnel, kpis = data["funnel"], data["kpis"]
    # The forecast panel reads what the nightly refresh stored: no model is fitted, no
    # history replayed here (but on a database never refreshed).
    stages = store.stored_outlook(conn, owner)
    data["forecast"] = {"stored": store.stored(conn, owner),
                        "stages": store.stage_outlook(conn, owner) if stages is None else stages}
    if fmt == "json":
        import json

        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "nl":
        emit([{"section": "funnel", **r} for r in funnel] + [{"section": "kpis", **kpis}], fmt)
    elif fmt == "csv":
        emit(_long_rows(funnel, kpis), fmt)
    else:
        who = "all owners" if owner is None else f"owner {owner or '(none)'}"
        click.echo(f"Pipeline {kpis['period_start']} to {kpis['period_end']} ({kpis['days']} "
                   f"days, {kpis['tz']}), {who}\n")
        emit(_funnel_lines(funnel), fmt)
        click.echo()
        emit(_kpi_lines(kpis), fmt)
        _forecast_panel(data["forecast"], fmt)


def _funnel_lines(funnel: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The funnel for people: a stage's value as 'N CODE', a line of its own for each
    further currency (never one figure for two currencies)."""
    from salescli.core.currency import money

    lines = []
    for r in funnel:
        amounts = [money(v, c) for c, v in r["values"].items()] or [money(0, "")]
        row = {FUNNEL_LABELS.get(k, k): _show(k, v) for k, v in r.items() if k != "values"}
        row[FUNNEL_LABELS["value"]] = amounts[0]
        lines.append(row)
        lines += [{k: amount if k == FUNNEL_LABELS["value"] else "" for k in row}
                  for amount in amounts[1:]]
    return lines


def _kpi_lines(kpis: dict[str, Any]) -> list[dict[str, Any]]:
    """The KPIs for people: a money KPI has one line per currency."""
    from salescli.core.currency import money

    lines = []
    for key, label in KPI_LABELS:
        if key in ("won_value", "open_value"):
            values = kpis[key + "s"] or {kpis["currency"]: 0}
            lines += [{"kpi": label, "value": money(v, c)} for c, v in values.items()]
        else:
            lines.append({"kpi": label, "value": _show(key, kpis[key])})
    return lines


def _forecast_panel(fc: dict[str, Any], fmt: str) -> None:

    """The stored forecast per close month and the stage outlook "from here"."""
    stored = fc["stored"]
    click.echo()
    if stored is None:
        click.echo("Forecast: none stored yet (the nightly rollup job refreshes it; or run "
                   "salescli forecast refresh)")
    else:
        st = stored["state"]
        click.echo(f"Forecast as of {st['as_of']}, {st['horizon']} to {st['horizon_end']} "
                   f"({st['note']}); 80% intervals")
        from salescli.core.currency import money

        emit([{"close month": r["period"], "deals": r["deals"],
               "expected value": money(r["expected_value"], r["currency"] or ""),
               "interval": f"{_show('value', r['value_low'])} - "
                           f"{money(r['value_high'], r['currency'] or '')}",
               "stage-weighted": money(r["stage_weighted_value"], r["currency"] or "")}
              for r in stored["rows"]], fmt)

    click.echo()
    emit([{"stage": r["stage"], "closed since": r["closed_since"],
           "win rate from here": _show("win_rate", r["win_rate"]),
           "median days to win": _show("days", r["median_days_to_win"])}
          for r in fc["stages"]], fmt)


def _sequences(days: int, fmt: str) -> None:
    from salescli.metrics import sequences as stats
    from salescli.metrics.days import period

    p = period(days)
    rows = stats.by_step(read_conn(), start=p.start_utc, end=p.end_utc)
    if fmt == "table":
        rows = [{k: _show(k, v) for k, v in r.items()} for r in rows]
    if emit(rows, fmt, columns=stats.COLUMNS) == 0 and fmt == "table":
        click.echo("No sequences.", err=True)


def _long_rows(funnel: list[dict[str, Any]], kpis: dict[str, Any]) -> list[dict[str, Any]]:
    """Funnel and KPIs as one tidy table: section, stage, metric, value."""
    rows = [{"section": "funnel", "stage": r["stage"], "metric": k, "value": v}
            for r in funnel for k, v in r.items() if k != "stage"]
    rows += [{"section": "kpis", "stage": "", "metric": k, "value": v} for k, v in kpis.items()]
    return rows


def _show(key: str, value: Any) -> Any:
    """A value for people: rates as percentages, money with two decimals, None as '-'."""
    if value is None:
        return "-"
    if key.endswith("rate"):
        return f"{100 * value:.1f}%"
    if key in ("value", "won_value", "open_value") and isinstance(value, int | float):
        return f"{value:,.2f}"
    return value
