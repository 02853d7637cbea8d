"""A delivery report whose recipient block has no Diagnostic-Code still bounces the
prospect, with the status code as the reason."""

from __future__ import annotations

import re

from salescli.mail import sample
from tests.mail.helpers import ME, ago, state
from tests.support.cli import ok


def test_a_hard_bounce_without_diagnostic_code_gives_its_status_as_reason(
        tmp_path, people, invoke, conn):
    box, t = tmp_path / "Maildir", ago(days=1)
    raw, _ = sample.dsn_bounce(people["cy"]["email"], ME, t)
    raw = re.sub(rb"Diagnostic-Code:[^\n]*\n", b"", raw)
    sample.write_maildir_message(box, raw, t)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    got = state(conn, "cy@example.net")
    assert (got["email_status"], got["bounce_reason"]) == ("bounced_hard", "status 5.1.1")
