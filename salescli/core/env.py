"""Numbers from the environment (``SALESCLI_*`` settings): an empty or unset variable
means the default, and a bad value is the user's to fix, named in one ``Error:`` line
rather than ignored or turned into a traceback."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from salescli.core.errors import InvalidValue

N = TypeVar("N", int, float)


def number(name: str, default: N, cast: Callable[[str], N] = int, minimum: float = 0) -> N:
    """The number ``name`` holds (``cast`` of its text), else ``default``; InvalidValue
    naming the variable when it is not a number or is under ``minimum``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise InvalidValue(name, raw, "is not a whole number" if cast is int
                           else "is not a number") from None
    if value < minimum:
        raise InvalidValue(name, raw, f"must be at least {minimum}")
    return value
