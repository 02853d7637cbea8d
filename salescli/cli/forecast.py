"""``salescli forecast``: what the open pipeline will close, its backtest, the nightly refresh."""

from __future__ import annotations

from typing import Any

import click

from salescli.cli.common import emit, format_option, read_conn, settings

HORIZON_HELP = "30d, 90d, 12w … or QUARTER (to the end of the quarter)."
ROW_LABELS = {"expected_count": "exp. won", "count_low": "won p10", "count_high": "won p90",
              "expected_value": "exp. value", "value_low": "value p10",
              "value_high": "value p90", "stage_weighted_count": "stage-wtd won",
              "stage_weighted_value": "stage-wtd value", "open_value": "open value"}


def _money(v: Any) -> Any:
    return f"{v:,.2f}" if isinstance(v, int | float) and not isinstance(v, bool) else v


def _table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for people. Figures per currency (``…_values``) show only where the single
    figure is empty, i.e. when there are several currencies: '1,200.00 EUR; 300.00 USD'."""
    out = []
    for r in rows:
        row = {}
        for k, v in r.items():
            if isinstance(v, dict) and k.endswith("_values"):
                if r.get(k[:-1]) is None:
                    row[ROW_LABELS.get(k[:-1], k[:-1])] = "; ".join(
                        f"{_money(x)} {c}" for c, x in v.items())
                continue
            row[ROW_LABELS.get(k, k)] = _money(v) if "value" in k else v
        out.append(row)
    return out



def _json(obj: Any) -> None:
    import json

    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


@click.group(invoke_without_command=True)
@click.option("--as-of", "as_of", metavar="DATE",
              help="Forecast as the pipeline stood at the end of this local day (YYYY-MM-DD;"
                   " default today). Nothing after it is used.")
@click.option("--horizon", default="90d", show_default=True, help=HORIZON_HELP)
@click.option("--by", type=click.Choice(["month", "week", "owner", "stage"]), default="month",
              show_default=True, help="Sum the expected wins per close month, week, owner "
                                      "or stage.")
@click.option("--owner", help="Only this owner's deals ('' = no owner).")
@click.option("--explain", metavar="ID|EMAIL", help="Show what moved one prospect's "
                                                    "probability.")
@format_option()
@click.pass_context
def forecast(ctx: click.Context, as_of: str | None, horizon: str, by: str,
             owner: str | None, explain: str | None, fmt: str) -> None:
    """What the open pipeline will close within the horizon, learned from closed history.

    For every open prospect with a value: the probability it is won within the horizon
    and its expected close day; per period the expected value and count won with an 80%
    interval, beside the stage-weighted figure. With fewer than 50 closed deals it uses
    per-stage historical rates and says so; with none it stops with an error. Days are
    local days in SALESCLI_TZ.

    Examples: salescli forecast --by owner; salescli forecast --horizon QUARTER;
    salescli forecast --explain ana@example.com
    """
    if ctx.invoked_subcommand is not None:
        return
    from salescli.forecast import outlook

    conn = read_conn()
    if explain is not None:
        result = outlook.explain(conn, explain, as_of=as_of, horizon=horizon)
        if fmt == "json":
            _json(result)
        elif fmt in ("nl", "csv"):
            emit([{**result["prospect"], **f} for f in result["factors"]], fmt)
        else:
            p = result["prospect"]
            click.echo(f"{p['email']} ({p['stage']}, {p['owner'] or '(no owner)'}, value "
                       f"{_money(p['value'])} {p['currency']}) as of {result['as_of']}, horizon "
                       f"{result['horizon']}")
            click.echo(f"Probability of a win: {100 * p['probability']:.1f}% (stage rate "
                       f"{100 * p['stage_rate']:.1f}%, all deals "
                       f"{100 * result['overall_rate']:.1f}%); expected close "
                       f"{p['expected_close']}")
            click.echo(f"Model: {result['model']['note']}\n")
            emit([{"factor": f["factor"], "this deal": f["value"],
                   "typical deal": f.get("typical", "-"),
                   "points": f"{f['points']:+.1f}"} for f in result["factors"]], fmt)
        return
    result = outlook.forecast(conn, as_of=as_of, horizon=horizon, by=by, owner=owner)
    if fmt == "json":
        _json(outlook.public(result))
    elif fmt in ("nl", "csv"):
        emit(result["rows"], fmt)
    else:
        who = "all owners" if owner is None else f"owner {owner or '(none)'}"
        click.echo(f"Forecast as of {result['as_of']} ({result['tz']}), {result['horizon']} "
                   f"to {result['horizon_end']}, {who}")
        click.echo(f"Model: {result['model']['note']}")
        if not result["prospects"]:
            click.echo("No open deals with a value.")
            return
        click.echo("80% intervals; stage-wtd = value x the stage's historical rate.\n")
        emit(_table_rows(result["rows"]), fmt)


@forecast.command()
@click.option("--as-of", "as_of", metavar="DATE",
              help="The day to rebuild the pipeline at (YYYY-MM-DD); its horizon must be over."
                   " With --rolling: the last month end to test (default: the latest).")
@click.option("--horizon", default="90d", show_default=True, help=HORIZON_HELP)
@click.option("--rolling", is_flag=True, help="Repeat at every month end over the history "
                                              "and print the series.")
@format_option()
def backtest(as_of: str | None, horizon: str, rolling: bool, fmt: str) -> None:
    """How right the forecast would have been: rebuild the pipeline as of a past day,
    forecast it with what was known then, and compare with what happened.

    Prints Brier score and log loss per prospect, forecast vs actual won value and count,
    for the model and two baselines fitted in the same run (overall win rate; per-stage
    rates), and a calibration table (predicted band vs actual win share).

    Examples: salescli forecast backtest --as-of 2025-06-30;
    salescli forecast backtest --rolling --horizon 30d
    """
    from salescli.core.errors import InvalidValue
    from salescli.forecast import backtest as lib

    conn = read_conn()
    if rolling:
        result = lib.rolling(conn, as_of=as_of, horizon=horizon)
        if fmt == "json":
            _json(result)
        elif not result["series"]:
            if fmt == "table":
                click.echo("No month end with closed history whose horizon is over yet.")
            else:
                emit([], fmt)
        else:
            if fmt == "table":
                click.echo(f"Rolling backtest, {result['horizon']} horizon ({result['tz']}); "
                           "Brier: lower is better\n")
            emit(_table_rows(result["series"]) if fmt == "table" else result["series"], fmt)
        return
    if as_of is None:
        raise InvalidValue("--as-of", "", "is required unless --rolling")
    result = lib.backtest(conn, as_of=as_of, horizon=horizon)
    if fmt == "json":
        _json(result)
    elif fmt in ("nl", "csv"):
        emit([{"section": "scores", **s} for s in result["scores"]]
             + [{"section": "calibration", **c} for c in result["calibration"]], fmt)
    else:
        click.echo(f"Backtest as of {result['as_of']} ({result['tz']}), {result['horizon']} to "
                   f"{result['horizon_end']}: {result['deals']} open deals")
        click.echo(f"Model: {result['model']['note']}\n")
        emit(_table_rows(result["scores"]), fmt)
        click.echo("\nCalibration (model): predicted band vs actual win share")
        emit(result["calibration"], fmt)


@forecast.command()
@click.option("--horizon", default="90d", show_default=True, help=HORIZON_HELP)
def refresh(horizon: str) -> None:
    """Store today's forecast for the dashboard and `salescli metrics` (cron: nightly,
    after the rollup; the rollup job runs it).

    Replaces the forecast_deals, forecast_periods, forecast_stages and forecast_state
    tables.
    """
    from salescli.core.errors import JobLocked
    from salescli.forecast import store
    from salescli.ops.runner import run_job

    try:
        with run_job("forecast", settings().db) as run:
            run.counts.update(store.refresh(run.conn, horizon=horizon))
    except JobLocked as exc:
        click.echo(f"{exc}; not starting another", err=True)
