"""Whose mail the scan reads the text of: people with a live enrollment, at their
primary or another address of theirs. A first line "unsubscribe" from them suppresses the
address it came from (and ends the enrollment when that is the one the sequence writes
to); the same line from someone not enrolled, or no longer, is not read and suppresses
nobody."""

from __future__ import annotations

from datetime import timedelta

from salescli.core import db
from salescli.mail import sample
from salescli.mail.run import ScanOptions
from salescli.mail.scan import scan, sources_for
from salescli.pipeline import addresses, prospects
from salescli.sequences import enroll, store
from salescli.web import users
from tests.mail.helpers import CREATED, ME, ago
from tests.sequences.conftest import write_plan


def test_the_text_of_enrolled_people_is_read_for_an_unsubscribe(tmp_path, conn,
                                                                monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    users.add(conn, db.db_path(), "tester", "maria", "operator", email=ME)
    people = {}
    for name in ("ada", "bob", "cy", "dee"):
        people[name] = {"email": f"{name}@example.com", "name": name.title()}
        p = prospects.add(conn, "tester", people[name]["email"], name=name.title(),
                          owner="maria", at=CREATED)
        people[name]["id"] = p["id"]
    store.load(conn, "tester", write_plan(tmp_path))
    addresses.add(conn, "tester", people["bob"]["id"], ["bob.home@example.org"])
    t = ago(days=1)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.com",
                                            "dee@example.com"], now_=t - timedelta(days=1))
    enroll.unenroll(conn, "tester", "intro", ["dee@example.com"])
    box = tmp_path / "Maildir"
    for n, who in enumerate((people["ada"], {"email": "bob.home@example.org"}, people["cy"],
                             people["dee"])):
        raw, _ = sample.reply(who, ME, t + timedelta(minutes=n), "Hello", None,
                              body="unsubscribe\n\nSent from my phone\n")
        sample.write_maildir_message(box, raw, t + timedelta(minutes=n))
    counts = scan(conn, sources_for(f"maildir:{box}"), ScanOptions(deliver=False))
    assert counts["unsubscribed"] == 2
    assert [tuple(r) for r in conn.execute(
        "SELECT address, source FROM suppressions ORDER BY address")] == [
        ("ada@example.com", "unsubscribe"), ("bob.home@example.org", "unsubscribe")]
    assert [tuple(r) for r in conn.execute(
        "SELECT p.email, e.state FROM enrollments e JOIN prospects p ON p.id = e.prospect_id"
        " ORDER BY p.email")] == [("ada@example.com", "unsubscribed"),
                                  ("bob@example.com", "active"),
                                  ("dee@example.com", "stopped")]
