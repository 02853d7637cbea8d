"""The IMAP source as the scan drives it: connection errors (refused, TLS, login) and their
retries with backoff, the folders it picks, the plan of a folder for each kind of
checkpoint, and the chunks of headers, bodies and texts it fetches, pinned whole against
the session Dovecot (or a closed port)."""

from __future__ import annotations

import logging
import random
import socket
import threading
from datetime import UTC, datetime

import pytest

from salescli.mail import sources
from salescli.mail.config import Account, MailError
from salescli.mail.sources import Checkpoint, FolderPlan, ImapSource
from tests.mail.helpers import new_mailbox
from tests.support.dovecot import free_port

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _account(host: str, port: int, user: str = "nobody", password: str = "pw",
             **settings) -> Account:
    return Account(name="acme", host=host, port=port, user=user, ssl=settings.pop("ssl", "none"),
                   password_env="ACME_PW", env={"ACME_PW": password}, **settings)


def _source(mailbox, **settings) -> ImapSource:
    server = mailbox.server
    return ImapSource(_account(server.host, server.port, mailbox.user,
                               server.password(mailbox.user), **settings))


def _mail(n: int, subject: str = "Hello") -> bytes:
    return (f"From: Ada <ada@example.com>\r\nTo: me@ours.example\r\nSubject: {subject} {n}\r\n"
            f"Message-ID: <m{n}@example.com>\r\nDate: Mon, 2 Nov 2026 09:30:00 +0000\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nBody {n}\r\n").encode()


@pytest.mark.parametrize("host, backoff, plaintext_warned", [
    ("127.0.0.1", 1.0, False),      # loopback: plaintext is fine
    ("0.0.0.0", 20.0, True),        # another address: warned at each attempt; delays cap at 30
])
def test_a_refused_connection_is_retried_with_growing_jittered_delays(
        host, backoff, plaintext_warned, caplog):
    sleeps: list[float] = []
    src = ImapSource(_account(host, free_port(), retries=3, backoff=backoff),
                     sleep=sleeps.append)
    random.seed(141)
    jitter = [0.5 + random.random() / 2 for _ in range(3)]
    random.seed(141)
    with caplog.at_level(logging.WARNING, logger="salescli.mail"), \
            pytest.raises(MailError) as err:
        src.open()
    assert str(err.value) == ("account 'acme': connect failed after 4 attempts:"
                              " [Errno 111] Connection refused")
    expected = [min(30.0, backoff * 2 ** n) * j for n, j in enumerate(jitter)]
    assert sleeps == expected
    plain = [f"account acme: plaintext IMAP to {host} (ssl = none): the password and mail"
             " cross the network unencrypted"] if plaintext_warned else []
    lines: list[str] = []
    for n, delay in enumerate(expected, 1):
        lines += plain + [f"account acme: connect: [Errno 111] Connection refused;"
                          f" retry {n}/3 in {delay:.1f}s"]
    assert [r.getMessage() for r in caplog.records] == lines + plain
    assert src.client is None


def test_a_server_that_never_greets_times_out_after_the_accounts_timeout():
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    src = ImapSource(_account("127.0.0.1", listener.getsockname()[1], retries=0,
                              timeout=0.2))
    errors: list[str] = []

    def connect() -> None:
        with pytest.raises(MailError) as err:
            src.open()
        errors.append(str(err.value))

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(10)
    listener.close()
    assert errors == ["account 'acme': connect failed after 1 attempts: timed out"]


@pytest.mark.parametrize("settings, error", [
    ({"password": "wrong"},
     "account 'acme': login as '{user}' (password) failed:"
     " [AUTHENTICATIONFAILED] Authentication failed."),
    ({"ssl": "ssl"}, "account 'acme': TLS with {host}:{port} failed: WRONG_VERSION_NUMBER"),
    ({"ssl": "starttls"},
     "account 'acme': connect failed: Server does not support STARTTLS capability"),
])
def test_a_connection_that_cannot_work_fails_at_once_saying_why(mailbox, settings, error):
    server = mailbox.server
    sleeps: list[float] = []
    settings = dict(settings)  # (the parameter's own dict is shared by every run)
    password = settings.pop("password", server.password(mailbox.user))
    src = ImapSource(_account(server.host, server.port, mailbox.user, password, retries=3,
                              **settings), sleep=sleeps.append)
    with pytest.raises(MailError) as err:
        src.open()
    assert str(err.value) == error.format(user=mailbox.user, host=server.host,
                                          port=server.port)
    assert sleeps == [] and src.client is None


def _fill(mailbox, folder: str, days: list[int]) -> tuple[int, int | None]:
    """Mail ``n`` (1, 2, ...) received on November ``days[n - 1]``; the folder's
    (UIDVALIDITY, HIGHESTMODSEQ)."""
    for n, day in enumerate(days, 1):
        mailbox.append(folder, _mail(n), WHEN.replace(day=day))
    client = mailbox.client()
    try:
        st = client.folder_status(folder, ["UIDVALIDITY", "HIGHESTMODSEQ"])
    finally:
        client.logout()
    return int(st[b"UIDVALIDITY"]), st.get(b"HIGHESTMODSEQ")


@pytest.fixture(scope="module")
def three(dovecot):
    """A mailbox whose INBOX holds mail of November 1, 2 and 3 (UIDs 1-3), read only."""
    mailbox = new_mailbox(dovecot)
    return (mailbox, *_fill(mailbox, "INBOX", [1, 2, 3]))


@pytest.mark.parametrize("known, since, expected", [
    # (checkpoint: same UIDVALIDITY?, last UID) or None; --since; (handles, last, base, reset)
    (None, None, (range(1, 4), 3, 0, False)),
    ((True, 1), None, (range(2, 4), 3, 1, False)),
    ((True, 3), None, ([], 3, 3, False)),
    ((True, 5), None, ([], 5, 5, False)),
    ((False, 3), None, (range(1, 4), 3, 0, True)),
    (None, "2026-11-02T00:00:00Z", ([2, 3], 3, 0, False)),
    ((True, 2), "2026-11-01T00:00:00Z", ([3], 3, 2, False)),
    ((False, 1), "2026-11-04T00:00:00Z", ([], 3, 0, True)),
])
def test_the_plan_of_a_folder_follows_its_checkpoint_and_since(three, known, since,
                                                               expected, monkeypatch):
    monkeypatch.setattr(sources, "SEARCH_WINDOW", 2)  # --since searches UIDs 1-2, then 3
    mailbox, uidvalidity, hms = three
    cp = None if known is None else \
        Checkpoint(uidvalidity if known[0] else uidvalidity + 7, known[1], 4)
    src = _source(mailbox)
    try:
        src.open()  # as a scan does: the server's CONDSTORE is known before any STATUS
        plan = src.plan("INBOX", False, cp, since)
    finally:
        src.close()
    handles, last, base, reset = expected
    assert plan == FolderPlan("INBOX", False, handles, Checkpoint(uidvalidity, last, hms),
                              base, True, reset)
    assert src.client is None


def create_folders(mailbox, names: tuple[str, ...]) -> None:
    """Create ``names`` in the mailbox, in that order, over a client of their own."""
    client = mailbox.client()
    try:
        for name in names:
            client.create_folder(name)
    finally:
        client.logout()


def _expunge(mailbox, folder: str, uids: list[int]) -> None:
    """Delete ``uids`` from ``folder`` for good, as another mail client would."""
    client = mailbox.client()
    try:
        client.select_folder(folder)
        client.delete_messages(uids)
        client.expunge()
    finally:
        client.logout()


def test_folders_are_inbox_and_the_sent_one_or_those_configured(mailbox):
    create_folders(mailbox, ("Sent Items", "Gesendet", "Archive"))  # in reverse order
    src = _source(mailbox, retries=0)
    configured = _source(mailbox, folders=["archive", "gesendet", "inbox", "SENT ITEMS"])
    try:
        assert src.folders() == [("INBOX", False), ("Sent Items", True)]  # flagged \Sent
        assert configured.folders() == [("Archive", False), ("Gesendet", True),
                                        ("INBOX", False), ("Sent Items", True)]
        with pytest.raises(MailError) as err:
            src.plan("N" * 300, False, None, None)
    finally:
        src.close()
        configured.close()
    why = "status failed: Mailbox doesn't exist: " + "N" * 300  # cut at 300 characters
    assert str(err.value) == f"account 'acme': STATUS {'N' * 300} failed: {why[:300]}"


def test_a_folder_without_a_sent_flag_is_found_by_its_name(mailbox):
    create_folders(mailbox, ("Archive", "Elementos enviados"))
    src = _source(mailbox)
    try:
        assert src.folders() == [("INBOX", False), ("Elementos enviados", True)]
    finally:
        src.close()


@pytest.mark.parametrize("batch, rate, sizes, waits", [
    # the rate limit's share of a second, below fetch_batch; each chunk waits out its
    # share of a second, less the time its FETCH took
    (3, 2.0, [2, 2, 1], [1.0, 1.0, 0.5]),
    (0, 0.0, [1, 1, 1, 1, 1], []),  # at least one, and no waiting
])
def test_headers_come_in_chunks_with_gaps_skipped_and_bodies_and_texts_whole(
        mailbox, batch, rate, sizes, waits):
    _fill(mailbox, "Box", [1, 2, 3, 4, 5])
    _expunge(mailbox, "Box", [2])
    sleeps: list[float] = []
    src = ImapSource(_account(mailbox.server.host, mailbox.server.port, mailbox.user,
                              mailbox.server.password(mailbox.user), fetch_batch=batch,
                              rate_limit=rate), sleep=sleeps.append)
    try:
        plan = src.plan("Box", False, None, None)
        chunks = list(src.headers(plan))
        bodies = list(src.bodies(plan, [5, 2, 1]))
        texts = list(src.texts(plan, [3, 2]))
        location = src.location("Box", 4)
    finally:
        src.close()
    def header(n: int) -> tuple[int, bytes, bytes]:
        return n, _mail(n).partition(b"\r\n\r\n")[0] + b"\r\n\r\n", \
            b"%02d-Nov-2026 09:30:00 +0000" % n

    assert [covered for covered, _got in chunks] == sizes
    assert [h for _covered, got in chunks for h in got] == [header(n) for n in (1, 3, 4, 5)]
    assert len(sleeps) == len(waits), sleeps
    assert all(0 < slept < most for slept, most in zip(sleeps, waits, strict=True)), sleeps
    assert bodies == [(5, _mail(5)), (1, _mail(1))]
    assert texts == [(3, b"Content-Type: text/plain; charset=utf-8\r\n\r\n", b"Body 3\r\n")]
    assert location == f"imap://{mailbox.user}@{mailbox.server.host}/Box;UID=4"


def test_a_folder_recreated_while_the_connection_was_down_stops_the_scan(mailbox):
    _fill(mailbox, "Box", [1, 2])
    sleeps: list[float] = []
    src = ImapSource(_account(mailbox.server.host, mailbox.server.port, mailbox.user,
                              mailbox.server.password(mailbox.user), retries=2),
                     sleep=sleeps.append)
    plan = src.plan("Box", False, None, None)
    _recreate(mailbox, "Box")
    src.client.shutdown()
    with pytest.raises(MailError) as err:
        list(src.headers(plan))
    src.close()
    assert str(err.value) == ("account 'acme': folder 'Box' changed UIDVALIDITY during the"
                              " scan; the next run rescans it")
    assert len(sleeps) == 1


def test_the_status_learned_before_is_used_once_then_asked_again(mailbox):
    _fill(mailbox, "INBOX", [1, 2])
    gone = "G" * 300  # (a long name: the server's error, with its timing, is cut at 300)
    src = _source(mailbox, retries=0)
    try:
        src.prefetch([gone, "INBOX"])
        mailbox.append("INBOX", _mail(3), WHEN)
        first = src.plan("INBOX", False, None, None)
        second = src.plan("INBOX", False, None, None)
        with pytest.raises(MailError) as err:
            src.plan(gone, False, None, None)
    finally:
        src.close()
    assert (first.handles, second.handles) == (range(1, 3), range(1, 4))
    why = "status failed: Mailbox doesn't exist: " + gone
    assert str(err.value) == f"account 'acme': STATUS {gone} failed: {why[:300]}"


def _recreate(mailbox, folder: str) -> int:
    """Delete and create ``folder`` again (empty): its new UIDVALIDITY."""
    client = mailbox.client()
    try:
        client.delete_folder(folder)
        client.create_folder(folder)
        return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])
    finally:
        client.logout()


def test_a_plan_takes_the_uidvalidity_the_folder_has_when_examined(mailbox):
    _fill(mailbox, "Box", [1, 2])
    src = _source(mailbox)
    try:
        src.open()
        src.prefetch(["Box"])                       # the STATUS of the old folder
        src.plan("Box", False, None, None)          # and the old folder examined
        new = _recreate(mailbox, "Box")
        planned = src.plan("Box", False, None, None)  # from the prefetched STATUS
        again = src.plan("Box", False, None, None)
    finally:
        src.close()
    assert planned.final.uidvalidity == again.final.uidvalidity == new


def test_headers_of_a_since_plan_that_lost_a_message_keep_the_others_and_their_dates(
        mailbox):
    _fill(mailbox, "Box", [1, 2, 3])
    _fill(mailbox, "INBOX", [1])
    src = _source(mailbox)
    try:
        src.open()
        plan = src.plan("Box", False, None, "2026-11-01T00:00:00Z")
        src.plan("INBOX", False, None, None)  # another folder examined meanwhile
        _expunge(mailbox, "Box", [2])
        chunks = list(src.headers(plan))
    finally:
        src.close()
    assert plan.handles == [1, 2, 3]
    assert [(covered, [(uid, head.split(b"\r\n")[2], date) for uid, head, date in got])
            for covered, got in chunks] == [
        (3, [(1, b"Subject: Hello 1", WHEN.replace(day=1)),
             (3, b"Subject: Hello 3", WHEN.replace(day=3))])]
