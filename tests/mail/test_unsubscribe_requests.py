"""Which mail asks to unsubscribe, and what the scanner does with it (``mail.unsubscribe``):
the address suppressed and the reason recorded for a token subject, an "unsubscribe" or
"remove me" subject and a reply whose first own line asks it; every message it must leave
alone; and the count of addresses newly suppressed."""

from __future__ import annotations

import pytest

from salescli.mail import classify as cls
from salescli.mail import unsubscribe
from salescli.mail.parse import Envelope, parse_envelope
from salescli.sequences import enroll
from tests.sequences.conftest import ME, intro, t0, team  # noqa: F401 (fixtures)
from tests.support.cli import query

DATE = "Tue, 1 Dec 2026 10:00:00 +0000"
SENT_AT = "2026-12-01T10:00:00Z"


def _env(frm: str, subject: str | None, text: str | None = None, **extra: str) -> Envelope:
    """The envelope the scanner makes of a mail to us: parsed, marked, classified."""
    lines = [f"From: {frm}", f"To: {ME}", f"Date: {DATE}"]
    lines += [f"Subject: {subject}"] if subject is not None else []
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    env = parse_envelope(Envelope("acct", "INBOX", 1, "INBOX/1"),
                         ("\r\n".join(lines) + "\r\n\r\n").encode(), None)
    env.kind = str(cls.classify(cls.mark(env), frozenset({ME})))
    env.text = text
    return env


@pytest.fixture
def token(conn, intro, team, t0):  # noqa: F811 (fixtures)
    """Ada, Bob and Cy enrolled in ``intro``; Ada's unsubscribe token."""
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org",
                                            "cy@example.net"], now_=t0)
    return conn.execute("SELECT e.token FROM enrollments e JOIN prospects p ON"
                        " p.id = e.prospect_id WHERE p.email = 'ada@example.com'"
                        ).fetchone()[0]


ASKS = {
    "token from another address": (("ada.private@home.test", "unsubscribe {token}"),
                                   ("ada@example.com", "unsubscribe link")),
    "token, any case and spacing": (("ada.private@home.test", "  UNSUBSCRIBE   {token} "),
                                    ("ada@example.com", "unsubscribe link")),
    "unknown token from a prospect": (("bob@example.org", "unsubscribe abcdefgh1234"),
                                      ("bob@example.org", "unsubscribe mail")),
    "remove me subject": (("Bob <bob@example.org>", "Remove me"),
                          ("bob@example.org", "unsubscribe mail")),
    "unsubscribe subject from an auto-reply": (("cy@example.net", "Unsubscribe",
                                                "Out of office", {"X_Autoreply": "yes"}),
                                               ("cy@example.net", "unsubscribe mail")),
    "first line of a reply": (("cy@example.net", "Re: Quick question",
                               "\n  Unsubscribe please.\nOn Mon, Maria wrote:\n> hi"),
                              ("cy@example.net", "unsubscribe reply")),
}
LEAVES = {
    "unknown token from a stranger": ("eve@example.com", "unsubscribe abcdefgh1234"),
    "a short token": ("ada.private@home.test", "unsubscribe abc"),
    "remove me from a stranger": ("eve@example.com", "Remove me"),
    "later in the reply": ("cy@example.net", "Re: Quick question",
                           "Thanks!\nPlease unsubscribe me"),
    "quoted in the reply": ("cy@example.net", "Re: Quick question", "> unsubscribe\nThanks"),
    "first line of an auto-reply": ("cy@example.net", "Automatic reply: Quick question",
                                    "Unsubscribe"),
    "first line of list mail": ("cy@example.net", "News", "Unsubscribe",
                                {"List_Id": "<l.example>"}),
    "no text": ("cy@example.net", "Re: Quick question", None),
    "no subject": ("cy@example.net", None, "Hello"),
}


def _case(args: tuple, token: str) -> Envelope:
    frm, subject, *rest = args
    text = rest[0] if rest else None
    extra = rest[1] if len(rest) > 1 else {}
    return _env(frm, subject and subject.format(token=token), text, **extra)


def test_the_address_and_reason_of_each_mail_that_asks_and_none_for_the_others(conn, token):
    # (one test for the whole table: each case needs the same enrolled database)
    found = {name: unsubscribe.address_of(conn, _case(args, token))
             for name, (args, _) in ASKS.items()}
    assert found == {name: expected for name, (_, expected) in ASKS.items()}
    left = {name: unsubscribe.address_of(conn, _case(args, token))
            for name, args in LEAVES.items()}
    assert left == dict.fromkeys(LEAVES)


def _suppressed(db_file) -> list[tuple]:
    return [(r["address"], r["reason"], r["source"]) for r in query(
        db_file, "SELECT address, reason, source FROM suppressions ORDER BY address")]


def _states(db_file) -> dict[str, tuple]:
    return {r["email"]: (r["state"], r["reason"]) for r in query(
        db_file, "SELECT p.email, e.state, e.reason FROM enrollments e JOIN prospects p"
                 " ON p.id = e.prospect_id")}


def test_apply_suppresses_each_address_once_and_counts_the_new_ones(conn, db_file, token):
    skipped = []
    for kind in ("outbound", "bounce", "internal", "quarantined"):
        env = _env("cy@example.net", "unsubscribe")
        env.kind = kind
        skipped.append(env)
    broken = _env("cy@example.net", "unsubscribe")
    broken.error = "no usable Date"
    envs = [*skipped, broken, _env("cy@example.net", "Re: hi", "Sounds good"),
            _env("ada.private@home.test", f"unsubscribe {token}"),
            _env("ada@example.com", "Re: hi", "stop"),
            _env("bob@example.org", "Re: hi", "Remove me from your list.")]
    assert unsubscribe.apply(conn, envs) == 2
    assert _suppressed(db_file) == [
        ("ada@example.com", f"unsubscribe link {SENT_AT}", "unsubscribe"),
        ("bob@example.org", f"unsubscribe reply {SENT_AT}", "unsubscribe")]
    assert _states(db_file) == {
        "ada@example.com": ("unsubscribed", f"unsubscribe link {SENT_AT}"),
        "bob@example.org": ("unsubscribed", f"unsubscribe reply {SENT_AT}"),
        "cy@example.net": ("active", None)}
    assert unsubscribe.apply(conn, [_env("bob@example.org", "unsubscribe")]) == 0
    assert unsubscribe.apply(conn, [_env("cy@example.net", "Unsubscribe me")]) == 1
