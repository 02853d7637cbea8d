"""The ``salescli notify`` command's listing and usage errors."""

from __future__ import annotations

import json

from salescli.notify import outbox
from tests.notify.conftest import queue
from tests.support.smtpd import free_port


def test_list_shows_pending_and_failed_with_the_reason(invoke, conn, team, monkeypatch):
    monkeypatch.setenv("SALESCLI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SALESCLI_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("SALESCLI_SMTP_SSL", "none")
    queue(conn, "reply", team["carol"], "reply:1:<l1@x>")
    result = invoke("notify")
    assert result.exit_code == 1
    assert "Error: no notification could be delivered (1 failed" in result.output

    table = invoke("notify", "--list")
    assert table.exit_code == 0
    assert "pending" in table.output and "refused the connection" in table.output
    [row] = json.loads(invoke("notify", "--list", "--format", "json").output)
    assert row["state"] == "pending" and row["attempts"] == 1
    assert row["recipient"] == "alice@example.com"
    assert json.loads(invoke("notify", "--list", "--state", "sent", "--format",
                             "json").output) == []
    assert outbox.deliver(conn)["pending"] == 1  # not due yet: nothing attempted


def test_bad_stale_days_is_a_usage_error(invoke, conn):
    result = invoke("notify", "--stale-days", "0")
    assert result.exit_code == 2 and "--stale-days" in result.output
