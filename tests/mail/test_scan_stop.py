"""A stop request (``scan --watch`` on SIGTERM) ends the scan after the batch being
recorded: the rest of that folder's chunk waits for the next scan, its checkpoint stays
before the chunk, the run says it stopped; the next scan records the rest once."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from salescli.mail import sample
from salescli.mail.run import ScanOptions
from salescli.mail.scan import scan, sources_for
from tests.mail.helpers import ME, ago


class _StopOnQuarantine(logging.Handler):
    """Asks the scan to stop when the first batch quarantines its message: a stop
    request that arrives while a batch is being recorded."""

    def __init__(self, stop: threading.Event):
        super().__init__()
        self.stop = stop

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("quarantined "):
            self.stop.set()


def _keys(conn) -> list[tuple]:
    return [tuple(r) for r in conn.execute(
        "SELECT folder, outcome FROM mail_messages ORDER BY sent_at")]


def test_a_stop_during_a_batch_ends_the_scan_after_it(tmp_path, people, conn, monkeypatch,
                                                      caplog):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    box, t = tmp_path / "Maildir", ago(days=2)
    raw, mid = sample.outbound(ME, people["ada"], t, "Offer")
    sample.write_maildir_message(box / ".Sent", raw, t)
    early = t - timedelta(hours=1)
    sample.write_maildir_message(box, f"To: {ME}\nSubject: who?\nDate: {sample._date(early)}"
                                 "\nMessage-ID: <nofrom.1@x.example>\n\nhi\n".encode(), early)
    for n, key in enumerate(("ada", "bob"), 1):
        raw, _ = sample.reply(people[key], ME, t + timedelta(hours=n), "Offer", mid)
        sample.write_maildir_message(box, raw, t + timedelta(hours=n))
    acct = f"maildir:{box.resolve()}"
    stop = threading.Event()
    handler = _StopOnQuarantine(stop)
    logging.getLogger("salescli.mail").addHandler(handler)
    caplog.set_level(logging.INFO, "salescli.mail")
    try:
        counts = scan(conn, sources_for(f"maildir:{box}"),
                      ScanOptions(batch_size=1, stop=stop, deliver=False))
    finally:
        logging.getLogger("salescli.mail").removeHandler(handler)
    assert counts["stopped"] is True
    assert (counts["seen"], counts["quarantined"], counts["replies"]) == (4, 1, 0)
    assert "stop requested: the scan ends after the batches recorded" in caplog.messages
    assert _keys(conn) == [("INBOX", "quarantined"), ("Sent", "recorded")]
    assert [tuple(r) for r in conn.execute("SELECT folder FROM mail_checkpoints")] == \
        [("Sent",)]

    again = scan(conn, sources_for(f"maildir:{box}"), ScanOptions(deliver=False))
    assert "stopped" not in again
    assert again["accounts"][acct] | {"seen": 0} == {
        "seen": 0, "matched": 2, "outbound": 0, "replies": 2, "auto_replies": 0,
        "bounces": 0, "ignored": 0, "unmatched": 0, "duplicates": 1, "quarantined": 0,
        "created": 0}
    assert _keys(conn) == [("INBOX", "quarantined"), ("Sent", "recorded"),
                           ("INBOX", "recorded"), ("INBOX", "recorded")]
    assert sorted(r[0] for r in conn.execute("SELECT folder FROM mail_checkpoints")) == \
        ["INBOX", "Sent"]
