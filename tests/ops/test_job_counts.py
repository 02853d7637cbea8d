"""What a job counts is kept in its job_runs row even when it is not a plain number: a time
or a path is stored as its text instead of failing the run at its end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from salescli.ops.runner import history, run_job


def test_counts_that_are_not_json_are_kept_as_text(ops_conn, db_file):
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    with run_job("report", db_file) as run:
        run.add("mailed", 2)
        run.counts["file"] = Path("/srv/reports/weekly.html")
        run.counts["as_of"] = at
    (row,) = history(ops_conn, "report")
    assert row["status"] == "ok"
    assert row["counts"] == {"mailed": 2, "file": "/srv/reports/weekly.html",
                             "as_of": str(at)}
    stored = ops_conn.execute("SELECT counts FROM job_runs").fetchone()[0]
    assert json.loads(stored)["mailed"] == 2
