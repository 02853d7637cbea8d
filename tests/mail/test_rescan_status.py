"""A rescan asks STATUS of the folders it knows before anything else, INBOX first (Dovecot
answers that at once; after LIST it takes time that grows with the folder), and still
finds what changed between scans: a new folder, a folder gone, a new UIDVALIDITY, new
mail, a connection dropped during those first commands."""

from __future__ import annotations

import socket

from salescli.mail import sample
from salescli.mail.config import load_accounts
from salescli.mail.scan import ScanOptions, scan
from salescli.mail.sources import ImapSource
from tests.mail.helpers import ME, ago, kinds, last_run, state
from tests.support.cli import ok


class RecordingSource(ImapSource):
    """The real IMAP source, noting each command it sends with its folder."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands: list[str] = []

    def call(self, what, fn):
        self.commands.append(what)
        return super().call(what, fn)


def _scan(conn, source):
    return scan(conn, [source], ScanOptions(deliver=False))


def _first(mailbox, people, invoke, sent="Sent"):
    raw, mid = sample.outbound(ME, people["ada"], ago(days=3), "Pricing")
    mailbox.append(sent, raw, ago(days=3))
    ok(invoke("scan"))
    return mid


def test_rescan_asks_status_of_known_folders_first_inbox_first(mailbox, people, invoke, conn):
    _first(mailbox, people, invoke)
    source = RecordingSource(load_accounts()[0])
    counts = _scan(conn, source)
    assert counts["seen"] == 0
    assert source.commands == ["connect", "STATUS INBOX", "STATUS Sent", "LIST"]


def test_first_scan_has_nothing_to_ask_before_list(mailbox, people, conn):
    raw, _ = sample.outbound(ME, people["ada"], ago(days=3), "Pricing")
    mailbox.append("Sent", raw, ago(days=3))
    source = RecordingSource(load_accounts()[0])
    assert _scan(conn, source)["outbound"] == 1
    assert source.commands[:2] == ["connect", "LIST"]


def test_new_mail_after_the_known_status_is_found(mailbox, people, invoke, conn):
    mid = _first(mailbox, people, invoke)
    raw, _ = sample.reply(people["ada"], ME, ago(days=1), "Pricing", mid)
    mailbox.append("INBOX", raw, ago(days=1))
    source = RecordingSource(load_accounts()[0])
    counts = _scan(conn, source)
    assert counts["replies"] == 1
    assert state(conn, "ada@example.com")["stage"] == "replied"
    # The STATUS answers of the start were used: none asked twice.
    assert source.commands.count("STATUS INBOX") == 1
    assert source.commands.count("STATUS Sent") == 1


def test_a_folder_gone_since_the_last_scan_is_skipped_and_a_new_one_found(
        mailbox, people, invoke, conn):
    _first(mailbox, people, invoke)
    client = mailbox.client()
    try:
        client.delete_folder("Sent")
        client.create_folder("Sent Items")  # flagged \Sent by the test Dovecot
    finally:
        client.logout()
    raw, _ = sample.outbound(ME, people["bob"], ago(days=1), "Renewal")
    mailbox.append("Sent Items", raw, ago(days=1))
    source = RecordingSource(load_accounts()[0])
    counts = _scan(conn, source)
    assert counts["outbound"] == 1 and counts["accounts"]["default"].get("error") is None
    assert kinds(conn, "bob@example.org") == ["email_out"]
    assert source.commands[:4] == ["connect", "STATUS INBOX", "STATUS Sent", "LIST"]
    assert "STATUS Sent Items" in source.commands
    ok(invoke("scan"))
    assert last_run(conn)["status"] == "ok"


def test_a_new_uidvalidity_seen_in_the_first_status_rescans_the_folder(
        mailbox, people, invoke, conn):
    _first(mailbox, people, invoke)
    client = mailbox.client()
    try:
        client.delete_folder("Sent")
        client.create_folder("Sent")
    finally:
        client.logout()
    raw, _ = sample.outbound(ME, people["cy"], ago(days=1), "Pilot")
    mailbox.append("Sent", raw, ago(days=1))
    raw, _ = sample.outbound(ME, people["dee"], ago(days=1), "Pilot")
    mailbox.append("Sent", raw, ago(days=1))  # UID 2: below the old checkpoint's last UID
    old = conn.execute("SELECT uidvalidity FROM mail_checkpoints WHERE folder = 'Sent'"
                       ).fetchone()[0]
    counts = _scan(conn, RecordingSource(load_accounts()[0]))
    assert counts["outbound"] == 2
    new = conn.execute("SELECT uidvalidity, last_uid FROM mail_checkpoints"
                       " WHERE folder = 'Sent'").fetchone()
    assert new[0] != old and new[1] == 2


def test_a_connection_dropped_during_the_first_status_is_retried(mailbox, people, invoke,
                                                                 conn):
    _first(mailbox, people, invoke)

    class Dropping(RecordingSource):
        connects = 0

        def _connect(self):
            self.connects += 1
            super()._connect()

        def prefetch(self, known):
            self.client._imap.sock.shutdown(socket.SHUT_RDWR)
            super().prefetch(known)

    source = Dropping(load_accounts()[0])
    assert _scan(conn, source)["seen"] == 0
    assert source.connects == 2  # reconnected once, at the first STATUS
    # Retried in place: the answers were used, not asked again after LIST.
    assert source.commands == ["connect", "STATUS INBOX", "STATUS Sent", "LIST"]


def test_the_known_status_carries_highestmodseq_into_the_checkpoint(mailbox, people, invoke,
                                                                     conn):
    mid = _first(mailbox, people, invoke)  # planned without a prefetch: STATUS after LIST
    first = dict(conn.execute("SELECT folder, highestmodseq FROM mail_checkpoints"))
    assert first["INBOX"] and first["Sent"]  # Dovecot has CONDSTORE
    raw, _ = sample.reply(people["ada"], ME, ago(days=1), "Pricing", mid)
    mailbox.append("INBOX", raw, ago(days=1))
    _scan(conn, RecordingSource(load_accounts()[0]))  # planned from the prefetched STATUS
    later = dict(conn.execute("SELECT folder, highestmodseq FROM mail_checkpoints"))
    assert later["INBOX"] > first["INBOX"] and later["Sent"] == first["Sent"]


def test_inbox_is_asked_first_even_when_another_folder_sorts_before_it(mailbox, people,
                                                                        invoke, conn):
    client = mailbox.client()
    try:
        client.create_folder("Gesendet")  # a Sent folder by its German name
    finally:
        client.logout()
    _first(mailbox, people, invoke, sent="Gesendet")
    source = RecordingSource(load_accounts()[0])
    assert _scan(conn, source)["seen"] == 0
    assert source.commands == ["connect", "STATUS INBOX", "STATUS Gesendet", "LIST"]
