"""Shared pieces of the CLI: option decorators, opening the database, output."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from salescli.core import db, output


def settings() -> Any:
    """The root command's Settings (database path, actor)."""
    return click.get_current_context().find_root().obj


def read_conn() -> sqlite3.Connection:
    """Open the database for a read-only command (version checked, no migration)."""
    return db.open_read(settings().db)


def write_conn() -> sqlite3.Connection:
    """Open the database for a writing command (migrated on open)."""
    return db.open_write(settings().db)


def format_option(default: str = "table", choices: Iterable[str] = output.FORMATS) -> Callable:
    """``--format`` for every command that prints rows."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format.")


def emit(rows: Iterable[dict[str, Any]], fmt: str, columns: list[str] | None = None,
         raw: bool = False) -> int:
    """Render rows to stdout through the one renderer."""
    return output.render(rows, fmt, sys.stdout, columns=columns, raw=raw)


def emit_one(obj: dict[str, Any], fmt: str) -> None:
    """One object: JSON as an object, otherwise a two-column field/value table."""
    import json

    out = sys.stdout
    if fmt in ("json", "nl"):
        out.write(json.dumps(obj, ensure_ascii=False, default=str,
                             indent=2 if fmt == "json" else None) + "\n")
    elif fmt == "csv":
        output.write_csv([obj], out)
    else:
        output.write_table(({"field": k, "value": v} for k, v in obj.items()), out)
