"""build/mutmut/: the repository mirrored in its installed layout, and mutmut's config.

Also the two files of ours written into that tree: a pytest plugin and a sitecustomize.py,
so that a test's subprocesses (python -m salescli...) run the mutant too, and their calls
count in mutmut's test -> function map.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

from . import config
from .config import (
    DEFAULT_PATHS,
    GUARD_PLUGIN,
    IGNORED_TESTS,
    MUTANT_TEST_TIMEOUT_S,
    UsageError,
    git,
)

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

import gc
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before mutmut reads a test's calls: add its subprocesses' calls, and keep the garbage
    collector off while mutmut iterates the calls. A collected object's __del__ (a
    connection's) is itself a mutated function: recorded mid-iteration, it ended a stats
    pass with "Set changed size during iteration", at the same test each time."""
    _add_subprocess_hits()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _add_subprocess_hits():
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


# --------------------------------------------------------------------------- layout

def read_layout() -> tuple[dict[str, str], list[str]]:
    """setup.cfg's package_dir as {package: directory}, and the top-level package names."""
    cfg = configparser.RawConfigParser()
    cfg.read(config.ROOT / "setup.cfg")
    mapping = {}
    for line in cfg.get("options", "package_dir", fallback="").splitlines():
        package, eq, directory = line.partition("=")
        if eq:
            mapping[package.strip()] = directory.strip().rstrip("/")
    packages = cfg.get("options", "packages", fallback="").split()
    tops = {p.split(".")[0] for p in [*packages, *mapping] if p and not p.startswith("find")}
    if not tops:  # packages = find: and no package_dir: the packages of the defaults
        tops = {Path(p).parts[0] for p in DEFAULT_PATHS
                if (config.ROOT / Path(p).parts[0] / "__init__.py").exists()}
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
        files = [p.relative_to(config.ROOT).as_posix() for p in config.ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(config.ROOT).parts)]
    return sorted(f for f in files if (config.ROOT / f).is_file())


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
        wanted[f] = config.ROOT / f                # tests read README.md, docs/, jobs/*.py, ...
        wanted.setdefault(to_staged(f, mapping), config.ROOT / f)
    generated = {"setup.cfg", f"{GUARD_PLUGIN}.py", "sitecustomize.py"}
    for rel, src in wanted.items():
        if rel in generated:
            continue
        dst = config.WORK / rel
        if not _same(src, dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)                 # keep the mtime: mutmut regenerates by mtime
        # mutmut copies a package's non-.py files (templates, data) into mutants/ only once.
        copy = config.MUTANTS / rel
        if (not rel.endswith(".py") and any(rel.startswith(t + "/") for t in tops)
                and copy.parent.is_dir() and not _same(src, copy)):
            shutil.copy2(src, copy)
    for path in sorted(config.WORK.rglob("*"), reverse=True):    # gone from the repository: drop it
        rel = path.relative_to(config.WORK).as_posix()
        if rel.split("/")[0] == "mutants" or rel in generated or "__pycache__" in rel:
            continue
        if path.is_file() and rel not in wanted:
            path.unlink()
            for suffix in ("", ".meta", ".spans"):
                (config.MUTANTS / (rel + suffix)).unlink(missing_ok=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    _write_if_changed(config.WORK / f"{GUARD_PLUGIN}.py", GUARD_SOURCE)
    _write_if_changed(config.WORK / "sitecustomize.py", SITECUSTOMIZE_SOURCE)
    return sorted({rel.split("/")[0] for rel in wanted} | generated)


def write_config(tops: list[str], entries: list[str], tests: list[str], debug: bool) -> None:
    """WORK/setup.cfg: the repository's setup.cfg plus the [mutmut] section for this run."""
    if re.search(r"(?m)^\[tool\.mutmut\]", (config.ROOT / "pyproject.toml").read_text()
                 if (config.ROOT / "pyproject.toml").exists() else ""):
        raise UsageError("pyproject.toml has [tool.mutmut], which makes mutmut ignore setup.cfg: "
                         "move those keys to a [mutmut] section of setup.cfg")
    text = (config.ROOT / "setup.cfg").read_text()
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
        # A mutant that makes a test wait forever (a watcher that never stops) sleeps, so
        # mutmut's CPU-time limit never ends it: pytest-timeout fails that test instead.
        "pytest_add_cli_args": ["-p", GUARD_PLUGIN, f"--timeout={MUTANT_TEST_TIMEOUT_S}"],
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
    _write_if_changed(config.WORK / "setup.cfg", text + "\n".join(lines) + "\n")

