"""What one account's fetch sends the scan's writer, pinned whole on a local Maildir: the
Sent folder before INBOX, each chunk's envelopes (repeats and mail before ``--since``
dropped, bounces read whole, auto-replies' text read, mail without a sender in error), the
addresses learned as ours, and the event that ends the fetch (done, a mailbox error, a
crash, or nothing when the writer stopped)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salescli.mail import sample
from salescli.mail.fetch import ChunkEvent, FolderEvent, Stopped, fetch_account, read_chunk
from salescli.mail.local import MaildirSource
from salescli.mail.run import ScanOptions

ME = "me@ours.example"
DAY = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ADA = {"email": "ada@example.com", "name": "Ada Lovelace"}


def _msg(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n\nHello there.\n").encode()


def _maildir(tmp_path):
    box = tmp_path / "Maildir"
    inbox = [
        _msg("From: Ada <ada@example.com>", f"To: {ME}", "Delivered-To: desk@ours.example",
             "Subject: Re: Offer", "Date: Mon, 2 Nov 2026 09:30:00 +0000",
             "Message-ID: <r1@example.com>"),
        _msg("From: Ada <ada@example.com>", f"To: {ME}", "Subject: Re: Offer (again)",
             "Date: Mon, 2 Nov 2026 09:31:00 +0000", "Message-ID: <r1@example.com>"),
        _msg(f"To: {ME}", "Subject: no sender", "Date: Mon, 2 Nov 2026 09:32:00 +0000",
             "Message-ID: <x1@example.com>"),
        _msg("From: Old <old@example.com>", f"To: {ME}", "Subject: Old news",
             "Date: Sun, 1 Nov 2026 09:00:00 +0000", "Message-ID: <o1@example.com>"),
        sample.auto_reply(ADA, ME, DAY, "Offer")[0],
        sample.dsn_bounce("bob@example.org", ME, DAY)[0],
        _msg(f"From: {ME}", "To: Ada <ada@example.com>", "Subject: Own auto-reply",
             "Date: Mon, 2 Nov 2026 09:33:00 +0000", "Message-ID: <a1@ours.example>",
             "Auto-Submitted: auto-replied"),
        _msg("From: Cy <cy@example.net>", f"To: {ME}", "Subject: Just in time",
             "Date: Mon, 2 Nov 2026 00:00:00 +0000", "Message-ID: <c1@example.net>"),
    ]
    inbox.append(b"X-Pad: " + b"a" * 600_000 + b"\n\nhi\n")  # quarantined, whatever --since says
    for n, raw in enumerate(inbox):
        sample.write_maildir_message(box, raw, DAY.replace(minute=n))
    sample.write_maildir_message(box / ".Sent", _msg(
        "From: Sales <sales@ours.example>", "To: Ada <ada@example.com>", "Subject: Offer",
        "Date: Mon, 2 Nov 2026 08:00:00 +0000", "Message-ID: <s1@ours.example>"), DAY)
    # an auto-reply of ours from an address not configured: learned, its text never read
    sample.write_maildir_message(box / ".Sent", _msg(
        "From: Desk <desk@ours.example>", "To: Ada <ada@example.com>", "Subject: Got it",
        "Auto-Submitted: auto-replied", "Date: Mon, 2 Nov 2026 08:10:00 +0000",
        "Message-ID: <s2@ours.example>"), DAY)
    return box


def _summary(event) -> tuple:
    if isinstance(event, FolderEvent):
        return ("folder", event.state.plan.folder, event.state.plan.sent,
                len(event.state.plan.handles))
    if isinstance(event, ChunkEvent):
        return ("chunk", event.state.plan.folder, event.covered, event.seen,
                event.duplicates, sorted(event.learned),
                sorted((e.subject or "", sorted(e.flags), e.error, e.text,
                        [(f.address, f.hard) for f in e.failures]) for e in event.envs))
    return ("done", event.account, event.error, event.crash)


SENT_CHUNK = ("chunk", "Sent", 2, 2, 0, ["desk@ours.example", "sales@ours.example"],
              [("Got it", ["auto_reply", "automated"], None, None, []),
               ("Offer", [], None, None, [])])


HUGE = ("", [], "header block too large (600009 bytes > 524288)", None, [])
OOO = "I am out of the office until Monday with limited access to email.\n"
AUTO = ["auto_reply", "automated"]


@pytest.mark.parametrize("since, text_from, inbox", [
    (None, frozenset(), [
        HUGE,
        ("Automatic reply: Offer", AUTO, None, OOO, []),
        ("Just in time", [], None, None, []),
        ("Old news", [], None, None, []),
        ("Own auto-reply", AUTO, None, None, []),
        ("Re: Offer", [], None, None, []),
        ("Undelivered Mail Returned to Sender", AUTO, None, None, [("bob@example.org", True)]),
        ("no sender", [], "no From header", None, []),
    ]),
    ("2026-11-02T00:00:00Z", frozenset({"ada@example.com", "desk@ours.example", ME}), [
        HUGE,
        ("Automatic reply: Offer", AUTO, None, OOO, []),
        ("Just in time", [], None, None, []),
        ("Own auto-reply", AUTO, None, None, []),
        ("Re: Offer", [], None, "Hello there.\n", []),
        ("Undelivered Mail Returned to Sender", AUTO, None, None, [("bob@example.org", True)]),
        ("no sender", [], "no From header", None, []),
    ]),
])
def test_one_account_sends_sent_first_then_inbox_then_done(tmp_path, since, text_from,
                                                           inbox):
    events: list = []
    fetch_account(MaildirSource(_maildir(tmp_path), frozenset({ME})), {},
                  ScanOptions(since=since, deliver=False), events.append, text_from)
    assert [_summary(e) for e in events] == [
        ("folder", "Sent", True, 2), SENT_CHUNK, ("folder", "INBOX", False, 9),
        ("chunk", "INBOX", 9, 9, 1, ["desk@ours.example"], inbox), ("done", None, None, None)]


def test_a_second_fetch_from_its_own_checkpoints_sends_empty_folders(tmp_path):
    box = _maildir(tmp_path)
    options = ScanOptions(deliver=False)
    first: list = []
    fetch_account(MaildirSource(box), {}, options, first.append)
    saved = {(e.account, e.state.plan.folder): e.state.plan.final for e in first
             if isinstance(e, FolderEvent)}
    again: list = []
    fetch_account(MaildirSource(box), saved, options, again.append)
    assert [_summary(e) for e in again] == [
        ("folder", "Sent", True, 0), ("folder", "INBOX", False, 0), ("done", None, None, None)]
    elsewhere: list = []  # another account's checkpoints of the same folder names
    fetch_account(MaildirSource(box), {("other", f): cp for (_a, f), cp in saved.items()},
                  options, elsewhere.append)
    assert [_summary(e)[:4] for e in elsewhere if isinstance(e, FolderEvent)] == [
        ("folder", "Sent", True, 2), ("folder", "INBOX", False, 9)]


class Refuse:
    """A writer's ``put`` that refuses the first folder with ``exc``, then takes all."""

    def __init__(self, exc: BaseException):
        self.exc, self.events = exc, []

    def __call__(self, event) -> None:
        self.events.append(event)
        if self.exc is not None and isinstance(event, FolderEvent):
            exc, self.exc = self.exc, None
            raise exc


CRASH = RuntimeError("writer bug")


@pytest.mark.parametrize("folders, exc, ending", [
    (False, None, [("done", "maildir:{box}",
                    "--source maildir:{box}: no Maildir folders (cur/new) found", None)]),
    (True, Stopped(), [("folder", "Sent", True, 2)]),
    (True, CRASH, [("folder", "Sent", True, 2), ("done", None, None, CRASH)]),
])
def test_a_fetch_ends_with_the_mailbox_error_a_crash_or_quietly(tmp_path, folders, exc,
                                                                 ending):
    box = _maildir(tmp_path) if folders else tmp_path
    put = Refuse(exc)
    fetch_account(MaildirSource(box), {}, ScanOptions(deliver=False), put)
    assert [_summary(e) for e in put.events] == [
        tuple(v.format(box=box.resolve()) if isinstance(v, str) else v for v in e)
        for e in ending]


REPORT = ("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
          "--b\nContent-Type: text/plain\n\nNot delivered.\n--b--\n")


@pytest.mark.parametrize("head, vanish, outcome", [
    # a null sender that is no bounce after all: the missing sender is its error
    ("From: <>\nSubject: Hello\n\n", False, ("no usable From address", [])),
    # the same, gone before its body was read
    ("From: <>\nSubject: Hello\n\n", True, ("no usable From address", [])),
    # a delivery report naming no recipient, with a null sender or not
    (f"From: <>\nSubject: Failure\nMIME-Version: 1.0\n{REPORT}", False,
     ("delivery report (RFC 3464) without a readable recipient", [])),
    (f"From: MAILER-DAEMON@mx.example\nSubject: Failure\nMIME-Version: 1.0\n{REPORT}", False,
     ("delivery report (RFC 3464) without a readable recipient", [])),
    # a report gone before its body was read: nothing to say against it
    (f"From: MAILER-DAEMON@mx.example\nSubject: Failure\nMIME-Version: 1.0\n{REPORT}", True,
     (None, [])),
])
def test_a_bounce_candidate_is_decided_by_its_whole_body(tmp_path, head, vanish, outcome):
    box = tmp_path / "Maildir"
    raw = (f"To: {ME}\nDate: Mon, 2 Nov 2026 09:30:00 +0000\nMessage-ID: <b1@mx.example>\n"
           + head + "body\n").encode()
    path = sample.write_maildir_message(box, raw, DAY)
    src = MaildirSource(box)
    src.folders()
    plan = src.plan("INBOX", False, None, None)
    [(_covered, chunk)] = list(src.headers(plan))
    if vanish:
        path.unlink()
    [env], learned, dups = read_chunk(src, plan, chunk, None)
    assert (env.error, [(f.address, f.hard) for f in env.failures]) == outcome
    assert (learned, dups) == (set(), 0)
