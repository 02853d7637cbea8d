"""A prospect's stage does not depend on which scan found which mail: a person who wrote to
us first, and whom we then answered, is "contacted" (their mail was no reply to ours),
whether one scan finds both mails or our answer is recorded first and their older mail
later (a first scan whose batches split the folders, a rerun after a kill)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salescli.mail import sample
from salescli.pipeline import prospects
from tests.mail.helpers import CREATED, ME, ago, kinds, state
from tests.support.cli import ok

PERSON = {"email": "wrote.first@example.org", "name": "Wren"}


@pytest.mark.parametrize("split", [False, True])
def test_a_person_who_wrote_first_and_got_an_answer_is_contacted(tmp_path, invoke, conn,
                                                                   split):
    prospects.add(conn, "tester", PERSON["email"], name="Wren", at=CREATED)
    box = tmp_path / "Maildir"
    theirs = ago(days=3)
    ours = theirs + timedelta(days=1)
    inbound, _ = sample.reply(PERSON, ME, theirs, "Pricing?", None)
    answer, _ = sample.outbound(ME, PERSON, ours, "Re: Pricing?")
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    sample.write_maildir_message(box / ".Sent", answer, ours)
    if split:  # our answer is recorded by one scan, their older mail by the next
        ok(invoke("scan", "--source", f"maildir:{box}"))
        assert state(conn, PERSON["email"])["stage"] == "contacted"
    sample.write_maildir_message(box, inbound, theirs)
    ok(invoke("scan", "--source", f"maildir:{box}"))
    assert kinds(conn, PERSON["email"]) == ["email_in", "email_out"]
    assert state(conn, PERSON["email"])["stage"] == "contacted"
    # The move is dated by the mail that caused it (our answer), not by the scan.
    assert [tuple(r) for r in conn.execute(
        "SELECT s.name, c.at FROM stage_changes c JOIN stages s ON s.id = c.to_stage_id"
        " JOIN prospects p ON p.id = c.prospect_id WHERE p.email = ? AND c.actor = 'monitor'",
        (PERSON["email"],))] == [("contacted", ours.strftime("%Y-%m-%dT%H:%M:%SZ"))]
