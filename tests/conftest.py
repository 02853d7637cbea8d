"""Fixtures for every test: a private sales database under tmp, a CLI runner."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from salescli.cli import cli


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Point SALESCLI_DB at tmp and clear any salescli setting from the outer shell."""
    for name in list(os.environ):
        if name.startswith(("SALESCLI_", "DATASETTE_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SALESCLI_DB", str(tmp_path / "sales.db"))
    monkeypatch.setenv("SALESCLI_USER", "tester")
    monkeypatch.setenv("SALESCLI_LOCK_DIR", str(tmp_path / "locks"))
    yield


@pytest.fixture
def db_file(tmp_path):
    return tmp_path / "sales.db"


@pytest.fixture
def invoke():
    """Run the CLI in-process: ``invoke("prospects", "add", "a@b.c")`` → Result."""
    runner = CliRunner()

    def run(*args, input=None, env=None):
        return runner.invoke(cli, [str(a) for a in args], input=input, env=env,
                             catch_exceptions=False)

    return run


@pytest.fixture
def conn(db_file):
    """A migrated connection to the test database."""
    from salescli import db

    c = db.open_write(db_file)
    yield c
    c.close()
