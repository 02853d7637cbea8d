"""The package map holds: each package imports only from packages in lower layers (or from
itself), no import cycle between modules, and no module imports another's ``_private`` name.

Imports are read with ``ast`` from every module of ``salescli/``, ``jobs/`` and ``reports/``
(shipped as ``salescli.jobs`` and ``salescli.reports``), function-level ones included: an
import hidden in a function is still a dependency. docs/architecture.md draws this map.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package → layer; a package may import from its own modules and from lower layers only.
LAYERS = {
    "salescli": 0,  # salescli/__init__.py: the version, nothing else
    "core": 0,
    "pipeline": 1, "ops": 1, "metrics": 1, "forecast": 1,
    "notify": 2, "web": 2, "tasks": 2,
    # sequences send through notify's SMTP client, so they sit one layer above it
    "mail": 3, "reports": 3, "demo": 3, "sequences": 3,
    "cli": 4,
    "jobs": 5,
    "__main__": 6,
}
ROOTS = {"salescli": "salescli", "jobs": "salescli.jobs", "reports": "salescli.reports"}


def read_tree(root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """module name → (file path relative to the repository, source text)."""
    modules = {}
    for folder, package in ROOTS.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            modules[name] = (path.relative_to(root).as_posix(), path.read_text())
    return modules


def package_of(module: str) -> str:
    """The layer key of a module: ``salescli.core.db`` → ``core``; ``salescli`` → itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports(module: str, source: str, known: Mapping) -> Iterator[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every salescli import in source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "salescli":
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against this module's package
                anchor = module.split(".")[: -node.level]
                base = ".".join([*anchor, node.module])
            if base.split(".")[0] != "salescli":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # from package import module
                    yield node.lineno, sub, None
                else:
                    yield node.lineno, base, alias.name


def problems(modules: Mapping[str, tuple[str, str]]) -> list[str]:
    """Every broken rule, as ``file:line: what``; an empty list when the map holds."""
    found: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in modules}
    where: dict[tuple[str, str], str] = {}
    for module, (path, source) in modules.items():
        src_pkg = package_of(module)
        if src_pkg not in LAYERS:
            found.append(f"{path}:1: package {src_pkg!r} has no layer (add it to LAYERS "
                         "and docs/architecture.md)")
            continue
        for line, target, name in imports(module, source, modules):
            at = f"{path}:{line}"
            dst_pkg = package_of(target)
            if dst_pkg not in LAYERS:
                found.append(f"{at}: imports {target}, whose package has no layer")
                continue
            if dst_pkg != src_pkg and LAYERS[dst_pkg] >= LAYERS[src_pkg] and dst_pkg != "salescli":
                found.append(f"{at}: {src_pkg} (layer {LAYERS[src_pkg]}) imports {target} "
                             f"({dst_pkg}, layer {LAYERS[dst_pkg]}): only lower layers")
            if name and name.startswith("_") and not name.startswith("__") and target != module:
                found.append(f"{at}: imports the private name {name} from {target}: "
                             "make it public where it is shared")
            if target in graph and target != module:
                graph[module].add(target)
                where.setdefault((module, target), at)
    found += [f"{where[(cycle[0], cycle[1])]}: import cycle: {' -> '.join(cycle)}"
              for cycle in cycles(graph)]
    return found


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(_cycle_through(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def _cycle_through(graph: Mapping[str, set[str]], component: set[str]) -> list[str]:
    """A concrete cycle inside a strongly connected component, for the message."""
    start = min(component)
    path, seen = [start], {start}
    while True:
        nxt = min(w for w in graph[path[-1]] if w in component)
        if nxt in seen:
            return path[path.index(nxt):] + [nxt]
        path.append(nxt)
        seen.add(nxt)


def test_the_package_map_holds():
    modules = read_tree()
    assert len(modules) > 60
    assert problems(modules) == []


def test_every_package_is_on_the_map_in_docs():
    text = (ROOT / "docs" / "architecture.md").read_text()
    packages = {package_of(m) for m in read_tree()} - {"salescli", "__main__"}
    assert sorted(p for p in packages if f"`{p}/`" not in text) == []


def _tree(**sources: str) -> dict[str, tuple[str, str]]:
    return {name.replace("__", "."): (name.replace("__", "/") + ".py", text)
            for name, text in sources.items()}


@pytest.mark.parametrize("sources, expected", [
    ({"salescli__core__db": "from salescli.pipeline import prospects\n",
      "salescli__pipeline__prospects": ""},
     "salescli/core/db.py:1: core (layer 0) imports salescli.pipeline.prospects (pipeline, "
     "layer 1): only lower layers"),
    ({"salescli__notify__outbox": "def f():\n    from salescli.web import auth\n",
      "salescli__web__auth": ""},
     "salescli/notify/outbox.py:2: notify (layer 2) imports salescli.web.auth (web, layer 2): "
     "only lower layers"),
    ({"salescli__mail__scan": "from salescli.mail.record import record\n",
      "salescli__mail__record": "def f():\n    from salescli.mail import scan\n"},
     "salescli/mail/record.py:2: import cycle: salescli.mail.record -> salescli.mail.scan -> "
     "salescli.mail.record"),
    ({"salescli__web__auth": "from salescli.web.tokens import _user\n",
      "salescli__web__tokens": ""},
     "salescli/web/auth.py:1: imports the private name _user from salescli.web.tokens: "
     "make it public where it is shared"),
    ({"salescli__gadgets__x": ""},
     "salescli/gadgets/x.py:1: package 'gadgets' has no layer (add it to LAYERS and "
     "docs/architecture.md)"),
])
def test_each_broken_rule_is_named_with_its_line(sources, expected):
    assert problems(_tree(**sources)) == [expected]


def test_a_clean_tree_has_no_problems():
    tree = _tree(salescli__core__db="import os\nfrom salescli.core.errors import SchemaError\n",
                 salescli__core__errors="class SchemaError(Exception): ...\n",
                 salescli__cli__basics="from salescli.core import db\nfrom salescli import x\n")
    assert problems(tree) == []
