"""Which mutants: PATH arguments, --changed lines, and the mutants mutmut wrote for them,
and the fixed random sample of them (--sample, --seed).
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import random
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from . import config
from .config import UsageError, git
from .sqlcase import sql_case_mutant
from .stage import to_staged


def _repo_path(f: Path) -> str:
    """f as a path relative to the repository, or f itself when it is outside."""
    try:
        return f.relative_to(config.ROOT).as_posix()
    except ValueError:
        return f.as_posix()


def resolve_paths(args: list[str], mapping: dict[str, str], tops: list[str]) -> list[str]:
    """PATH arguments -> the staged paths of their modules."""
    files: set[str] = set()
    for arg in args:
        p = Path(arg) if Path(arg).is_absolute() else Path.cwd() / arg
        if not p.exists() and (config.ROOT / arg).exists():
            p = config.ROOT / arg
        p = p.resolve()
        if p.is_dir():
            found = [f for f in p.rglob("*.py") if "__pycache__" not in f.parts
                     and _repo_path(f) not in config.NOT_MUTATED]
        elif p.is_file() and p.suffix == ".py":
            found = [p]
        else:
            raise UsageError(f"{arg}: not a package directory or a .py module")
        for f in found:
            try:
                staged = to_staged(f.relative_to(config.ROOT).as_posix(), mapping)
            except ValueError:
                raise UsageError(f"{arg}: not inside {config.ROOT}") from None
            if not any(staged.startswith(t + "/") for t in tops):
                raise UsageError(f"{arg}: not in the packages {', '.join(tops)}")
            files.add(staged)
    return sorted(files)



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
        length = len((config.ROOT / f).read_text().splitlines())
        lines[to_staged(f, mapping)].update(range(1, length + 1))
    return lines


# --------------------------------------------------------------------------- mutants

@dataclass
class Mutant:
    """One mutant of a selected module: where it is, what it changes, and its verdict."""

    name: str          # mutmut's key, e.g. salescli.mail.classify.x_score__mutmut_3
    path: str          # staged path of its module
    line: int          # first source line the mutation changes (0: could not tell)
    last: int          # last one
    change: str        # "old → new"
    status: str = "not checked"
    sql_case: bool = False   # only an SQL literal's letter case changed (sql_case_mutant)


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


def draw(mutants: list[Mutant], n: int, seed: int) -> list[Mutant]:
    """``n`` of the mutants at random, the same ``n`` for a seed in any tree: drawn from
    them in file and name order (mutmut's .meta files keep their names in an order that
    follows the tree's history, so two trees at one commit drew different samples)."""
    return random.Random(seed).sample(sorted(mutants, key=lambda m: (m.path, m.name)), n)


def list_mutants(files: list[str]) -> list[Mutant]:
    """The mutants of `files` with line and change, from mutants/F(.meta/.spans) and F.

    mutmut writes each mutant as a whole copy of its function next to an unmutated copy
    (x_f__mutmut_orig), and .spans says where each copy is: the diff of the two copies is
    the change, and the unmutated copy's `def` line is the function's `def` line in F.
    """
    mutants = []
    for f in files:
        if not (config.MUTANTS / (f + ".meta")).exists():
            continue                                # do_not_mutate'd
        names = list(json.loads((config.MUTANTS / (f + ".meta")).read_text())["exit_code_by_key"])
        if not names:
            continue
        spans = json.loads((config.MUTANTS / (f + ".spans")).read_text())["spans"]
        code = (config.MUTANTS / f).read_text().splitlines()
        defs = _def_lines((config.WORK / f).read_text())
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

