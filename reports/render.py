"""Pipeline reports: gather the numbers, render a Jinja2 template, write or mail it.

Templates are looked up first in a user directory (``--templates`` or
``SALESCLI_TEMPLATES``), then in the bundled package ``salescli.reports``. Escaping is
right for each format: HTML autoescapes, Markdown escapes its own syntax, text is raw.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any

from salescli.reports import charts as charts
from salescli.reports import data as data
from salescli.reports import formats as formats

from salescli.core.enums import InteractionKind, Role
from salescli.core.errors import InvalidValue, SalescliError
from salescli.core.timeutil import now

REPORTS = {"weekly": "Pipeline report", "owner": "Owner activity report"}
FORMATS = ("html", "md", "text")
EXTENSIONS = {"html": "html", "md": "md", "text": "txt"}
SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md",
                  ".txt": "text", ".text": "text"}
DEFAULT_STALE_DAYS = 14


def check_name(name: str) -> str:
    """The report name, or InvalidValue listing the reports there are."""
    if name not in REPORTS:
        raise InvalidValue("report", name, "is not a report; choose one of: "
                           + ", ".join(REPORTS))
    return name


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidValue("--format", fmt, "must be one of " + ", ".join(FORMATS))
    return fmt


def format_for(path: str | os.PathLike | None, default: str = "text") -> str:
    """The format a file name asks for (``.html``, ``.md``, ``.txt``), else ``default``."""
    if path is None:
        return default
    return SUFFIX_FORMATS.get(Path(path).suffix.lower(), default)


def templates_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The user's template directory (argument, else ``SALESCLI_TEMPLATES``), checked."""
    value = explicit or os.environ.get("SALESCLI_TEMPLATES") or None
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        field = "--templates" if explicit else "SALESCLI_TEMPLATES"
        raise InvalidValue(field, str(value), "is not a directory")
    return path


def environment(fmt: str, templates: str | os.PathLike | None = None,
                tz: str | None = None) -> Any:
    """A Jinja2 environment for one output format, user templates first."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    user = templates_dir(templates)
    if user is not None:
        loaders.append(jinja2.FileSystemLoader(str(user)))
    loaders.append(jinja2.PackageLoader("salescli.reports", "templates"))
    options: dict[str, Any] = {}
    if fmt == "html":
        options["autoescape"] = True
    elif fmt == "md":
        # Autoescape on so macros return markup, with Markdown escaping done by finalize.
        options["autoescape"] = True
        options["finalize"] = formats.md_finalize
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, **options)
    env.filters.update(formats.FILTERS)
    env.filters["local"] = partial(formats.local, tz=tz)
    return env


def _section(conn: sqlite3.Connection, period: data.Period, owner: str | None,
             stale_days: int, trends: dict[str | None, list]) -> dict[str, Any]:
    """The numbers of one owner (None: everyone) for a report section."""
    funnel = data.funnel(conn, period, owner)
    trend = data.trend_for(trends, owner)
    return {"owner": owner, "funnel": funnel, "funnel_chart": charts.funnel(funnel),
            "trend": trend, "trend_chart": charts.trend(trend),
            "kpis": data.kpis(conn, period, owner, stale_days),
            "won_deals": data.won_deals(conn, period, owner),
            "top_deals": data.top_deals(conn, owner),
            "stale": data.stale(conn, stale_days, owner)}


def gather(conn: sqlite3.Connection, name: str, *, owner: str | None = None, days: int = 7,
           until: str | None = None, stale_days: int = DEFAULT_STALE_DAYS) -> dict[str, Any]:
    """Everything a report template sees, as plain data (docs/metrics-and-reports.md,
    "Your own templates")."""
    check_name(name)
    if isinstance(stale_days, bool) or not isinstance(stale_days, int) \
            or not 1 <= stale_days <= 3650:
        raise InvalidValue("--stale-days", stale_days, "must be between 1 and 3650")
    period = data.make_period(days, until)
    if owner is not None:
        owner = data.check_owner(conn, owner)
    title = REPORTS[name]
    if name == "owner" and owner is not None:
        title = f"{title}: {formats.owner_label(owner)}"
    ctx: dict[str, Any] = {
        "report": {"name": name, "title": title, "period": data.period_dict(period),
                   "generated_at": now(), "owner": owner},
        "rollup": data.rollup_status(conn, period), "stale_days": stale_days,
        "email": False,
    }
    names = [owner] if owner is not None else data.owners(conn, period)
    trends = data.trends(conn, period)
    if name == "weekly":
        ctx.update(_section(conn, period, owner, stale_days, trends))
        ctx["owners"] = data.owner_table(conn, period, names, stale_days)
        ctx["replies"] = data.interactions(conn, period, owner, (InteractionKind.EMAIL_IN,))
        ctx["bounced"] = data.bounced(conn, period, owner)
        ctx["sequences"] = data.sequence_steps(conn, period)
        ctx["forecast"] = data.forecast_months(conn, period)
        # one chart per currency: values in two currencies never share a scale or a sum
        codes = sorted({r["currency"] for r in ctx["forecast"]})
        ctx["forecast_charts"] = [(c, charts.forecast_band(
            [r for r in ctx["forecast"] if r["currency"] == c])) for c in codes]
        ctx["forecast_chart"] = ctx["forecast_charts"][0][1] if codes else \
            charts.forecast_band([])
    else:
        sections = []
        for who in names:
            section = _section(conn, period, who, stale_days, trends)
            section["activity"] = data.interactions(conn, period, who, limit=25)
            sections.append(section)
        ctx["sections"] = sections
    return ctx


def render_context(ctx: dict[str, Any], fmt: str, *, email: bool = False,
                   templates: str | os.PathLike | None = None) -> str:
    """Render gathered data with ``<report>.<ext>`` (``email`` switches SVG to CSS bars)."""
    import jinja2

    check_format(fmt)
    name = f"{ctx['report']['name']}.{EXTENSIONS[fmt]}"
    env = environment(fmt, templates, tz=ctx["report"]["period"]["tz"])
    try:
        template = env.get_template(name)
        return template.render({**ctx, "email": email})
    except jinja2.TemplateNotFound as exc:
        raise SalescliError(f"template {exc.name!r} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise SalescliError(f"template {exc.filename or exc.name}, line {exc.lineno}: "
                            f"{exc.message}") from None
    except jinja2.TemplateError as exc:  # undefined names and other runtime errors
        raise SalescliError(f"template {name}: {exc.message or type(exc).__name__}") from None


def render(conn: sqlite3.Connection, name: str, fmt: str = "html", *, email: bool = False,
           templates: str | os.PathLike | None = None, **opts: Any) -> str:
    """Gather and render one report in ``fmt`` (html, md or text)."""
    check_name(name)
    check_format(fmt)
    return render_context(gather(conn, name, **opts), fmt, email=email, templates=templates)


def write_report(conn: sqlite3.Connection, name: str, fmt: str, path: str | os.PathLike,
                 **opts: Any) -> Path:
    """Render a report into ``path`` atomically (nothing is left behind on failure)."""
    from salescli.core.output import atomic_output

    text = render(conn, name, fmt, **opts)
    with atomic_output(path) as out:
        out.write(text)
    return Path(path)


_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")


def recipients(conn: sqlite3.Connection, values: Iterable[str]) -> list[str]:
    """Addresses from ``--email``: plain addresses, comma lists, or ``@manager`` (a role:
    every enabled user with that role and an email address)."""
    out: list[str] = []
    for value in values:
        for item in (v.strip() for v in str(value).split(",")):
            if not item:
                continue
            if item.startswith("@"):
                role = item[1:].lower().removesuffix("s")
                if role not in set(Role):
                    raise InvalidValue("--email", item, "is not a role; use one of "
                                       + ", ".join(f"@{r}" for r in Role))
                found = [r[0] for r in conn.execute(
                    "SELECT email FROM users WHERE role = ? AND NOT disabled"
                    " AND coalesce(email, '') != '' ORDER BY username", (role,))]
                if not found:
                    raise InvalidValue("--email", item, "matches no enabled user with an "
                                       "email address")
                out.extend(found)
            elif _ADDRESS.match(item):
                out.append(item)
            else:
                raise InvalidValue("--email", item, "is not an email address")
    if not out:
        raise InvalidValue("--email", "", "names no recipient")
    return list(dict.fromkeys(out))


def subject(ctx: dict[str, Any]) -> str:
    """The mail subject: title and period on one line (no header injection)."""
    p = ctx["report"]["period"]
    text = f"{ctx['report']['title']}, {p['start']} to {p['end']}"
    return " ".join(text.split())[:200]


def build_message(ctx: dict[str, Any], to: list[str], *,
                  templates: str | os.PathLike | None = None) -> EmailMessage:
    """A multipart/alternative mail: the text report, then HTML with CSS-bar charts."""
    msg = EmailMessage()
    msg["Subject"] = subject(ctx)
    msg["To"] = ", ".join(to)
    sender = os.environ.get("SALESCLI_SMTP_FROM", "").strip()
    if sender:
        msg["From"] = sender
    msg.set_content(render_context(ctx, "text", templates=templates))
    msg.add_alternative(render_context(ctx, "html", email=True, templates=templates),
                        subtype="html")
    return msg


def send_report(conn: sqlite3.Connection, name: str, to: Iterable[str], *,
                templates: str | os.PathLike | None = None, **opts: Any) -> dict[str, Any]:
    """Render ``name`` and mail it by SMTP (``SALESCLI_SMTP_*``); returns what was sent."""
    from salescli.notify import smtp

    addresses = recipients(conn, to)
    ctx = gather(conn, name, **opts)
    msg = build_message(ctx, addresses, templates=templates)
    smtp.send(msg)
    return {"report": name, "recipients": len(addresses), "subject": msg["Subject"]}
