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

The work is done by the package scripts/mutation/ (this file is its entry point, as
`./dev mutants` runs it; the mutmut version is pinned in mutation/config.py). How (the why is
in the comments at each step):
1. stage.stage(): the repository is mirrored into build/mutmut/, with each package_dir mapping of
   setup.cfg laid out as installed (jobs/ -> salescli/jobs/), and a [mutmut] section appended
   to that copy of setup.cfg (keys of a [mutmut] section in the real setup.cfg are kept,
   except the ones set here). mutmut copies that tree to build/mutmut/mutants/ and runs there.
2. run.generate(): mutmut's own generator writes the selected modules' mutants, so they can be
   listed, located and picked (by line, by sample) before anything runs. (`mutmut run`
   mutates every other module too; the stats then hold for any later selection.)
3. run.run_mutmut(): `mutmut run NAME...` with the chosen mutants' names (or per-module globs), with
   build/mutmut/mutants on PYTHONPATH and two files of ours in that tree: a pytest plugin and
   a sitecustomize.py, so that a test's subprocesses (python -m salescli...) run the mutant
   too, and their calls count in mutmut's test -> function map.
4. The verdicts are read from mutants/*.meta (run.read_statuses), the change and line from
   mutants/*.spans (selection.list_mutants); report.report prints the scores.

Exit status: 0 once the report is printed, survivors or not: a score is a report, not a gate
(equivalent mutants survive every test suite, so "nothing survives" is not a bar each change
can meet). 1 if mutmut failed, or left selected mutants unchecked, or, with --fail-under PCT
only, if a package scores below PCT. 2 for a bad command line or no mutmut.
Standard library only, plus mutmut (MUTMUT_VERSION) as a subprocess and its generator.
"""

import sys

from mutation.cli import main

if __name__ == "__main__":
    sys.exit(main())
