"""Escaping and number formatting for each report format, as Jinja2 filters.

HTML relies on Jinja2 autoescape. Markdown has its own escaper (``md``), applied to
every ``{{ … }}`` of a Markdown template by ``finalize``, so a name like
``*[x](javascript:alert(1))*`` stays text in any renderer. Text is left as is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

# Inline Markdown syntax, backslash-escaped (CommonMark and Python-Markdown both honour it).
_MD_INLINE = re.compile(r"([\\`*_{}\[\]()#+!|~])")
# Syntax that only matters at the start of a line: list items ("- x", "1. x"), rules and
# setext underlines ("---", "==="). "#", "+" and ">" are always escaped above.
_MD_LIST = re.compile(r"^(\s*\d*)([-=.)])(?=\s|[-=\s]*$)")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")


def md_escape(value: Any) -> Markup:
    """Text made inert for Markdown: no emphasis, links, images, code, tables or raw HTML.

    ``&``, ``<`` and ``>`` become entities (Python-Markdown does not honour ``\\<``);
    line breaks become spaces so a value cannot start a block of its own.
    """
    if value is None:
        return Markup("")
    if isinstance(value, Markup):
        return value
    text = _NEWLINES.sub(" ", str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_INLINE.sub(r"\\\1", text)
    text = _MD_LIST.sub(r"\1\\\2", text)
    return Markup(text)


def md_finalize(value: Any) -> Any:
    """Jinja2 ``finalize`` for Markdown templates: escape unless already marked safe."""
    return md_escape(value)


def num(value: Any) -> str:
    """A count with thousands separators; empty for None."""
    if value is None or value == "":
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _compact(v: float) -> str:
    for threshold, size, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(v) >= threshold:
            return f"{v / size:,.1f}".rstrip("0").rstrip(".") + suffix
    return f"{v:,.0f}"


def moneys(value: Any, code: str | None = None) -> list[str]:
    """Money as one figure per currency, each compact with its code (12,500 → 12.5k USD;
    3,400,000 → 3.4M). ``value`` is a number (in ``code``, default SALESCLI_CURRENCY) or
    totals per currency (``{"EUR": 300, "USD": 5000}``); two currencies never add up."""
    from salescli.core.currency import default_currency

    if value is None or value == "":
        return ["–"]
    if isinstance(value, dict):
        if not value:
            return ["0"]
        return [f"{_compact(float(v))} {c}" for c, v in value.items()]
    return [f"{_compact(float(value))} {code or default_currency()}"]


def money(value: Any, code: str | None = None) -> str:
    """``moneys`` on one line: the figures of several currencies side by side."""
    return " · ".join(moneys(value, code))


def pct(value: Any) -> str:
    """A rate 0..1 as a percentage; '–' when undefined (nothing to divide by)."""
    if value is None:
        return "–"
    return f"{100 * float(value):.1f}%"


def owner_label(value: Any) -> str:
    """The owner's name, or '(unassigned)'."""
    return str(value) if value else "(unassigned)"


def local(value: Any, fmt: str = "%Y-%m-%d %H:%M", tz: str | None = None) -> str:
    """An ISO UTC timestamp shown in the report's time zone."""
    if not value:
        return "–"
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(ZoneInfo(tz) if tz else UTC).strftime(fmt)


def clip(value: Any, width: int = 40) -> str:
    """Shorten long text with an ellipsis (for fixed-width text tables)."""
    text = _NEWLINES.sub(" ", "" if value is None else str(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def cell(value: Any, width: int) -> str:
    """Text clipped and padded to ``width`` columns, left-aligned (plain-text tables)."""
    return clip(value, width - 1).ljust(width)


def rcell(value: Any, width: int) -> str:
    """Like ``cell`` but right-aligned, for numbers."""
    return clip(value, width - 1).rjust(width)


FILTERS = {"num": num, "money": money, "moneys": moneys, "pct": pct, "owner_label": owner_label,

           "local": local, "clip": clip, "cell": cell, "rcell": rcell, "md": md_escape}
