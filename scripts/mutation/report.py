"""The report: each package's score, the surviving mutants, and what has no verdict."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from .config import KILLED
from .selection import Mutant
from .stage import to_repo

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

