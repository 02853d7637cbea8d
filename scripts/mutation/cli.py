"""Mutation testing with mutmut 3: the score of each package and every surviving mutant.

The command line of `./dev mutants` (scripts/mutants.py): parse it, then select, generate,
run and report with the other modules of this package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from . import config
from .config import DEFAULT_PATHS, KILLED, MUTMUT_VERSION, UsageError
from .report import SQL_CASE, report
from .run import generate, module_globs, prepare_stats, read_statuses, run_mutmut, save_state
from .selection import changed_lines, draw, list_mutants, resolve_paths
from .stage import read_layout, stage, to_repo, write_config


def main(argv: list[str] | None = None) -> int:
    """Run `./dev mutants ARGV`; the exit status (see scripts/mutants.py)."""
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
                    help=f"start over: delete {config.WORK.relative_to(config.ROOT)}/")
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
        defaults = [p for p in DEFAULT_PATHS if (config.ROOT / p).exists()]
        files = resolve_paths(args.paths or defaults, mapping, tops)
        lines = changed_lines(args.base, mapping) if args.changed else None
        if lines is not None:
            files = [f for f in files if lines.get(f)]
        if args.no_run:                 # read what is there: a run may be going on in WORK
            if not all((config.MUTANTS / (f + ".spans")).exists() for f in files):
                raise UsageError(f"--no-run: no mutants of these modules in {config.MUTANTS}")
        else:
            if args.fresh and config.WORK.exists():
                shutil.rmtree(config.WORK)
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
        mutants = draw(mutants, args.sample, args.seed)
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
    log = (config.WORK / "mutmut-run.log").relative_to(config.ROOT)
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
          + f". Details: cd {config.WORK.relative_to(config.ROOT)}"
          " && mutmut show NAME (or mutmut browse)")
    return 1 if rc or unchecked or below else 0

