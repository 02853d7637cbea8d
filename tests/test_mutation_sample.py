"""``./dev mutants --sample N --seed S`` draws the same mutants in any tree at one commit:
the draw does not depend on the order mutmut happened to write their names in."""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def selection():
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    return importlib.import_module("mutation.selection")


def test_a_seed_draws_the_same_sample_whatever_order_the_mutants_come_in():
    sel = selection()
    mutants = [sel.Mutant(f"salescli.{m}.x_f__mutmut_{i}", f"salescli/{m}.py", i, i, "a → b")
               for m in ("core/db", "mail/scan", "web/plugin") for i in range(1, 40)]
    shuffled = mutants[:]
    random.Random(5).shuffle(shuffled)
    first = [m.name for m in sel.draw(mutants, 12, seed=81)]
    assert [m.name for m in sel.draw(shuffled, 12, seed=81)] == first
    assert len(set(first)) == 12
    assert [m.name for m in sel.draw(mutants, 12, seed=82)] != first  # the seed matters


def test_a_package_leaves_out_its_sample_content_unless_it_is_named():
    """`./dev mutants salescli/mail` does not mutate the sample mail (the tests' input);
    `./dev mutants salescli/mail/sample.py` still does."""
    sel = selection()
    mapping, tops = importlib.import_module("mutation.stage").read_layout()
    package = sel.resolve_paths(["salescli/mail"], mapping, tops)
    assert "salescli/mail/scan.py" in package
    assert "salescli/mail/sample.py" not in package
    assert sel.resolve_paths(["salescli/mail/sample.py"], mapping, tops) == [
        "salescli/mail/sample.py"]
