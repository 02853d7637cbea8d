"""Driving mutmut: generate the mutants, keep its stats where they hold, run it, read verdicts."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from . import config
from .config import MARKER
from .selection import Mutant


def _mutated(f: str) -> bool:
    """Is mutants/f an up-to-date mutmut output for WORK/f (not a plain copy, not stale)?"""
    src, out = config.WORK / f, config.MUTANTS / f
    if not (out.exists() and (config.MUTANTS / (f + ".meta")).exists()):
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
    os.chdir(config.WORK)                       # mutmut reads its config from the working directory
    from multiprocessing import Pool

    from mutmut.__main__ import create_file_mutants
    todo = [f for f in files if not _mutated(f)]
    if not todo:
        return
    for f in todo:
        for suffix in ("", ".meta", ".spans"):
            (config.MUTANTS / (f + suffix)).unlink(missing_ok=True)
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


def module_globs(files: list[str]) -> list[str]:
    """Name globs for all mutants of these modules: MODULE.x_* (functions), MODULE.xǁ* (methods)."""
    globs = []
    for f in files:
        module = f[:-3].replace("/", ".").removesuffix(".__init__")
        globs += [f"{module}.x_*", f"{module}.xǁ*"]
    return globs


# --------------------------------------------------------------------------- stats cache

def _hashes(paths: list[Path]) -> dict[str, str]:
    return {p.relative_to(config.WORK).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in paths if p.is_file()}


def _tracked_hashes(tops: list[str]) -> dict[str, str]:
    return _hashes(sorted(p for d in [*tops, "tests"] for p in (config.WORK / d).rglob("*.py")
                          if "__pycache__" not in p.parts))


def prepare_stats(tops: list[str]) -> None:
    """Keep mutmut's test -> function stats from the last run where they still hold.

    mutmut reuses mutants/mutmut-stats.json and runs the stats only of tests it has not
    seen (and of all tests when the test selection changed). Tests in test files changed
    since, and tests that called a function of a module changed since, are taken out of it
    here: mutmut takes them for new tests and collects their stats again. (Stats of unknown
    age are dropped; --fresh starts over.)
    """
    stats_file = config.MUTANTS / "mutmut-stats.json"
    if not stats_file.exists():
        return
    try:
        old = json.loads(config.STATE.read_text())["hashes"]
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
    """Record the hashes the stats now hold for, for prepare_stats on the next run."""
    if (config.MUTANTS / "mutmut-stats.json").exists():
        config.STATE.write_text(json.dumps({"hashes": _tracked_hashes(tops)}, indent=1))


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
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(config.MUTANTS), env.get("PYTHONPATH")]))
    log = config.WORK / "mutmut-run.log"
    tty = sys.stdout.isatty()
    last_note, status = time.monotonic(), ""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=config.WORK, env=env, stdout=subprocess.PIPE,
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
    """Set each mutant's status from mutmut's verdicts in mutants/*.meta."""
    from mutmut.stats import status_by_exit_code
    codes: dict[str, dict] = {}
    for m in mutants:
        if m.path not in codes:
            meta = json.loads((config.MUTANTS / (m.path + ".meta")).read_text())
            codes[m.path] = meta["exit_code_by_key"]
        m.status = status_by_exit_code[codes[m.path].get(m.name)]

