#!/usr/bin/env python3
"""Generate docs/cli.md from every salescli command's ``--help``; ``--check`` fails if stale.

Usage:
    python scripts/cli_docs.py            rewrite docs/cli.md
    python scripts/cli_docs.py --check    exit 1 (with a diff) when docs/cli.md is not current

The help is rendered at a fixed width with the SALESCLI_* environment removed,
so the output is the same on every machine.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "cli.md"
WIDTH = 100
HEADER = """# salescli command reference

Generated from each command's `--help` by `python scripts/cli_docs.py`; do not edit by
hand. CI runs `python scripts/cli_docs.py --check` to keep it current.
"""


def _clean_environment() -> None:
    for name in list(os.environ):
        if name.startswith(("SALESCLI_", "DATASETTE_")) or name in ("COLUMNS", "LINES"):
            del os.environ[name]


def walk(command, ctx, path: list[str]) -> Iterator[tuple[list[str], str]]:
    """(command path, help text) for ``command`` and every subcommand, depth first."""
    import click

    yield path, command.get_help(ctx).rstrip() + "\n"
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx, terminal_width=WIDTH,
                                    max_content_width=WIDTH)
            yield from walk(sub, sub_ctx, path + [name])


def missing_commands() -> list[str]:
    """Registered command names whose module cannot be imported (they would vanish)."""
    import importlib

    from salescli.cli import COMMANDS

    missing = []
    for name, target in COMMANDS.items():
        module, attr = target.split(":")
        try:
            getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name} ({target}: {exc})")
    return missing


def render() -> str:
    """The whole of docs/cli.md."""
    _clean_environment()
    import click

    from salescli.cli import cli

    ctx = click.Context(cli, info_name="salescli", terminal_width=WIDTH,
                        max_content_width=WIDTH)
    parts = [HEADER]
    entries = list(walk(cli, ctx, ["salescli"]))
    parts.append("\n".join(f"- [{' '.join(p)}](#{'-'.join(p)})" for p, _ in entries) + "\n")
    for p, text in entries:
        parts.append(f'<a id="{"-".join(p)}"></a>\n\n## {" ".join(p)}\n\n```text\n{text}```\n')
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    text = render()
    for name in missing_commands():
        print(f"warning: command not documented, its module does not load: {name}",
              file=sys.stderr)
    if check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), "docs/cli.md (checked in)",
                "docs/cli.md (from --help)"))
            print("docs/cli.md is out of date: run python scripts/cli_docs.py",
                  file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
