"""A wheel built from the repository installs in a fresh virtualenv and runs the demo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Build litter and local state that must not leak into the copied source tree.
SKIP_EVERYWHERE = {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".mypy_cache"}
SKIP_AT_ROOT = {".git", ".venv", "build", "dist", "demo", "node_modules"}


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in SKIP_EVERYWHERE or n.endswith((".egg-info", ".pyc"))
            or n.endswith((".db", ".db-wal", ".db-shm"))}
    if Path(directory).resolve() == REPO:
        skip |= SKIP_AT_ROOT & set(names)
    return skip


def _env() -> dict[str, str]:
    """The outer environment without anything that would make the source tree importable."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
           and not k.startswith(("SALESCLI_", "DATASETTE_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(cmd: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


def _source_files(top: str) -> set[str]:
    """Files under a top-level directory that ship as salescli.<top>, as wheel paths."""
    root = REPO / top
    return {f"salescli/{top}/{p.relative_to(root).as_posix()}" for p in root.rglob("*")
            if p.is_file() and not _ignore(str(p.parent), [p.name])
            and "__pycache__" not in p.parts}


def _packages() -> set[str]:
    """Every Python package inside salescli/ in the source tree, as wheel directories."""
    return {p.parent.relative_to(REPO).as_posix() for p in (REPO / "salescli").rglob(
        "__init__.py") if "__pycache__" not in p.parts}


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_virtualenv_and_runs_the_demo(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=_ignore)
    wheels = tmp_path / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels,
                  src], cwd=tmp_path)
    (wheel,) = wheels.glob("salescli-*.whl")
    # a data directory that is not a listed package: setuptools warns it may drop it
    assert "absent from the `packages` configuration" not in built.stdout + built.stderr

    names = set(zipfile.ZipFile(wheel).namelist())
    missing = (_source_files("reports") | _source_files("jobs")) - names
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert any(n.startswith("salescli/reports/") for n in names)
    assert any(n.startswith("salescli/jobs/") and n.endswith(".py") for n in names)
    profiles = {f"salescli/pipeline/profiles/{p.name}"
                for p in (REPO / "salescli" / "pipeline" / "profiles").glob("*.toml")}
    assert profiles and not profiles - names, f"not in the wheel: {sorted(profiles - names)}"
    missing_packages = {p for p in _packages() if f"{p}/__init__.py" not in names}
    assert not missing_packages, f"packages not in the wheel: {sorted(missing_packages)}"

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    py = venv / "bin" / "python"
    _run([py, "-m", "pip", "install", "--quiet", wheel], cwd=tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    where = _run([py, "-c", "import salescli, importlib.resources as r;"
                  "print(salescli.__file__);"
                  "print(r.files('salescli.reports').joinpath('__init__.py').is_file())"],
                 cwd=work).stdout.split()
    assert Path(where[0]).is_relative_to(venv), where  # the wheel, not the source tree
    assert where[1] == "True"

    demo = work / "demo-here"
    result = _run([venv / "bin" / "salescli", "demo", "--no-serve", "--dir", demo], cwd=work)
    out = result.stdout
    assert "Pipeline:" in out
    pipeline = out[out.index("Pipeline:"):]
    for stage in ("lead", "contacted", "replied", "meeting", "proposal", "won", "lost"):
        assert f" {stage} " in pipeline
    assert (demo / "sales.db").is_file()
    assert not (work / "sales.db").exists()

    listed = _run([venv / "bin" / "salescli", "--db", demo / "sales.db", "prospects", "list",
                   "--format", "json"], cwd=work).stdout
    from salescli.demo.seed import HISTORY

    assert listed.count('"email"') == 36 + HISTORY
