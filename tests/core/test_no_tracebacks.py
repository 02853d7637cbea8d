"""Every command, given a number no SQLite integer or date can hold where it takes a number
or an id, answers with an ``Error:`` line or its usual output — never a traceback. (Calling
every command with odd values found a dozen OverflowErrors; this keeps the whole class out,
including commands added later.)"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from salescli.cli import cli
from tests.support.cli import ok

HUGE = "99999999999999999999"
SKIP = {"serve", "demo", "db replicate", "scan"}  # long-running or network: tested elsewhere


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        full = (*path, name)
        if " ".join(full) in SKIP:
            continue
        if isinstance(command, click.Group):
            if command.invoke_without_command:  # a group that is a command too (forecast)
                yield full, command
            yield from _commands(command, full)
        else:
            yield full, command


def _calls():
    """(command path, arguments) with HUGE in each number option and each ID argument."""
    for path, command in _commands(cli):
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        base = ["ada@example.com" if "ID" in (p.metavar or p.name.upper()) else "intro"
                for p in arguments if p.required]
        for i, p in enumerate(a for a in arguments if a.required):
            if "ID" in (p.metavar or p.name.upper()):
                yield path, [*base[:i], HUGE, *base[i + 1:]]
        for option in command.params:
            if isinstance(option, click.Option) and not option.is_flag and (
                    isinstance(option.type, click.types.IntParamType)
                    or "ID" in (option.metavar or "")):
                yield path, [*base, option.opts[0], HUGE]


CALLS = list(_calls())


def test_the_sweep_reaches_the_commands_that_take_numbers():
    reached = {" ".join(path) for path, _ in CALLS}
    assert {"prospects list", "prospects show", "tasks done", "jobs history", "metrics",
            "notify", "activity", "db cleanup", "stages add", "forecast"} <= reached


@pytest.mark.parametrize("path, args", CALLS, ids=[" ".join(p) + " " + " ".join(a)[-28:]
                                                   for p, a in CALLS])
def test_a_number_too_big_is_never_a_traceback(invoke, conn, db_file, tmp_path, monkeypatch,
                                               path, args):
    monkeypatch.chdir(tmp_path)  # `db backup intro` makes ./intro
    monkeypatch.setenv("SALESCLI_SECRET", "k" * 40)
    ok(invoke("prospects", "add", "ada@example.com"))
    result = CliRunner().invoke(cli, ["--db", str(db_file), *path, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1, 2)
