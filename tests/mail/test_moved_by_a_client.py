"""A mail client may move a Maildir message (new/ → cur/, with flags added to its name)
between the moment the scan lists a folder and the moment it reads the file: the message
is read where it went, even when its name holds glob characters."""

from __future__ import annotations

import os

from salescli.mail import sample
from salescli.mail.local import MaildirSource
from tests.mail.helpers import ME, ago


def test_a_message_moved_to_cur_after_listing_is_read_where_it_went(tmp_path, people):
    box = tmp_path / "Maildir"
    raw, _ = sample.reply(people["ada"], ME, ago(hours=1), "Hello", None)
    path = sample.write_maildir_message(box, raw, ago(hours=1), seen=False)
    odd = path.with_name("[1]*?" + path.name)      # glob characters in the unique name
    os.replace(path, odd)
    src = MaildirSource(box)
    assert src.folders() == [("INBOX", False)]
    plan = src.plan("INBOX", False, None, None)
    assert plan.handles == [odd]
    moved = box / "cur" / (odd.name + ":2,S")        # the client reads it: new/ → cur/
    os.replace(odd, moved)
    [(_covered, fetched)] = list(src.headers(plan))
    assert [(p, raw_head.split(b"\n", 1)[0]) for p, raw_head, _ in fetched] == [
        (moved, raw.split(b"\n", 1)[0])]
    assert list(src.bodies(plan, [odd])) == [(odd, moved.read_bytes())]


def test_a_message_deleted_after_listing_is_skipped_and_the_later_ones_read(tmp_path,
                                                                           people):
    box = tmp_path / "Maildir"
    paths = [sample.write_maildir_message(box, sample.reply(people[k], ME, ago(hours=n + 1),
                                                            "Hello", None)[0],
                                          ago(hours=n + 1))
             for n, k in enumerate(("ada", "bob", "cy"))]
    src = MaildirSource(box)
    src.folders()
    plan = src.plan("INBOX", False, None, None)
    first = sorted(paths)[0]
    first.unlink()                                    # the client deletes it meanwhile
    [(covered, fetched)] = list(src.headers(plan))
    assert covered == 3
    assert [p for p, _raw, _when in fetched] == sorted(paths)[1:]
