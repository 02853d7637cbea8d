"""The demo's sample Maildir reads like a real mailbox in a mail client: the prospects'
genuine replies arrive unread, their automatic answers (out-of-office, bounces) read."""

from __future__ import annotations

import mailbox

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
