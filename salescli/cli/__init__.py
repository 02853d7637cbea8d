"""The ``salescli`` command: a thin Click layer over the library.

Command groups live in their own modules and are imported only when invoked,
so ``salescli prospects list`` never pays for Datasette, imapclient or Jinja2.
"""

from __future__ import annotations

import getpass
import importlib
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from salescli import __version__
from salescli.core.errors import SalescliError

# name → "module:attribute"; the module is imported on first use.
COMMANDS = {
    "init": "salescli.cli.basics:init",
    "demo": "salescli.cli.demo:demo",
    "prospects": "salescli.cli.prospects:prospects",
    "log": "salescli.cli.basics:log_interaction",
    "stages": "salescli.cli.stages:stages",
    "users": "salescli.cli.users:users",
    "tokens": "salescli.cli.tokens:tokens",
    "activity": "salescli.cli.basics:activity",
    "export": "salescli.cli.export:export",
    "scan": "salescli.cli.scan:scan",
    "notify": "salescli.cli.notify:notify",
    "rollup": "salescli.cli.metrics:rollup",
    "metrics": "salescli.cli.metrics:metrics",
    "forecast": "salescli.cli.forecast:forecast",
    "report": "salescli.cli.report:report",
    "serve": "salescli.cli.serve:serve",
    "health": "salescli.cli.ops:health",
    "jobs": "salescli.cli.ops:jobs",
    "db": "salescli.cli.ops:db_group",
    "tasks": "salescli.cli.tasks:tasks",
    "sequences": "salescli.cli.sequences:sequences",
    "send": "salescli.cli.sequences:send",
    "suppress": "salescli.cli.suppress:suppress",
    "unsuppress": "salescli.cli.suppress:unsuppress",
    "suppressions": "salescli.cli.suppress:suppressions",
}


@dataclass
class Settings:
    """What every command needs: the database path and who is acting."""

    db: Path
    actor: str


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used; user errors become one line."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx)) | set(self.lazy)
        return sorted(n for n in names if self.get_command(ctx, n) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError):
                if os.environ.get("SALESCLI_DEBUG"):
                    raise
                return None
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SalescliError as exc:
            from salescli.core.log import redact  # a secret in a value never reaches stderr

            raise click.ClickException(redact(str(exc))) from None
        except sqlite3.DatabaseError as exc:
            # Locked, unreadable or not-a-database files are the user's to fix; constraint
            # and programming errors are bugs and keep their traceback.
            if type(exc) not in (sqlite3.DatabaseError, sqlite3.OperationalError):
                raise
            where = getattr(ctx.obj, "db", None)
            raise click.ClickException(f"database {str(where)!r}: {exc}" if where
                                       else f"database: {exc}") from None
        except BrokenPipeError:
            # Output piped into head(1) and the like: stop quietly.
            sys.stderr.close()
            sys.exit(0)
        except OSError as exc:
            # A path the user gave that the system refuses (too long, read-only, full, not a
            # directory …): one line naming it, as cp(1) would. Others keep their traceback.
            if exc.filename is None or not exc.strerror:
                raise
            raise click.ClickException(f"{str(exc.filename)!r}: {exc.strerror}") from None


def default_actor() -> str:
    """``SALESCLI_USER``, else the OS user: for attribution only."""
    try:
        fallback = getpass.getuser()
    except Exception:  # no passwd entry (containers)
        fallback = str(os.getuid())
    return os.environ.get("SALESCLI_USER") or fallback


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="salescli")
@click.option("--db", "db", type=click.Path(dir_okay=False), envvar="SALESCLI_DB",
              default="sales.db", show_default=True, help="The sales database (SALESCLI_DB).")
@click.option("--as", "actor", metavar="USER", help="Who is acting, for the audit log "
              "(default: SALESCLI_USER, else the OS user).")
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, db: str, actor: str | None, verbose: int, quiet: bool) -> None:
    """Manage a sales pipeline in one SQLite database."""
    from salescli.core.log import setup_logging

    setup_logging(verbose=verbose, quiet=quiet, job=ctx.invoked_subcommand)
    ctx.obj = Settings(db=Path(db), actor=(actor or "").strip() or default_actor().strip()
                       or "unknown")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="salescli")
