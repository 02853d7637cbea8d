"""A number setting that is not one is the user's to fix: one ``Error:`` line naming the
variable and its value, exit 1, for the CLI and the cron jobs alike. Before, a bad
SALESCLI_BUSY_TIMEOUT_MS or SALESCLI_SCAN_BATCH was a traceback, and a bad
SALESCLI_LOG_MAX_BYTES or SALESCLI_LOG_BACKUPS was silently replaced by the default."""

from __future__ import annotations

import json

import pytest

from salescli.core import db
from tests.ops.helpers import job, salescli, salescli_env
from tests.support.cli import fails, scalar


@pytest.fixture
def env(db_file, tmp_path):
    db.open_write(db_file).close()
    return salescli_env(SALESCLI_DB=str(db_file),
                        SALESCLI_LOG_FILE=str(tmp_path / "log" / "salescli.log"))


BAD = [
    ("SALESCLI_BUSY_TIMEOUT_MS", "soon", "is not a whole number"),
    ("SALESCLI_BUSY_TIMEOUT_MS", "-5", "must be at least 0"),
    ("SALESCLI_LOG_MAX_BYTES", "5MB", "is not a whole number"),
    ("SALESCLI_LOG_BACKUPS", "-1", "must be at least 0"),
]


@pytest.mark.parametrize("name, value, reason", BAD)
def test_a_bad_number_setting_is_one_error_line(env, name, value, reason):
    r = salescli("prospects", "list", env={**env, name: value})
    assert (r.returncode, r.stdout, r.stderr) == (1, "", f"Error: {name} {value!r} {reason}\n")


@pytest.mark.parametrize("value, reason", [("many", "is not a whole number"),
                                           ("0", "must be at least 1")])
def test_a_bad_scan_batch_is_one_error_line(env, value, reason):
    r = salescli("scan", env={**env, "SALESCLI_SCAN_BATCH": value})
    assert (r.returncode, r.stderr) == (1, f"Error: SALESCLI_SCAN_BATCH {value!r} {reason}\n")


def test_a_cron_job_with_a_bad_log_setting_fails_with_one_line(env):
    r = job("rollup", env={**env, "SALESCLI_LOG_MAX_BYTES": "lots"})
    assert r.returncode == 1
    assert r.stderr.strip() == "rollup: SALESCLI_LOG_MAX_BYTES 'lots' is not a whole number"


def test_empty_number_settings_mean_the_defaults(env, tmp_path, db_file):
    blank = dict.fromkeys(("SALESCLI_BUSY_TIMEOUT_MS", "SALESCLI_LOG_MAX_BYTES",
                           "SALESCLI_LOG_BACKUPS"), " ")
    r = salescli("prospects", "add", "ada@example.com", env={**env, **blank})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "log" / "salescli.log").exists()
    assert scalar(db_file, "SELECT email FROM prospects") == "ada@example.com"


def test_the_busy_timeout_setting_is_what_sqlite_waits(monkeypatch, db_file):
    monkeypatch.setenv("SALESCLI_BUSY_TIMEOUT_MS", "1234")
    conn = db.open_write(db_file)
    try:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 1234
    finally:
        conn.close()


@pytest.mark.parametrize("name, value, reason", [
    ("SALESCLI_HEALTH_MAX_ERROR_RATE", "1.5", "must be between 0 and 1"),
    ("SALESCLI_HEALTH_MAX_ERROR_RATE", "-0.1", "must be at least 0"),
    ("SALESCLI_HEALTH_MAX_ERROR_RATE", "a fifth", "is not a number"),  # a share, not whole
    ("SALESCLI_HEALTH_MAX_PENDING", "-3", "must be at least 0"),
    ("SALESCLI_HEALTH_MAX_QUARANTINE", "ten", "is not a whole number"),
])
def test_a_bad_health_threshold_is_one_error_line(invoke, sales, name, value, reason):
    fails(invoke("health", env={name: value}), f"{name} {value!r} {reason}")


def test_health_thresholds_at_their_bounds_are_taken(invoke, sales):
    out = invoke("health", "--format", "json", env={"SALESCLI_HEALTH_MAX_ERROR_RATE": "1",
                                                    "SALESCLI_HEALTH_MAX_QUARANTINE": "0"})
    thresholds = json.loads(out.output)["thresholds"]
    assert (thresholds["max_error_rate"], thresholds["max_quarantine"]) == (1.0, 0)
