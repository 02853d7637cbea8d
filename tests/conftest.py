"""Fixtures for every test: a private sales database under tmp, a CLI runner."""

from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from salescli.cli import cli
from tests.support.cli import ok

# Property tests judge the code, not the machine: on a loaded 2-core box (CI, mutation
# runs) Hypothesis' per-example deadline and its "input generation is slow" check failed
# tests whose code was right. Each test's own @settings still sets its example count.
settings.register_profile("salescli", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("salescli")


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
    from salescli.core import db

    c = db.open_write(db_file)
    yield c
    c.close()

@pytest.fixture(scope="session")
def _fresh_template(tmp_path_factory):
    """One freshly migrated database, built once: creating the schema costs ~0.3 s, and
    most tests only need it to exist (test_db.py runs ``salescli init`` itself)."""
    from salescli.core import db

    path = tmp_path_factory.mktemp("template") / "sales.db"
    conn = db.open_write(path)
    conn.close()  # checkpoints the WAL into the file
    return path


@pytest.fixture
def sales(db_file, _fresh_template):
    """An initialised, empty test database (a copy of a fresh ``salescli init``)."""
    shutil.copyfile(_fresh_template, db_file)
    os.chmod(db_file, 0o600)
    return db_file


@pytest.fixture
def three(invoke, sales):
    """Three prospects: ada (lead, maria, vip), bob (contacted, dev), cy (lead, no owner)."""
    ok(invoke("prospects", "add", "Ada@Example.com", "--name", "Ada Lovelace",
              "--company", "Analytical Engines", "--owner", "maria", "--value", "5000",
              "--tag", "vip", "--tag", "q4", "--notes", "likes difference engines"))
    ok(invoke("prospects", "add", "bob@example.org", "--name", "Bob Babbage",
              "--company", "Initech", "--owner", "dev", "--value", "1200", "--stage",
              "contacted", "--tag", "inbound"))
    ok(invoke("prospects", "add", "cy@example.net", "--name", "Cy Young", "--value", "300"))
    return sales
