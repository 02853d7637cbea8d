"""Filing a sent mail in an unreachable mailbox raises SentCopyFailed saying why, and the
same reason again for the next mail of the run, without another connection attempt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salescli.mail.config import build_account
from salescli.mail.sent_copy import SentCopies, SentCopyFailed
from tests.support.dovecot import free_port

ME = "me@ours.example"


def test_an_unreachable_mailbox_fails_with_its_reason_once_per_run():
    raw = {"name": "maria", "host": "127.0.0.1", "port": free_port(), "user": ME,
           "ssl": "none", "password_env": "MARIA_PW", "retries": 0, "backoff": 0}
    account = build_account(raw, where="", env={"MARIA_PW": "secret-pw"})
    copies = SentCopies([account], {})
    when = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with pytest.raises(SentCopyFailed) as first:
        copies(ME, b"Subject: hi\r\n\r\nhello\r\n", when)
    assert str(first.value) == ("account 'maria': LIST failed after 1 attempts:"
                                " [Errno 111] Connection refused")
    with pytest.raises(SentCopyFailed) as second:
        copies(ME, b"Subject: again\r\n\r\nhello\r\n", when)
    assert str(second.value) == str(first.value)[:300]
