"""A database copied with ``sqlite3 OLD .dump | sqlite3 NEW`` (which drops ``user_version``)
is still the team's database: ``salescli init`` gives it its version back and keeps every row
and stage, and write commands work on it — they used to end in a traceback."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from salescli.core.schema import SCHEMA_VERSION
from tests.support.cli import fails, ok, query

pytestmark = pytest.mark.skipif(shutil.which("sqlite3") is None,
                                reason="the sqlite3 shell (./dev test installs it)")


@pytest.fixture
def copy(invoke, db_file, tmp_path):
    """The test database with a prospect, a renamed stage, then dumped into copy.db."""
    ok(invoke("prospects", "add", "ada@example.com", "--stage", "contacted"))
    ok(invoke("stages", "rename", "lead", "inbound"))
    new = tmp_path / "copy.db"
    dump = subprocess.run(["sqlite3", str(db_file), ".dump"], check=True, capture_output=True)
    subprocess.run(["sqlite3", str(new)], input=dump.stdout, check=True)
    assert query(new, "PRAGMA user_version") == [{"user_version": 0}]
    return new


def _stages(path) -> list[dict]:
    return query(path, "SELECT name, position, kind FROM stages ORDER BY position")


def test_init_gives_a_dumped_copy_its_version_back_and_keeps_its_rows(invoke, db_file, copy):
    assert fails(invoke("--db", copy, "prospects", "list")) == (
        f"Error: database {str(copy)!r} has salescli tables but no schema version"
        " (a copy made with sqlite3 .dump?); run: salescli init")
    assert ok(invoke("--db", copy, "init")) == (
        f"upgraded {copy} (schema version {SCHEMA_VERSION})\n")
    assert query(copy, "PRAGMA user_version") == [{"user_version": SCHEMA_VERSION}]
    assert _stages(copy) == _stages(db_file)
    assert "ada@example.com" in ok(invoke("--db", copy, "prospects", "list"))


def test_a_write_to_a_dumped_copy_works(invoke, db_file, copy):
    ok(invoke("--db", copy, "prospects", "add", "bob@example.org"))
    assert [r["email"] for r in query(copy, "SELECT email FROM prospects ORDER BY id")] == [
        "ada@example.com", "bob@example.org"]
    assert _stages(copy) == _stages(db_file)


def test_a_new_file_gets_the_default_stages(invoke, tmp_path):
    new = tmp_path / "new.db"
    assert ok(invoke("--db", new, "init")) == f"created {new} (schema version {SCHEMA_VERSION})\n"
    assert [s["name"] for s in _stages(new)][:2] == ["lead", "contacted"]
