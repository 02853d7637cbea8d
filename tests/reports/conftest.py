"""Fixtures for report and export tests: a database full of hostile names."""

from __future__ import annotations

import shutil

import pytest

from tests.reports.helpers import build


@pytest.fixture(scope="session")
def _pipeline_template(tmp_path_factory):
    """helpers.build once per session; each test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("pipeline") / "sales.db"
    ids = build(path)
    return path, ids


@pytest.fixture
def pipeline_db(db_file, _pipeline_template):
    """The helpers.build pipeline in the test's SALESCLI_DB; returns the prospect ids."""
    source, ids = _pipeline_template
    shutil.copyfile(source, db_file)
    db_file.chmod(0o600)
    return ids
