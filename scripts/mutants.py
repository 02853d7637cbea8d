#!/usr/bin/env python3
"""Mutation testing with mutmut 3: the score of each package and every surviving mutant.

    python scripts/mutants.py [PATH...] [--changed [--base REF]] [--max-children N]
                              [--sample N [--seed S]] [--tests PYTEST_ARG]... [--list]
                              [--fresh] [--fail-under PCT] [--debug] [--no-run] [--not-killed]
                              [--verbose]

PATH is a package directory (salescli/mail) or a module (salescli/mail/classify.py) as the
repository spells it, package_dir-mapped ones too (jobs/scan.py); without PATH, DEFAULT_PATHS.
--changed keeps the mutants on lines changed since `git merge-base HEAD main` (commits and
uncommitted or untracked files alike). mutmut runs, for each mutant, only the tests that its
stats run saw calling the mutated function.

How (the why is in the comments at each step):
1. stage(): the repository is mirrored into build/mutmut/, with each package_dir mapping of
   setup.cfg laid out as installed (jobs/ -> salescli/jobs/), and a [mutmut] section appended
   to that copy of setup.cfg (keys of a [mutmut] section in the real setup.cfg are kept,
   except the ones set here). mutmut copies that tree to build/mutmut/mutants/ and runs there.
2. generate(): mutmut's own generator writes the selected modules' mutants, so they can be
   listed, located and picked (by line, by sample) before anything runs. (`mutmut run`
   mutates every other module too; the stats then hold for any later selection.)
3. `mutmut run NAME...` with the chosen mutants' names (or per-module globs), with
   build/mutmut/mutants on PYTHONPATH and two files of ours in that tree: a pytest plugin and
   a sitecustomize.py, so that a test's subprocesses (python -m salescli...) run the mutant
   too, and their calls count in mutmut's test -> function map.
4. The verdicts are read from mutants/*.meta, the change and line from mutants/*.spans.

Exit status: 0 once the report is printed, survivors or not: a score is a report, not a gate
(equivalent mutants survive every test suite, so "nothing survives" is not a bar each change
can meet). 1 if mutmut failed, or left selected mutants unchecked, or, with --fail-under PCT
only, if a package scores below PCT. 2 for a bad command line or no mutmut.
Standard library only, plus mutmut (MUTMUT_VERSION) as a subprocess and its generator.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import contextlib
import difflib
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

# What runs when no PATH is given: the packages that carry the product's promises
# (repository paths: package directories or modules). Add each new domain package here.
DEFAULT_PATHS = ["salescli/core", "salescli/pipeline", "salescli/ops", "salescli/metrics",
                 "salescli/forecast", "salescli/notify", "salescli/web", "salescli/tasks",
                 "salescli/sequences", "salescli/mail"]

# Tests that cannot pass against a mutated tree, with the reason: files are --ignore'd, node
# ids --deselect'ed. (mutmut stops before mutating anything if a selected test fails.)
IGNORED_TESTS = {
    "tests/test_packaging.py": "installs a wheel of the tree into a fresh venv that has no "
                               "mutmut, where every mutated module fails to import",
    "tests/test_docs_pages.py::test_every_environment_variable_is_documented":
        "greps the package sources, which under mutants/ hold every mutant's text",
}

MUTMUT_VERSION = "3.8.1"
ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutmut"        # build/ is git-ignored (and skipped by the packaging test)
MUTANTS = WORK / "mutants"              # mutmut's own directory inside WORK
STATE = MUTANTS / "scripts-mutants.json"  # hashes of the .py files when the stats were saved
GUARD_PLUGIN = "_mutmut_guard"          # pytest plugin written into WORK, loaded with -p
MARKER = b"from mutmut.mutation.trampoline import"  # first line mutmut adds to a mutated module

# mutmut's verdicts (mutmut/stats.py status_by_exit_code) counted as killed. -9 ("segfault")
# is also how the CPU-time limit ends a looping mutant, so it counts as a kill like "timeout".
KILLED = {"killed", "timeout", "segfault", "caught by type check"}

GUARD_SOURCE = f'''\
"""Loaded by scripts/mutants.py into mutmut's pytest runs (-p {GUARD_PLUGIN}); not project code.

mutmut maps tests to the functions they call by recording, in the pytest process, the calls
that go through its trampolines. Calls made in a test's subprocesses (`python -m salescli.jobs.X`,
`python -m salescli ...`) are lost, so code reached only that way gets no test ("no tests"),
although a subprocess that imports the mutated tree runs the mutant under test and can kill
it. Here each test of the stats run gets a file in MUTMUT_SUBPROC_HITS, where
sitecustomize.py makes the subprocesses write their calls, and those calls are added to the
test's own before mutmut reads them.
"""

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_dir = None
_count = itertools.count()


def _thread_call_stack():
    """mutmut's stats trampolines keep the caller in a ContextVar, set and reset at every
    call: millions of HAMT clones in one process, and on this suite (tests/mail with
    tests/sequences) the stats pass died of a segfault inside ContextVar.set, twice at the
    same test. A per-thread list does the same job (the caller of each call) without it."""
    import threading

    from mutmut.core import MutmutCallStack

    local = threading.local()

    def stack():
        if not hasattr(local, "stack"):
            local.stack = [(None, 0)]
        return local.stack

    def set_(cls, value):
        s = stack()
        s.append(value)
        return len(s) - 1

    def reset(cls, token):
        del stack()[max(1, token):]

    MutmutCallStack.get = classmethod(lambda cls: stack()[-1])
    MutmutCallStack.set = classmethod(set_)
    MutmutCallStack.reset = classmethod(reset)


_thread_call_stack()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    global _dir
    if os.environ.get("MUTANT_UNDER_TEST") != "stats":
        return
    if _dir is None:
        _dir = Path(tempfile.mkdtemp(prefix="mutmut-hits-"))
        _dir.chmod(0o1777)  # a test may run its subprocess as another user
    os.environ["MUTMUT_SUBPROC_HITS"] = str(_dir / f"{{os.getpid()}}-{{next(_count)}}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    path = os.environ.pop("MUTMUT_SUBPROC_HITS", None)
    if not path or not os.path.exists(path):
        return
    from mutmut.state import state

    with open(path) as f:
        state()._stats.update(line.strip() for line in f if line.strip())
    os.replace(path, path + ".done")


def pytest_unconfigure(config):
    global _dir
    if _dir is not None:
        shutil.rmtree(_dir, ignore_errors=True)
        _dir = None
'''

SITECUSTOMIZE_SOURCE = '''\
"""Written by scripts/mutants.py into mutmut's mutants/ tree; not project code.

Python imports this at start-up when mutants/ is on PYTHONPATH: a test's subprocess running
the mutated code. In mutmut's stats run (MUTANT_UNDER_TEST=stats, inherited) the trampolines
would record calls in memory, lost at exit, after loading mutmut's config from the working
directory, which crashes where there is none. Instead each function's first call is
appended to the file the {guard} plugin named in MUTMUT_SUBPROC_HITS.
"""

import os

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    try:
        import mutmut.mutation.trampoline as _trampoline
    except ImportError:
        pass
    else:
        _seen = set()

        def _record(name, caller=None):
            if name in _seen:
                return
            _seen.add(name)
            path = os.environ.get("MUTMUT_SUBPROC_HITS")
            if path:
                try:
                    with open(path, "a") as f:
                        f.write(name + "\\n")
                except OSError:
                    pass

        _trampoline.record_trampoline_hit = _record
'''.replace("{guard}", GUARD_PLUGIN)


class UsageError(Exception):
    pass


# --------------------------------------------------------------------------- layout

def read_layout() -> tuple[dict[str, str], list[str]]:
    """setup.cfg's package_dir as {package: directory}, and the top-level package names."""
    cfg = configparser.RawConfigParser()
    cfg.read(ROOT / "setup.cfg")
    mapping = {}
    for line in cfg.get("options", "package_dir", fallback="").splitlines():
        package, eq, directory = line.partition("=")
        if eq:
            mapping[package.strip()] = directory.strip().rstrip("/")
    packages = cfg.get("options", "packages", fallback="").split()
    tops = {p.split(".")[0] for p in [*packages, *mapping] if p and not p.startswith("find")}
    if not tops:  # packages = find: and no package_dir: the packages of the defaults
        tops = {Path(p).parts[0] for p in DEFAULT_PATHS
                if (ROOT / Path(p).parts[0] / "__init__.py").exists()}
    return mapping, sorted(tops)


def to_staged(repo_path: str, mapping: dict[str, str]) -> str:
    """A repository path in the installed layout: jobs/scan.py -> salescli/jobs/scan.py."""
    hits = [(len(d), p) for p, d in mapping.items()
            if p and d not in ("", ".") and (repo_path == d or repo_path.startswith(d + "/"))]
    if not hits:
        return repo_path
    package = max(hits)[1]
    return package.replace(".", "/") + repo_path[len(mapping[package]):]


def to_repo(staged_path: str, mapping: dict[str, str]) -> str:
    """The inverse of to_staged."""
    hits = [(len(p), p) for p in mapping if staged_path == p.replace(".", "/")
            or staged_path.startswith(p.replace(".", "/") + "/")]
    if not hits:
        return staged_path
    package = max(hits)[1]
    return mapping[package] + staged_path[len(package.replace(".", "/")):]


def repo_files() -> list[str]:
    """The working tree's files as git sees them (tracked, and untracked but not ignored)."""
    try:
        out = git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".hypothesis"}
        files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    return sorted(f for f in files if (ROOT / f).is_file())


def _same(src: Path, dst: Path) -> bool:
    try:
        a, b = src.stat(), dst.stat()
    except FileNotFoundError:
        return False
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def stage(mapping: dict[str, str], tops: list[str]) -> list[str]:
    """Mirror the repository into WORK in the installed layout; return WORK's top-level names.

    Why not run mutmut in the repository itself: mutmut names a mutant after its file's
    path (jobs/scan.py -> jobs.scan.x_f__mutmut_1) while the trampoline compares that to
    the function's __module__ (salescli.jobs.scan); and the editable install maps
    salescli.jobs to the repository's jobs/, so even with mutants/ first on sys.path the
    tests would import the unmutated jobs/. Laid out as installed, both agree.
    """
    wanted: dict[str, Path] = {}
    for f in repo_files():
        wanted[f] = ROOT / f                       # tests read README.md, docs/, jobs/*.py, ...
        wanted.setdefault(to_staged(f, mapping), ROOT / f)
    generated = {"setup.cfg", f"{GUARD_PLUGIN}.py", "sitecustomize.py"}
    for rel, src in wanted.items():
        if rel in generated:
            continue
        dst = WORK / rel
        if not _same(src, dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)                 # keep the mtime: mutmut regenerates by mtime
        # mutmut copies a package's non-.py files (templates, data) into mutants/ only once.
        copy = MUTANTS / rel
        if (not rel.endswith(".py") and any(rel.startswith(t + "/") for t in tops)
                and copy.parent.is_dir() and not _same(src, copy)):
            shutil.copy2(src, copy)
    for path in sorted(WORK.rglob("*"), reverse=True):    # gone from the repository: drop it
        rel = path.relative_to(WORK).as_posix()
        if rel.split("/")[0] == "mutants" or rel in generated or "__pycache__" in rel:
            continue
        if path.is_file() and rel not in wanted:
            path.unlink()
            for suffix in ("", ".meta", ".spans"):
                (MUTANTS / (rel + suffix)).unlink(missing_ok=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    _write_if_changed(WORK / f"{GUARD_PLUGIN}.py", GUARD_SOURCE)
    _write_if_changed(WORK / "sitecustomize.py", SITECUSTOMIZE_SOURCE)
    return sorted({rel.split("/")[0] for rel in wanted} | generated)


def write_config(tops: list[str], entries: list[str], tests: list[str], debug: bool) -> None:
    """WORK/setup.cfg: the repository's setup.cfg plus the [mutmut] section for this run."""
    if re.search(r"(?m)^\[tool\.mutmut\]", (ROOT / "pyproject.toml").read_text()
                 if (ROOT / "pyproject.toml").exists() else ""):
        raise UsageError("pyproject.toml has [tool.mutmut], which makes mutmut ignore setup.cfg: "
                         "move those keys to a [mutmut] section of setup.cfg")
    text = (ROOT / "setup.cfg").read_text()
    own = configparser.RawConfigParser()
    own.read_string(text)
    keys = dict(own.items("mutmut")) if own.has_section("mutmut") else {}
    text = re.sub(r"(?ms)^\[mutmut\][ \t]*\n.*?(?=^\[|\Z)", "", text).rstrip() + "\n"
    selection = (tests or ["tests"]) + [f"--deselect={t}" if "::" in t else f"--ignore={t}"
                                         for t in IGNORED_TESTS]
    keys.update({
        # Every module is mutated, not only the selected ones (mutmut's only_mutate): the
        # stats then cover every function and stay valid whatever is selected next (see
        # prepare_stats), and mutmut's forced-fail check fails at the first test instead of
        # running the suite up to the first test calling a selected module. The price: each
        # call goes through a trampoline (about 20% more CPU for the same mutants).
        "source_paths": tops,
        # Everything else the tests read from the tree (README.md, docs/, jobs/, scripts/, ...).
        "also_copy": [e for e in entries if e not in tops and e not in
                      {"tests", "test", "setup.cfg", "pyproject.toml", "mutants"}],
        "pytest_add_cli_args": ["-p", GUARD_PLUGIN],
        "pytest_add_cli_args_test_selection": selection,
        # Named mutants are always re-run, so cached verdicts never stand: no need to watch
        # non-Python files (that only prints warnings, about the whole repository).
        "use_git_change_detection": "false",
        "on_dependency_change": "ignore",
        "debug": "true" if debug else keys.get("debug", "false"),
    })
    lines = ["", "[mutmut]"]
    for key, value in keys.items():
        if isinstance(value, list):
            value = "".join(f"\n    {v}" for v in value)
        else:
            value = value.replace("\n", "\n    ")
        lines.append(f"{key} = {value}".rstrip())
    _write_if_changed(WORK / "setup.cfg", text + "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- selection

def resolve_paths(args: list[str], mapping: dict[str, str], tops: list[str]) -> list[str]:
    """PATH arguments -> the staged paths of their modules."""
    files: set[str] = set()
    for arg in args:
        p = Path(arg) if Path(arg).is_absolute() else Path.cwd() / arg
        if not p.exists() and (ROOT / arg).exists():
            p = ROOT / arg
        p = p.resolve()
        if p.is_dir():
            found = [f for f in p.rglob("*.py") if "__pycache__" not in f.parts]
        elif p.is_file() and p.suffix == ".py":
            found = [p]
        else:
            raise UsageError(f"{arg}: not a package directory or a .py module")
        for f in found:
            try:
                staged = to_staged(f.relative_to(ROOT).as_posix(), mapping)
            except ValueError:
                raise UsageError(f"{arg}: not inside {ROOT}") from None
            if not any(staged.startswith(t + "/") for t in tops):
                raise UsageError(f"{arg}: not in the packages {', '.join(tops)}")
            files.add(staged)
    return sorted(files)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def changed_lines(base_ref: str, mapping: dict[str, str]) -> dict[str, set[int]]:
    """{staged path: new-side line numbers} changed since the merge base with `base_ref`."""
    base = None
    for ref in (base_ref, f"origin/{base_ref}"):
        try:
            base = git("merge-base", "HEAD", ref).strip()
            break
        except subprocess.CalledProcessError:
            continue
    if base is None:
        raise UsageError(f"--changed: HEAD and {base_ref!r} have no merge base")
    lines: dict[str, set[int]] = defaultdict(set)
    current = None
    for line in git("diff", "-U0", "--no-color", "--no-ext-diff", base, "--", "*.py").splitlines():
        if line.startswith("+++ "):
            current = None if line == "+++ /dev/null" else line[6:]          # "+++ b/path"
        elif line.startswith("@@") and current:
            m = re.match(r"@@ -\S+ \+(\d+)(?:,(\d+))? @@", line)
            start, count = int(m.group(1)), 1 if m.group(2) is None else int(m.group(2))
            lines[to_staged(current, mapping)].update(range(start, start + count))
    for f in git("ls-files", "--others", "--exclude-standard", "--", "*.py").splitlines():
        lines[to_staged(f, mapping)].update(range(1, len((ROOT / f).read_text().splitlines()) + 1))
    return lines


# --------------------------------------------------------------------------- SQL case

# mutmut's string mutants include the literal in lower and in upper case. In SQL, keywords,
# table and column names and function names are case-insensitive, so most such mutants of a
# query cannot be told apart by any test: they are reported as "equivalent (SQL case)" instead
# of as survivors. Strictly: only what SQLite provably ignores may change case (see sql_case_
# equivalent); anything it keeps (quoted text, a result column's name, a stored schema) must not.
SQL_STRONG = {"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "FROM", "WHERE", "JOIN", "VALUES",
              "ORDER", "GROUP", "HAVING", "RETURNING", "PRAGMA", "CONFLICT", "UNION"}
SQL_KEYWORDS = SQL_STRONG | {"WITH", "INTO", "SET", "BY", "LIMIT", "OFFSET", "ON", "AND", "OR",
                             "NOT", "NULL", "IS", "IN", "AS", "LEFT", "INNER", "OUTER", "CROSS",
                             "DISTINCT", "EXISTS", "BETWEEN", "LIKE", "CASE", "WHEN", "THEN",
                             "ELSE", "END", "ASC", "DESC", "DO", "IGNORE", "ABORT", "DROP",
                             "CREATE", "ALTER", "TABLE", "INDEX", "VIEW", "TRIGGER", "GLOB"}
# Clauses ending a select list (at its own bracket depth).
SELECT_LIST_END = {"FROM", "WHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "WINDOW", "UNION",
                   "INTERSECT", "EXCEPT", "VALUES"}
# A bare select-list word that is a value, not a column: the column's name is the text itself.
SQL_VALUE_WORDS = {"NULL", "TRUE", "FALSE", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP"}
# Words ending the operand of GLOB (whose pattern is case-sensitive).
GLOB_OPERAND_END = SELECT_LIST_END | {"AND", "OR", "ESCAPE", "THEN", "WHEN", "ELSE", "END",
                                      "ASC", "DESC", "COLLATE"}
PLACEHOLDER = "\0"     # an f-string's {expression} inside a literal: opaque, never changed

_SQL_TOKEN = re.compile(r"""
      (?P<string>'(?:[^']|'')*')                 # 'text': case-sensitive
    | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`)   # "name": a string if no such column (DQS)
    | (?P<bracket>\[[^\]]*\])                    # [name]: always a name
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<param>\?\d*|[:@$][A-Za-z_]\w*)          # ?, ?1, :name: bound by exact name
    | (?P<format>\{[^{}]*\}|%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[A-Za-z%])  # str.format / %
    | (?P<number>\d[\w.]*)
    | (?P<word>[A-Za-z_]\w*)
    | (?P<space>\s+)
    | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


def _sql_tokens(text: str) -> list[tuple[str, str]] | None:
    """SQL text as (kind, text) tokens; None when a quote or comment is left open."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _SQL_TOKEN.match(text, pos)
        if m is None:
            return None
        kind = m.lastgroup or "other"
        if kind == "other" and m.group() in "'\"`[":
            return None                      # unbalanced: the rest lies in another literal
        if kind == "other" and text.startswith("/*", pos):
            return None
        tokens.append((kind, m.group()))
        pos = m.end()
    return tokens


def looks_like_sql(text: str) -> bool:
    """Is this literal (a whole statement or a fragment of one) SQL rather than prose?

    Strict on purpose: a strong keyword in upper case (SELECT, FROM, WHERE, ...), and the text
    starts with a keyword or continues another literal (leading space, '(' or ','), and it has
    a second keyword or a comparison, a parameter or a quoted value.
    """
    tokens = _sql_tokens(text)
    if not tokens:
        return False
    sig = [(k, t) for k, t in tokens if k not in ("space", "comment")]
    if not sig:
        return False
    upper = {t for k, t in sig if k == "word" and t.isupper() and t in SQL_KEYWORDS}
    if not upper & SQL_STRONG:
        return False
    first_kind, first = sig[0]
    starts = (first_kind == "word" and first in upper) or text[0] in " \t\n(,"
    more = len(upper) >= 2 or any(k in ("param", "string") or t in "=<>" for k, t in sig)
    return starts and more


def _plain_column(item: list[tuple[str, str]]) -> bool:
    """A select-list item whose result name SQLite takes from the schema: col, t.col, *, t.*."""
    texts = [t for _, t in item]
    if not texts or len(texts) % 2 == 0:
        return False
    for i, (kind, text) in enumerate(item):
        if i % 2 == 1:
            if text != ".":
                return False
        elif not (kind in ("word", "bracket") or (text == "*" and i == len(item) - 1)):
            return False
    return not (len(item) == 1 and texts[0].upper() in SQL_VALUE_WORDS)


def sql_case_equivalent(old: str, new: str) -> bool:
    """Is `new` the SQL literal `old` with a change of case that SQLite cannot see?

    True only when the two differ by letter case alone, `old` looks like SQL, and no case
    changes in: a 'string' (values, LIKE/GLOB patterns) or "quoted name" (SQLite reads it as a
    string when no column has that name); a bound :parameter name; a str.format {field} or %
    directive; the pattern operand of GLOB; a name after AS (a result column or alias) or a CTE's
    column list; a select-list or RETURNING item that is not a plain column (its text is the
    result column's name, e.g. count(*)); and not at all in CREATE or ALTER (sqlite_master keeps
    the text, and declared names surface in SELECT *). Literals split across Python literals
    (an open quote) are never equivalent.
    """
    if old == new or old.lower() != new.lower() or not looks_like_sql(old):
        return False
    a, b = _sql_tokens(old), _sql_tokens(new)
    if a is None or b is None or len(a) != len(b):
        return False
    for (ka, ta), (kb, tb) in zip(a, b, strict=True):
        if ka != kb or (ta != tb and ka not in ("word", "bracket", "comment", "number", "space")):
            return False
    pairs = [(k, ta, tb) for (k, ta), (_, tb) in zip(a, b, strict=True)
             if k not in ("space", "comment")]
    upper = [ta.upper() if k == "word" else None for k, ta, _ in pairs]
    if {"CREATE", "ALTER"} & set(upper):
        return False
    # Bracket depth of each token, and the word before each open bracket (CAST, a CTE name).
    depth, opener, stack = [], [], []
    for i, (_, ta, _) in enumerate(pairs):
        if ta == ")" and stack:
            stack.pop()
        depth.append(len(stack))
        opener.append(stack[-1] if stack else None)
        if ta == "(":
            stack.append(upper[i - 1] if i and upper[i - 1] else "")
    n = len(pairs)
    for i in range(n):
        word = upper[i]
        if word == "AS" and i + 1 < n:
            nxt = upper[i + 1]
            if pairs[i + 1][1] == "(" or nxt in ("NOT", "MATERIALIZED") or opener[i] == "CAST":
                pass
            elif pairs[i + 1][1] != pairs[i + 1][2]:
                return False                         # an alias: a result name or a CTE name
            if i and pairs[i - 1][1] == ")" and i + 1 < n and (
                    pairs[i + 1][1] == "(" or nxt in ("NOT", "MATERIALIZED")):
                j = i - 1                            # name(col, ...) AS (...): CTE columns
                while j >= 0 and not (pairs[j][1] == "(" and depth[j] == depth[i - 1]):
                    j -= 1
                if any(pairs[k][1] != pairs[k][2] for k in range(j, i)):
                    return False
        if word == "GLOB":
            j, d = i + 1, depth[i]
            if j < n and pairs[j][1] == "(":          # glob(pattern, text): the first argument
                j += 1
                d += 1
            while j < n and not (depth[j] == d and (pairs[j][1] == ","
                                                     or upper[j] in GLOB_OPERAND_END)):
                if depth[j] < d:
                    break
                if pairs[j][1] != pairs[j][2]:
                    return False
                j += 1
        if word in ("SELECT", "RETURNING"):
            j, d = i + 1, depth[i]
            if j < n and upper[j] in ("DISTINCT", "ALL"):
                j += 1
            item: list[int] = []
            while True:
                end = j >= n or depth[j] < d or (depth[j] == d and (
                    pairs[j][1] == "," or upper[j] in SELECT_LIST_END))
                if end:
                    if any(pairs[k][1] != pairs[k][2] for k in item):
                        tops = [k for k in item if depth[k] == d]
                        aliased = (len(tops) >= 2 and upper[tops[-2]] == "AS"
                                   and pairs[tops[-1]][1] == pairs[tops[-1]][2])
                        if not aliased and not _plain_column(
                                [(pairs[k][0], pairs[k][1]) for k in item]):
                            return False
                    item = []
                    if j >= n or depth[j] < d or pairs[j][1] != ",":
                        break
                    j += 1
                    continue
                item.append(j)
                j += 1
    return True


def _literal_text(node: ast.AST) -> str | None:
    """A str constant's text, or an f-string's with each {expression} as PLACEHOLDER."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER
                       for v in node.values)
    return None


def sql_case_mutant(old_source: str, new_source: str) -> bool:
    """Do two versions of a function differ only in SQL literals changed by case alone?"""
    try:
        a = ast.parse(textwrap.dedent(old_source))
        b = ast.parse(textwrap.dedent(new_source))
    except SyntaxError:
        return False
    changed = []
    na, nb = list(ast.walk(a)), list(ast.walk(b))
    if len(na) != len(nb):
        return False
    parents: dict[int, ast.AST] = {}
    for node in na:
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    for x, y in zip(na, nb, strict=True):
        if type(x) is not type(y):
            return False
        for (_, va), (_, vb) in zip(ast.iter_fields(x), ast.iter_fields(y), strict=True):
            if isinstance(va, list) and isinstance(vb, list):
                if len(va) != len(vb) or any(
                        not isinstance(p, ast.AST) and p != q for p, q in zip(va, vb, strict=True)):
                    return False
            elif not isinstance(va, ast.AST) and va != vb:
                if not (isinstance(x, ast.Constant) and isinstance(va, str)
                        and isinstance(vb, str)):
                    return False
                parent = parents.get(id(x))
                whole = parent if isinstance(parent, ast.JoinedStr) else x
                ya = nb[na.index(whole)]
                changed.append((_literal_text(whole), _literal_text(ya)))
    return bool(changed) and all(o is not None and n is not None and sql_case_equivalent(o, n)
                                 for o, n in changed)


# --------------------------------------------------------------------------- mutants

@dataclass
class Mutant:
    name: str          # mutmut's key, e.g. salescli.mail.classify.x_score__mutmut_3
    path: str          # staged path of its module
    line: int          # first source line the mutation changes (0: could not tell)
    last: int          # last one
    change: str        # "old → new"
    status: str = "not checked"
    sql_case: bool = False   # only an SQL literal's letter case changed (sql_case_mutant)


def _mutated(f: str) -> bool:
    """Is mutants/f an up-to-date mutmut output for WORK/f (not a plain copy, not stale)?"""
    src, out = WORK / f, MUTANTS / f
    if not (out.exists() and (MUTANTS / (f + ".meta")).exists()):
        return False
    with open(out, "rb") as fh:
        head = fh.read(4096)
    return MARKER in head and src.stat().st_mtime < out.stat().st_mtime


def _quiet() -> None:
    sys.stdout = open(os.devnull, "w")   # mutmut's create_file_mutants prints each path


def generate(files: list[str], max_children: int) -> None:
    """Write the selected modules' mutants with mutmut's own generator, as `mutmut run` does.

    `mutmut run` then finds them newer than their sources and keeps them (and mutates the
    other modules itself, on its first run). A plain copy in mutants/ (mutmut copies the
    modules it does not mutate, e.g. after an only_mutate) is newer than its source too, so
    mutmut would take it for up to date: such copies are removed first.
    """
    os.chdir(WORK)                       # mutmut reads its config from the working directory
    from multiprocessing import Pool

    from mutmut.__main__ import create_file_mutants
    todo = [f for f in files if not _mutated(f)]
    if not todo:
        return
    for f in todo:
        for suffix in ("", ".meta", ".spans"):
            (MUTANTS / (f + suffix)).unlink(missing_ok=True)
    print(f"generating the mutants of {len(todo)} module(s)", flush=True)
    if max_children <= 1:
        # In this process: a Pool forked from a process with threads (a test run) can
        # deadlock on a lock another thread held at the fork.
        with contextlib.redirect_stdout(io.StringIO()):
            results = [create_file_mutants(Path(f)) for f in todo]
    else:
        with Pool(processes=max_children, initializer=_quiet) as pool:
            results = list(pool.imap_unordered(create_file_mutants, [Path(f) for f in todo]))
    for result in results:
        if result.error:
            raise result.error


def _def_lines(source: str) -> dict[str, int]:
    """{mutmut's key of a top-level function or method (x_f, xǁClassǁm): its `def` line}."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[f"x_{node.name}"] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for child in node.body:
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"xǁ{node.name}ǁ{child.name}"] = child.lineno
    return found


def _clip(old: str, new: str, width: int = 72) -> tuple[str, str]:
    """Long lines cut down to the part that differs, with some context."""
    if len(old) <= width and len(new) <= width:
        return old, new
    p = len(os.path.commonprefix([old, new]))
    s = len(os.path.commonprefix([old[p:][::-1], new[p:][::-1]]))
    lo = max(0, p - 24)

    def cut(t: str) -> str:
        hi = min(len(t), len(t) - s + 24)
        return ("…" if lo else "") + t[lo:hi] + ("…" if hi < len(t) else "")
    return cut(old), cut(new)


def list_mutants(files: list[str]) -> list[Mutant]:
    """The mutants of `files` with line and change, from mutants/F(.meta/.spans) and F.

    mutmut writes each mutant as a whole copy of its function next to an unmutated copy
    (x_f__mutmut_orig), and .spans says where each copy is: the diff of the two copies is
    the change, and the unmutated copy's `def` line is the function's `def` line in F.
    """
    mutants = []
    for f in files:
        if not (MUTANTS / (f + ".meta")).exists():
            continue                                # do_not_mutate'd
        names = list(json.loads((MUTANTS / (f + ".meta")).read_text())["exit_code_by_key"])
        if not names:
            continue
        spans = json.loads((MUTANTS / (f + ".spans")).read_text())["spans"]
        code = (MUTANTS / f).read_text().splitlines()
        defs = _def_lines((WORK / f).read_text())
        for name in names:
            generated = name.rpartition(".")[2]              # x_f__mutmut_3
            key = generated.partition("__mutmut_")[0]        # x_f
            plain = key[2:] if key.startswith("x_") else key.split("ǁ")[-1]
            orig = key + "__mutmut_orig"
            if orig not in spans or generated not in spans or key not in defs:
                mutants.append(Mutant(name, f, 0, 0, "(see mutmut show)"))
                continue
            (a, b), (c, d) = spans[orig], spans[generated]
            old = [ln.replace(orig, plain) for ln in code[a - 1:b]]
            new = [ln.replace(generated, plain) for ln in code[c - 1:d]]
            def_at = next((i for i, ln in enumerate(old)
                           if re.match(rf"\s*(async\s+)?def {re.escape(plain)}\b", ln)), 0)
            matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
            ops = [op for op in matcher.get_opcodes() if op[0] != "equal"]
            if not ops:
                mutants.append(Mutant(name, f, defs[key], defs[key], "(see mutmut show)"))
                continue
            i1, i2, j1, j2 = ops[0][1], ops[-1][2], ops[0][3], ops[-1][4]
            first = defs[key] + i1 - def_at
            before, after = _clip(" ⏎ ".join(s.strip() for s in old[i1:i2]),
                                  " ⏎ ".join(s.strip() for s in new[j1:j2]))
            change = (f"{before} → {after}" if before and after
                      else f"- {before}" if before else f"+ {after}")
            mutants.append(Mutant(name, f, first, max(first, first + i2 - i1 - 1), change,
                                  sql_case=sql_case_mutant("\n".join(old), "\n".join(new))))
    return mutants


def module_globs(files: list[str]) -> list[str]:
    """Name globs for all mutants of these modules: MODULE.x_* (functions), MODULE.xǁ* (methods)."""
    globs = []
    for f in files:
        module = f[:-3].replace("/", ".").removesuffix(".__init__")
        globs += [f"{module}.x_*", f"{module}.xǁ*"]
    return globs


# --------------------------------------------------------------------------- stats cache

def _hashes(paths: list[Path]) -> dict[str, str]:
    return {p.relative_to(WORK).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in paths if p.is_file()}


def _tracked_hashes(tops: list[str]) -> dict[str, str]:
    return _hashes(sorted(p for d in [*tops, "tests"] for p in (WORK / d).rglob("*.py")
                          if "__pycache__" not in p.parts))


def prepare_stats(tops: list[str]) -> None:
    """Keep mutmut's test -> function stats from the last run where they still hold.

    mutmut reuses mutants/mutmut-stats.json and runs the stats only of tests it has not
    seen (and of all tests when the test selection changed). Tests in test files changed
    since, and tests that called a function of a module changed since, are taken out of it
    here: mutmut takes them for new tests and collects their stats again. (Stats of unknown
    age are dropped; --fresh starts over.)
    """
    stats_file = MUTANTS / "mutmut-stats.json"
    if not stats_file.exists():
        return
    try:
        old = json.loads(STATE.read_text())["hashes"]
    except (FileNotFoundError, ValueError, KeyError):
        stats_file.unlink()
        return
    now = _tracked_hashes(tops)
    changed = {f for f, h in now.items() if f in old and old[f] != h}
    prefixes = tuple(f + "::" if Path(f).name.startswith("test_") else str(Path(f).parent) + "/"
                     for f in changed if f.startswith("tests/"))
    modules = {f[:-3].replace("/", ".").removesuffix(".__init__")
               for f in changed if not f.startswith("tests/")}
    if not changed:
        return
    stats = json.loads(stats_file.read_text())
    by_function = stats["tests_by_mangled_function_name"]   # {"pkg.mod.x_f": [test ids]}
    drop = {t for t in stats["duration_by_test"] if prefixes and t.startswith(prefixes)}
    for function, tests in by_function.items():
        if function.rpartition(".")[0] in modules:
            drop |= set(tests)
    for t in drop:
        stats["duration_by_test"].pop(t, None)
    stats["tests_by_mangled_function_name"] = {k: [t for t in v if t not in drop]
                                               for k, v in by_function.items()}
    stats_file.write_text(json.dumps(stats, indent=4))
    print(f"{len(drop)} tests touched by {len(changed)} changed file(s) get their stats again")


def save_state(tops: list[str]) -> None:
    if (MUTANTS / "mutmut-stats.json").exists():
        STATE.write_text(json.dumps({"hashes": _tracked_hashes(tops)}, indent=1))


# --------------------------------------------------------------------------- run + report

def run_mutmut(names: list[str], max_children: int) -> tuple[int, str]:
    """`mutmut run NAME...` in WORK; returns its exit code and output (also in mutmut-run.log)."""
    # The console script, not `python -m mutmut` (which runs mutmut.__main__ twice and warns).
    exe = Path(sys.executable).parent / "mutmut"
    cmd = [str(exe) if exe.exists() else "mutmut", "run", "--max-children", str(max_children),
           *names]
    env = dict(os.environ)
    # Tests starting `python -m salescli...` or `-m salescli.jobs.X` without a PYTHONPATH of
    # their own would import the editable install, i.e. the repository's unmutated code; with
    # this they import the mutated tree, and inherit MUTANT_UNDER_TEST: they run the mutant
    # and can kill it. (The `salescli` console script with a clean environment still can't.)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(MUTANTS), env.get("PYTHONPATH")]))
    log = WORK / "mutmut-run.log"
    tty = sys.stdout.isatty()
    last_note, status = time.monotonic(), ""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=WORK, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read1(65536), b""):
            out.write(chunk)
            if tty:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
                continue
            parts = [p for p in re.split(r"[\r\n]", chunk.decode(errors="replace")) if p.strip()]
            status = parts[-1].strip() if parts else status
            if time.monotonic() - last_note > 60:          # a line a minute in logs and CI
                print(f"  … {status[:120]}", flush=True)
                last_note = time.monotonic()
        rc = proc.wait()
    return rc, log.read_bytes().decode(errors="replace")


def read_statuses(mutants: list[Mutant]) -> None:
    from mutmut.stats import status_by_exit_code
    codes: dict[str, dict] = {}
    for m in mutants:
        if m.path not in codes:
            meta = json.loads((MUTANTS / (m.path + ".meta")).read_text())
            codes[m.path] = meta["exit_code_by_key"]
        m.status = status_by_exit_code[codes[m.path].get(m.name)]


SQL_CASE = "equivalent (SQL case)"


def verdict(m: Mutant) -> str:
    """The status reported: a surviving SQL-case mutant is equivalent, not a survivor."""
    return SQL_CASE if m.sql_case and m.status == "survived" else m.status


def report(mutants: list[Mutant], mapping: dict[str, str], crashed: bool,
           fail_under: float | None, verbose: bool = False) -> bool:
    """Print scores and mutants; True when a package scores below fail_under."""
    where = {m.name: to_repo(m.path, mapping) for m in mutants}
    per_pkg: dict[str, Counter] = defaultdict(Counter)
    for m in mutants:
        per_pkg[str(Path(where[m.name]).parent)][verdict(m)] += 1
    per_pkg = dict(sorted(per_pkg.items()))
    per_pkg["TOTAL"] = sum(per_pkg.values(), Counter())
    below = False
    print("\nmutation score: killed (timeouts included) / mutants;"
          " survivors and 'no tests' are not killed; SQL-case equivalents are left out")
    for pkg, c in per_pkg.items():
        n = sum(c.values()) - c["skipped"] - c[SQL_CASE]
        killed = sum(c[k] for k in KILLED)
        pct = 100.0 * killed / n if n else 100.0
        below |= pkg != "TOTAL" and fail_under is not None and pct < fail_under
        rest = ", ".join(f"{c[k]} {k}" for k in ("survived", "no tests", "timeout", "suspicious",
                                                 "segfault", "not checked", SQL_CASE) if c[k])
        print(f"  {pkg:<24} {killed:>6} / {n:<6} {pct:5.1f}%   {rest}")

    def show(title: str, ms: list[Mutant], tag: bool = False) -> None:
        if ms:
            print(f"\n{title} ({len(ms)}):")
            for m in sorted(ms, key=lambda m: (where[m.name], m.line, m.name)):
                note = f"   [{m.status}]" if tag else ""
                print(f"  {where[m.name]}:{m.line} — {m.change}{note}")
    show("surviving mutants", [m for m in mutants if verdict(m) == "survived"])
    equivalent = [m for m in mutants if verdict(m) == SQL_CASE]
    if verbose:
        show(f"{SQL_CASE}: only the case of SQL that SQLite ignores changed", equivalent)
    elif equivalent:
        print(f"\n{SQL_CASE}: {len(equivalent)} (not counted; --verbose lists them)")
    # A test told one apart: it reads the SQL text, or the rules of sql_case_equivalent miss
    # a case SQLite keeps (then fix them).
    show("SQL-case mutants killed all the same (check sql_case_equivalent)",
         [m for m in mutants if m.sql_case and m.status in KILLED], tag=True)
    show("mutants without a verdict", [m for m in mutants if m.status in
                                       {"suspicious", "check was interrupted by user"}
                                       or (m.status == "not checked" and not crashed)], tag=True)
    untested: dict[tuple[str, str], list[Mutant]] = defaultdict(list)
    for m in mutants:
        if m.status == "no tests":
            key = m.name.rpartition(".")[2].partition("__mutmut_")[0]
            func = key[2:] if key.startswith("x_") else ".".join(key.split("ǁ")[1:])
            untested[(where[m.name], func)].append(m)
    if untested:
        print(f"\nfunctions no selected test calls ({len(untested)}; their mutants count as"
              " not killed):")
        for (path, func), ms in sorted(untested.items(),
                                       key=lambda kv: (kv[0][0], min(m.line for m in kv[1]))):
            print(f"  {path}:{min(m.line for m in ms)} {func}() — {len(ms)} mutants")
    return below


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="./dev mutants", description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", metavar="PATH", help=f"default: {' '.join(DEFAULT_PATHS)}")
    ap.add_argument("--changed", action="store_true",
                    help="only mutants on lines changed since the merge base with --base")
    ap.add_argument("--base", default="main", metavar="REF", help="for --changed (default: main)")
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 2, metavar="N",
                    help="mutants tested at once (default: the number of cores)")
    ap.add_argument("--sample", type=int, metavar="N", help="test N mutants drawn at random")
    ap.add_argument("--seed", type=int, default=0, metavar="S", help="for --sample (default: 0)")
    ap.add_argument("--tests", action="append", default=[], metavar="PYTEST_ARG",
                    help="tests that may kill mutants, repeatable (default: tests); a change"
                         " makes mutmut collect its stats again")
    ap.add_argument("--list", action="store_true", help="print the selected mutants, test nothing")
    ap.add_argument("--fresh", action="store_true",
                    help=f"start over: delete {WORK.relative_to(ROOT)}/")
    ap.add_argument("--fail-under", type=float, metavar="PCT",
                    help="exit 1 when a package scores below PCT%% (default: never)")
    ap.add_argument("--debug", action="store_true", help="mutmut debug=true: pytest's own output")
    ap.add_argument("--no-run", action="store_true",
                    help="report the last verdicts of the selected mutants, test nothing")
    ap.add_argument("--not-killed", action="store_true",
                    help="test only the selected mutants the last run did not kill (after"
                         " adding tests; a change of the code needs a full run)")
    ap.add_argument("--verbose", action="store_true",
                    help=f"also list the mutants counted as {SQL_CASE}")
    args = ap.parse_args(argv)
    started = time.monotonic()
    try:
        import mutmut
    except ImportError:
        print(f"error: no mutmut here (pip install mutmut=={MUTMUT_VERSION})", file=sys.stderr)
        return 2
    if mutmut.__version__ != MUTMUT_VERSION:
        print(f"warning: mutmut {mutmut.__version__}; this script was written for {MUTMUT_VERSION}",
              file=sys.stderr)
    try:
        mapping, tops = read_layout()
        defaults = [p for p in DEFAULT_PATHS if (ROOT / p).exists()]
        files = resolve_paths(args.paths or defaults, mapping, tops)
        lines = changed_lines(args.base, mapping) if args.changed else None
        if lines is not None:
            files = [f for f in files if lines.get(f)]
        if args.no_run:                 # read what is there: a run may be going on in WORK
            if not all((MUTANTS / (f + ".spans")).exists() for f in files):
                raise UsageError(f"--no-run: no mutants of these modules in {MUTANTS}")
        else:
            if args.fresh and WORK.exists():
                shutil.rmtree(WORK)
            entries = stage(mapping, tops)
            write_config(tops, entries, args.tests, args.debug)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    if not args.no_run:
        generate(files, args.max_children)
    mutants = list_mutants(files)
    if lines is not None:
        mutants = [m for m in mutants
                   if not m.line or lines[m.path] & set(range(m.line, m.last + 1))]
    everything = lines is None and (args.sample is None or args.sample >= len(mutants))
    if args.sample is not None and args.sample < len(mutants):
        mutants = random.Random(args.seed).sample(mutants, args.sample)
    if args.list:
        for m in sorted(mutants, key=lambda m: (m.path, m.line, m.name)):
            tag = f"   [{SQL_CASE}]" if m.sql_case else ""
            print(f"{to_repo(m.path, mapping)}:{m.line} — {m.change}   {m.name}{tag}")
        print(f"{len(mutants)} mutants")
        return 0
    if not mutants:
        print("no mutants to test")
        return 0
    if args.no_run:
        read_statuses(mutants)
        report(mutants, mapping, False, args.fail_under, args.verbose)
        return 0
    log = (WORK / "mutmut-run.log").relative_to(ROOT)
    print(f"testing {len(mutants)} mutants of {len({m.path for m in mutants})} module(s), "
          f"{args.max_children} at a time (mutmut's output: {log})", flush=True)
    prepare_stats(tops)
    if args.not_killed:
        # Tests were added since the last run: only what it did not kill can change verdict.
        read_statuses(mutants)
        names = sorted(m.name for m in mutants if m.status not in KILLED)
        print(f"{len(mutants) - len(names)} killed last time, not run again", flush=True)
    elif everything:
        names = module_globs(sorted({m.path for m in mutants}))
    else:
        names = sorted(m.name for m in mutants)
    rc, output = run_mutmut(names, args.max_children) if names else (0, "")
    if rc and "could not find any test case for any mutant" in output:
        rc = 0                        # mutmut stops when no test calls any selected function
        ran = set(names)
        for m in mutants:
            if not args.not_killed or m.name in ran:
                m.status = "no tests"
    else:
        read_statuses(mutants)
    if rc:
        tail = output.replace("\r", "\n").splitlines()
        print("\n".join(line for line in tail if line.strip())[-4000:], file=sys.stderr)
        print(f"\nmutmut failed (exit {rc}); its output: {log}", file=sys.stderr)
    else:
        save_state(tops)
    below = report(mutants, mapping, rc != 0, args.fail_under, args.verbose)
    unchecked = sum(m.status == "not checked" for m in mutants)
    print(f"\n{len(mutants)} mutants in {time.monotonic() - started:.0f}s"
          + (f", {unchecked} not checked" if unchecked else "")
          + f". Details: cd {WORK.relative_to(ROOT)} && mutmut show NAME (or mutmut browse)")
    return 1 if rc or unchecked or below else 0


if __name__ == "__main__":
    sys.exit(main())
