"""Fixtures for the foundation tests: an initialised sales database with a few prospects."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.foundation.helpers import ok


@pytest.fixture(scope="session")
def _fresh_template(tmp_path_factory):
    """One freshly migrated database, built once: creating the schema costs ~0.3 s, and
    most tests only need it to exist (test_db.py runs ``salescli init`` itself)."""
    from salescli import db

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
