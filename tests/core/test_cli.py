"""The command line as a whole: help, version, entry points, lean read path, ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from salescli import __version__
from tests.support.cli import ok

REPO = Path(__file__).resolve().parents[2]
FOUNDATION_COMMANDS = [
    ("init",), ("demo",), ("log",), ("activity",),
    ("prospects",), ("prospects", "add"), ("prospects", "list"), ("prospects", "show"),
    ("prospects", "update"), ("prospects", "move"), ("prospects", "archive"),
    ("prospects", "merge"), ("prospects", "forget"), ("prospects", "export"),
    ("stages",), ("stages", "list"), ("stages", "add"), ("stages", "rename"),
    ("stages", "reorder"), ("stages", "remove"),
    ("users",), ("users", "add"), ("users", "list"), ("users", "disable"),
    ("users", "set-role"), ("users", "set-email"), ("users", "passwd"),
]


@pytest.mark.parametrize("args", FOUNDATION_COMMANDS, ids=" ".join)
def test_every_command_has_help(invoke, args):
    out = ok(invoke(*args, "--help"))
    assert out.startswith("Usage: ")
    assert len(out.splitlines()) > 3


def test_root_help_lists_the_commands(invoke):
    out = ok(invoke("--help"))
    for name in ("init", "demo", "prospects", "log", "stages", "users", "activity"):
        assert f"  {name} " in out or f"  {name}\n" in out


def test_version(invoke):
    assert ok(invoke("--version")).strip() == f"salescli, version {__version__}"


def _env(**extra) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_python_dash_m_and_lean_read_path(invoke, three):
    """A read command in a real process: works, and imports no heavy dependency."""
    probe = (
        "import sys\n"
        "sys.argv = ['salescli', 'prospects', 'list', '--format', 'json']\n"
        "from salescli.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit as e:\n    code = e.code\n"
        "heavy = {'sqlite_utils', 'datasette', 'jinja2', 'imapclient', 'jwt', 'tabulate',\n"
        "         'flufl', 'httpx'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=_env(SALESCLI_DB=str(three)), timeout=60)
    assert [p["email"] for p in json.loads(result.stdout)] == [
        "ada@example.com", "bob@example.org", "cy@example.net"]
    assert result.stderr.strip().splitlines()[-1] == "[]"

    main = subprocess.run([sys.executable, "-m", "salescli", "prospects", "show", "1"],
                          capture_output=True, text=True, env=_env(SALESCLI_DB=str(three)),
                          timeout=60)
    assert main.returncode == 0 and "Ada Lovelace" in main.stdout


def test_error_in_a_real_process_is_one_line_on_stderr(three):
    result = subprocess.run([sys.executable, "-m", "salescli", "prospects", "add", "nope"],
                            capture_output=True, text=True, env=_env(SALESCLI_DB=str(three)),
                            timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "Error: email 'nope' is not a valid email address\n"


def test_a_new_prospect_never_inherits_a_deleted_ones_history(invoke, three):
    ok(invoke("prospects", "add", "secret@example.com", "--name", "Secret Person"))
    ok(invoke("prospects", "archive", "secret@example.com", "--hard", "--yes"))
    assert ok(invoke("prospects", "add", "new@example.com")) == \
        "added #5 new@example.com (lead)\n"
    show = ok(invoke("prospects", "show", "new@example.com", "--format", "json"))
    assert "secret" not in show.lower()
    acts = json.loads(ok(invoke("activity", "--prospect", "new@example.com", "--format",
                                "json")))
    assert [a["action"] for a in acts] == ["create"]
