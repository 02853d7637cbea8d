"""``scan --since`` on a big folder: the first import searches a window of UIDs at a time
(one SEARCH over 500k messages would overflow imaplib's 1 MB line limit); every window
counts, and mail before the day stays out."""

from __future__ import annotations

from salescli.mail import sample, sources
from tests.mail.helpers import ME, ago, state
from tests.support.cli import ok


def test_since_searches_every_window_of_uids(mailbox, people, invoke, conn, monkeypatch):
    monkeypatch.setattr(sources, "SEARCH_WINDOW", 2)
    old, recent = ago(days=40), ago(days=2)
    # UIDs 1..5 in Sent: recent, old, old, old, recent; the recent ones are the first UID
    # of the first window and the only one of the third.
    for person, when in (("bob", recent), ("ada", old), ("cy", old), ("dee", old),
                         ("eve", recent)):
        mailbox.append("Sent", sample.outbound(ME, people[person], when, "Hello")[0], when)
    ok(invoke("scan", "--since", "30d"))
    stages = {p: state(conn, people[p]["email"])["stage"] for p in people}
    assert stages == {"ada": "lead", "bob": "contacted", "cy": "lead", "dee": "lead",
                      "eve": "contacted"}
    # The checkpoint covers the whole folder: a later scan neither refetches nor goes back.
    mailbox.append("Sent", sample.outbound(ME, people["ada"], recent, "Again")[0], recent)
    ok(invoke("scan"))
    assert state(conn, people["ada"]["email"])["stage"] == "contacted"
    assert state(conn, people["cy"]["email"])["stage"] == "lead"
