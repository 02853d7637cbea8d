"""The scanner matches mail from and to any of a prospect's addresses (issue 16), on a real
Dovecot: a reply from a second address is a reply; a bounce from it changes nothing we send."""

from __future__ import annotations

from datetime import timedelta

from salescli.mail import sample
from salescli.pipeline import addresses
from tests.mail.helpers import ME, ago, kinds, state
from tests.support.cli import ok


def test_reply_from_an_other_address_counts_as_a_reply(mailbox, people, invoke, conn):
    addresses.add(conn, "tester", people["ada"]["id"], ["ada.private@home.example"])
    t = ago(days=3)
    raw, mid = sample.outbound(ME, people["ada"], t, "Pipeline review")
    mailbox.append("Sent", raw, t)
    home = {**people["ada"], "email": "ada.private@home.example"}
    raw, _ = sample.reply(home, ME, t + timedelta(hours=5), "Pipeline review", mid)
    mailbox.append("INBOX", raw, t + timedelta(hours=5))
    ok(invoke("scan"))
    assert kinds(conn, "ada@example.com") == ["email_out", "email_in"]
    got = state(conn, "ada@example.com")
    assert got["stage"] == "replied" and got["last_reply_at"] is not None
    # no prospect of its own was made for the second address, even with --create-unknown
    assert conn.execute("SELECT count(*) FROM prospects WHERE email LIKE 'ada.private%'"
                        ).fetchone()[0] == 0


def test_mail_we_send_to_an_other_address_is_the_prospects(mailbox, people, invoke, conn):
    addresses.add(conn, "tester", people["bob"]["id"], ["bob@home.example"])
    t = ago(days=2)
    raw, _ = sample.outbound(ME, {**people["bob"], "email": "Bob@Home.Example"}, t, "Hello")
    mailbox.append("Sent", raw, t)
    ok(invoke("scan", "--create-unknown"))
    assert kinds(conn, "bob@example.org") == ["email_out"]
    assert state(conn, "bob@example.org")["stage"] == "contacted"
    assert conn.execute("SELECT count(*) FROM prospects").fetchone()[0] == 5


def test_hard_bounce_of_an_other_address_leaves_the_primary_alone(mailbox, people, invoke,
                                                                  conn):
    addresses.add(conn, "tester", people["cy"]["id"], ["cy@old-job.example"])
    t = ago(days=1)
    raw, _ = sample.dsn_bounce("cy@old-job.example", ME, t, hard=True)
    mailbox.append("INBOX", raw, t)
    raw, _ = sample.dsn_bounce("dee@example.com", ME, t, hard=True)
    mailbox.append("INBOX", raw, t)
    ok(invoke("scan"))
    # recorded in Cy's history, naming the address, but Cy's address still works
    assert kinds(conn, "cy@example.net") == ["bounce"]
    assert state(conn, "cy@example.net")["email_status"] == "ok"
    detail = conn.execute("SELECT detail FROM interactions WHERE prospect_id = ?",
                          (people["cy"]["id"],)).fetchone()[0]
    assert '"other_address": "cy@old-job.example"' in detail
    # the same bounce for a primary address marks it (the rule is unchanged)
    assert state(conn, "dee@example.com")["email_status"] == "bounced_hard"


def test_unsubscribe_from_an_other_address_is_suppressed(mailbox, people, invoke, conn):
    addresses.add(conn, "tester", people["eve"]["id"], ["eve@home.example"])
    t = ago(hours=3)
    home = {**people["eve"], "email": "eve@home.example"}
    raw, _ = sample.reply(home, ME, t, "unsubscribe", None)
    raw = raw.replace(b"Subject: Re: unsubscribe", b"Subject: unsubscribe")
    mailbox.append("INBOX", raw, t)
    ok(invoke("scan"))
    rows = conn.execute("SELECT address, source FROM suppressions").fetchall()
    assert [tuple(r) for r in rows] == [("eve@home.example", "unsubscribe")]
