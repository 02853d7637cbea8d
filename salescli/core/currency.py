"""Currencies: the default one (``SALESCLI_CURRENCY``) and checking a code.

A prospect's ``currency`` is NULL when it is the default, so a database that never
mentions currencies keeps working when the default changes. Sums of values are kept
apart per currency everywhere they are shown (``totals``): two currencies never add up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from salescli.core.errors import InvalidValue

DEFAULT = "USD"
_CODE = re.compile(r"^[A-Z]{3}$")


def parse_currency(value: Any, field: str = "currency") -> str:
    """An ISO 4217-shaped code (three letters A–Z, upper-cased), or InvalidValue naming
    the field and the value."""
    text = str(value).strip().upper()  # None → "NONE": not a code either
    if not _CODE.match(text):
        raise InvalidValue(field, value, "is not a currency code (three letters, e.g. USD, EUR)")
    return text


def default_currency() -> str:
    """The currency of prospects without one: ``SALESCLI_CURRENCY``, else USD."""
    text = os.environ.get("SALESCLI_CURRENCY", "").strip()
    return parse_currency(text, "SALESCLI_CURRENCY") if text else DEFAULT


def totals(pairs: Iterable[tuple[str | None, float | None]], *,
           default: str | None = None) -> dict[str, float]:
    """Sum ``(currency, value)`` pairs per currency (NULL currency = the default), rounded to
    cents, ordered by code; values that are None are skipped. Never one figure for two."""
    base = default or default_currency()
    sums: dict[str, float] = {}
    for code, value in pairs:
        if value is None:
            continue
        key = code or base
        sums[key] = sums.get(key, 0.0) + float(value)
    return {k: round(sums[k], 2) for k in sorted(sums)}


def money(value: float | None, code: str) -> str:
    """A figure for people: two decimals, thousands separated, then the currency code."""
    if value is None:
        return "-"
    return f"{value:,.2f} {code}".rstrip()
