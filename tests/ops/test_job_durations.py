"""Health names how long each job's last run took, from its start to its end."""

from __future__ import annotations

import json

from tests.ops.helpers import add_run, ago


def test_the_last_runs_duration_is_reported_in_seconds(invoke, ops_conn):
    add_run(ops_conn, "rollup", "ok", started=ago(minutes=10), finished=ago(minutes=8))
    add_run(ops_conn, "backup", "running", started=ago(minutes=1))
    result = invoke("health", "--format", "json")
    jobs = {j["job"]: j for j in json.loads(result.output)["jobs"]}
    assert jobs["rollup"]["duration_s"] == 120
    assert jobs["backup"]["duration_s"] is None  # still running: no end yet
