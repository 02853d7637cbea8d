"""Every command has help and docs/cli.md is current (the pages themselves are checked by
tests/test_docs_pages.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "scripts" / "cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_commands():
    from salescli.cli import cli

    ctx = click.Context(cli, info_name="salescli")

    def walk(command, ctx, path):
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                yield from walk(sub, click.Context(sub, info_name=name, parent=ctx),
                                path + [name])

    return list(walk(cli, ctx, ["salescli"]))


def test_every_registered_command_loads():
    assert _script().missing_commands() == []


def test_every_command_and_option_has_help():
    missing = []
    for path, command in all_commands():
        name = " ".join(path)
        if not (command.help or "").strip():
            missing.append(f"{name}: no help text")
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip() \
                    and not param.hidden:
                missing.append(f"{name} {param.opts[0]}: no help text")
    assert missing == []
    assert len(all_commands()) > 20


def test_docs_cli_md_is_current():
    r = subprocess.run([sys.executable, "scripts/cli_docs.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr


def test_check_mode_notices_a_stale_reference(tmp_path, monkeypatch):
    script = _script()
    monkeypatch.setattr(script, "TARGET", tmp_path / "cli.md")
    assert script.main(["--check"]) == 1  # missing
    assert script.main([]) == 0
    assert script.main(["--check"]) == 0
    (tmp_path / "cli.md").write_text(script.TARGET.read_text().replace("Usage", "Usige", 1))
    assert script.main(["--check"]) == 1
