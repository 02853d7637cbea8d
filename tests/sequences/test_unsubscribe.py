"""The scanner turns unsubscribe mail into suppressions and ends the enrollments."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

from salescli.sequences import enroll
from salescli.sequences.send import send_due
from tests.sequences.conftest import ME
from tests.support.cli import activities, ok, query


def _mail(frm: str, subject: str, when, n: int) -> bytes:
    return (f"From: {frm}\r\nTo: {ME}\r\nSubject: {subject}\r\n"
            f"Date: {format_datetime(when)}\r\nMessage-ID: <unsub{n}@client.test>\r\n"
            "Content-Type: text/plain\r\n\r\nThis message was sent by my mail program.\r\n"
            ).encode()


def test_unsubscribe_mail_and_remove_me_become_suppressions(conn, db_file, intro, team,
                                                            smtp_server, mailbox, t0, invoke):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org",
                                            "cy@example.net"], now_=t0)
    send_due(conn, now=t0)
    token = query(db_file, "SELECT token FROM enrollments e JOIN prospects p ON"
                           " p.id = e.prospect_id WHERE p.email = 'ada@example.com'")[0]["token"]
    when = t0 + timedelta(hours=2)
    # Ada's mail program follows List-Unsubscribe (from another address of hers); Bob
    # writes "Remove me"; Cy writes about something else.
    mailbox.append("INBOX", _mail("ada.private@home.test", f"unsubscribe {token}", when, 1),
                   when)
    mailbox.append("INBOX", _mail("bob@example.org", "Remove me", when, 2), when)
    mailbox.append("INBOX", _mail("cy@example.net", "unsubscribe me from the webinar list?",
                                  when, 3), when)
    ok(invoke("scan"))
    rows = query(db_file, "SELECT address, source FROM suppressions ORDER BY address")
    assert rows == [{"address": "ada@example.com", "source": "unsubscribe"},
                    {"address": "bob@example.org", "source": "unsubscribe"}]
    acts = activities(db_file, entity="suppression")
    assert [(a["actor"], a["action"]) for a in acts] == [("monitor", "suppress")] * 2
    # The scan ended Ada's and Bob's enrollments at once; the sender ends Cy's (a reply).
    ended = activities(db_file, entity="enrollment", action="end")
    assert [(a["actor"], a["after"]["state"]) for a in ended] == [("monitor", "unsubscribed")] * 2
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"replied": 1}
    states = {r["email"]: r["state"] for r in query(
        db_file, "SELECT p.email, e.state FROM enrollments e JOIN prospects p"
                 " ON p.id = e.prospect_id")}
    assert states == {"ada@example.com": "unsubscribed", "bob@example.org": "unsubscribed",
                      "cy@example.net": "replied"}
