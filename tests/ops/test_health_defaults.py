"""What `salescli health` uses when nothing is set: the defaults docs/configuration.md
promises (its "Health thresholds" table), as the JSON report shows them."""

from __future__ import annotations

import json

DAY, HOUR, MINUTE = 86400, 3600, 60


def test_without_settings_health_uses_the_documented_thresholds(invoke, ops_conn):
    result = invoke("health", "--format", "json")
    assert json.loads(result.output)["thresholds"] == {
        "scan_max_age": 30 * MINUTE,
        "mail_max_delay": None,
        "max_quarantine": 10,
        "max_error_rate": 0.2,
        "max_pending": 100,
        "pending_max_age": 2 * HOUR,
        "max_failed_notifications": 0,
        "max_runtime": 2 * HOUR,
        "job_max_age": {"scan": 30 * MINUTE, "notify": 30 * MINUTE, "rollup": 2 * DAY,
                        "backup": 2 * DAY, "report": 8 * DAY, "cleanup": 8 * DAY,
                        "optimize": 8 * DAY},
        "min_free_disk": 500 * 1024**2,
        "max_wal": 512 * 1024**2,
        "integrity": "quick",
        "replica_max_lag": 5 * MINUTE,
    }
