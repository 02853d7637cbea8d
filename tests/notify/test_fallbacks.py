"""What notify does when a piece is missing: a row stored without a payload, an event with
nobody to tell, a machine whose host name is empty."""

from __future__ import annotations

import logging
import socket

from salescli.notify import outbox, smtp
from tests.notify.conftest import queue


def test_a_webhook_row_without_a_payload_still_names_its_event(conn, team, webhook):
    queue(conn, "reply", team["carol"], "reply:1:<w9|x@x>", subject="Re: hi")
    conn.execute("UPDATE notifications SET payload = NULL WHERE channel = 'webhook'")
    conn.commit()
    assert outbox.deliver(conn)["sent"] == 1
    [req] = webhook.requests
    assert req["json"]["event_key"] == "reply:1:<w9|x@x>"   # from the row's key, not the payload
    assert req["json"]["payload"] == {} and req["json"]["rule"] == "reply"


def test_an_event_with_nobody_to_tell_says_so_at_debug_level(conn, team, monkeypatch, caplog):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    monkeypatch.delenv("SALESCLI_WEBHOOK_URL", raising=False)
    with caplog.at_level(logging.DEBUG, logger="salescli.notify"):
        assert queue(conn, "reply", team["carol"], "reply:1:<n1@x>") == 0
    assert (f"notification reply:1:<n1@x> for prospect {team['carol']} has no recipient"
            in caplog.messages)
    assert conn.execute("SELECT count(*) FROM notifications").fetchone()[0] == 0


def test_mail_comes_from_salescli_at_localhost_on_a_machine_without_a_name(monkeypatch):
    # An empty host name cannot be set up for real here: getfqdn() stands in for it.
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "")
    settings = smtp.settings_from_env({"SALESCLI_SMTP_HOST": "h"})
    assert settings.sender == "salescli@localhost"
