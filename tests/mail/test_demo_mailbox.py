"""The demo's sample Maildir reads like a real mailbox in a mail client: the prospects'
genuine replies arrive unread, their automatic answers (out-of-office, bounces) read."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr, parsedate_to_datetime

from salescli.mail import sample
from tests.mail.helpers import ME


def test_demo_replies_are_unread_and_the_automatic_answers_read(tmp_path, people):
    path = tmp_path / "Maildir"
    sample.write_sample_maildir(path, list(people.values()), ME)
    inbox = mailbox.Maildir(path, create=False)
    unread, read = set(), set()
    for key in inbox.keys():
        msg = inbox[key]
        sender = msg["From"]
        (read if "S" in msg.get_flags() else unread).add(sender)
    # ada and eve reply (roles "reply"); bob's out-of-office and the two bounces are read.
    assert {s for s in unread if "example" in s and "salescli" not in s} == {
        '"Ada Lovelace" <ada@example.com>', '"Eve Ng" <eve@example.org>'}
    assert any("bob@example.org" in s for s in read)
    assert len(read) == 3        # bob's auto-reply and the two delivery reports


def test_demo_outreach_is_spread_over_the_past_days_and_answers_follow_it(tmp_path, people):
    """A week of outreach for the demo's charts, not one burst; every answer (reply,
    out-of-office, bounce) comes after the mail it answers."""
    path = tmp_path / "Maildir"
    sample.write_sample_maildir(path, list(people.values()), ME)
    now = datetime.now(UTC)
    sent = {parseaddr(m["To"])[1]: parsedate_to_datetime(m["Date"])
            for m in mailbox.Maildir(path / ".Sent", create=False)}
    assert len(sent) == 5
    assert all(now - timedelta(days=10) < t < now for t in sent.values())
    assert max(sent.values()) - min(sent.values()) > timedelta(days=3)
    answers = {next(p["email"] for p in people.values() if p["email"] in m.as_string()):
               parsedate_to_datetime(m["Date"])
               for m in mailbox.Maildir(path, create=False) if "news@" not in m["From"]}
    assert len(answers) == 5   # ada, eve: replies; bob: out-of-office; cy, dee: bounces
    for email, when in answers.items():
        assert sent[email] < when < now, email
