"""The settings of `./dev mutants`: what it mutates by default, where it works, what counts.

Every module of the package reads the paths (ROOT, WORK, MUTANTS, STATE) as `config.X` at
call time, so a test can point them at a scratch directory with one monkeypatch.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# What runs when no PATH is given: the packages that carry the product's promises
# (repository paths: package directories or modules). Add each new domain package here.
DEFAULT_PATHS = ["salescli/core", "salescli/pipeline", "salescli/ops", "salescli/metrics",
                 "salescli/forecast", "salescli/notify", "salescli/web", "salescli/tasks",
                 "salescli/sequences", "salescli/mail"]

# Modules of those packages that a package or the default run leaves out (name one as a PATH
# to mutate it all the same), with the reason. Only content, never logic, belongs here.
NOT_MUTATED = {
    "salescli/mail/sample.py": "the sample mail the demo and the tests build their input "
                               "from (texts, names, dates); its mutants change the tests' "
                               "input, not the code under test",
}

# Tests that cannot pass against a mutated tree, with the reason: files are --ignore'd, node
# ids --deselect'ed. (mutmut stops before mutating anything if a selected test fails.)
IGNORED_TESTS = {
    "tests/test_packaging.py": "installs a wheel of the tree into a fresh venv that has no "
                               "mutmut, where every mutated module fails to import",
    "tests/test_docs_pages.py::test_every_environment_variable_is_documented":
        "greps the package sources, which under mutants/ hold every mutant's text",
}

MUTMUT_VERSION = "3.8.1"
ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "mutmut"        # build/ is git-ignored (and skipped by the packaging test)
MUTANTS = WORK / "mutants"              # mutmut's own directory inside WORK
STATE = MUTANTS / "scripts-mutants.json"  # hashes of the .py files when the stats were saved
GUARD_PLUGIN = "_mutmut_guard"          # pytest plugin written into WORK, loaded with -p
MUTANT_TEST_TIMEOUT_S = 120              # pytest-timeout per test under a mutant (a hang fails)
MARKER = b"from mutmut.mutation.trampoline import"  # first line mutmut adds to a mutated module

# mutmut's verdicts (mutmut/stats.py status_by_exit_code) counted as killed. -9 ("segfault")
# is also how the CPU-time limit ends a looping mutant, so it counts as a kill like "timeout".
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


class UsageError(Exception):
    """A bad command line or set-up: main prints `error: ...` and exits 2."""


def git(*args: str) -> str:
    """The output of `git ARGS...` run in the repository (raises CalledProcessError)."""
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout

