"""The manual stays true: every command has help, docs/cli.md is current, README.md documents
every setting and its links lead somewhere."""

from __future__ import annotations

import importlib.util
import re
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


def test_every_environment_variable_is_in_the_configuration_reference():
    used = set()
    for folder in ("salescli", "jobs"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"SALESCLI_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    documented = set(re.findall(r"SALESCLI_[A-Z0-9_]*[A-Z0-9]",
                                (ROOT / "README.md").read_text()))
    # Prefixes used to build names (SALESCLI_IMAP_ + suffix) are not variables themselves.
    prefixes = {u for u in used if any(v.startswith(u + "_") for v in used | documented)}
    assert sorted(used - documented - prefixes) == []


def _github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of ``markdown`` (fenced code skipped)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        heading = None if in_fence else re.match(r"#{1,6} (.+)$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_readme_links_lead_to_a_heading_or_the_cli_reference():
    readme = (ROOT / "README.md").read_text()
    anchors = _github_anchors(readme)
    cli_md = (ROOT / "docs" / "cli.md").read_text()
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", readme):
        if target.startswith("#"):
            ok = target[1:] in anchors
        elif target.startswith("http"):
            continue
        else:
            path, _, fragment = target.partition("#")
            ok = (ROOT / path).is_file() and (not fragment or f'<a id="{fragment}">' in cli_md)
        if not ok:
            broken.append(target)
    assert broken == []
    assert "contents" in anchors and len(re.findall(r"^- \[", readme, re.M)) > 15
