"""Sequence mail filed in the owner's IMAP Sent folder (real aiosmtpd and Dovecot, the real
``salescli send`` and ``scan``): APPENDed once with \\Seen and our Message-ID, and the scan
then records each as the one ``email_out`` already written, not a second."""

from __future__ import annotations

import email
import json

from salescli.sequences import enroll
from tests.mail.conftest import own_dovecot  # noqa: F401 (fixture)
from tests.mail.helpers import new_mailbox
from tests.sequences.conftest import ME
from tests.support.cli import ok, query


def _config(tmp_path, monkeypatch, box, smtp_server, imap_account: str = '"maria"',
            retries: int = 3, extra: str = "", sent_folder: bool = True) -> None:
    """SALESCLI_CONFIG: maria's IMAP account and her sender table (SMTP to aiosmtpd)."""
    smtp = smtp_server.env()
    monkeypatch.setenv("MARIA_IMAP_PASSWORD", box.server.password(box.user))
    path = tmp_path / "accounts.toml"
    path.write_text(f"""
[[accounts]]
name = "maria"
host = "{box.server.host}"
port = {box.server.port}
user = "{box.user}"
password_env = "MARIA_IMAP_PASSWORD"
ssl = "none"
retries = {retries}
backoff = 0.05
{extra}

[[senders]]
address = "{ME}"
smtp_host = "{smtp['SALESCLI_SMTP_HOST']}"
smtp_port = {smtp['SALESCLI_SMTP_PORT']}
smtp_ssl = "none"
imap_account = {imap_account}
""")
    monkeypatch.setenv("SALESCLI_CONFIG", str(path))
    if not sent_folder:
        return
    client = box.client()
    try:
        client.create_folder("Sent")  # every real mailbox has one
    finally:
        client.logout()


def _sent_folder(box) -> list[tuple[str, tuple]]:
    """(Message-ID, flags) of each message in the Sent folder."""
    client = box.client()
    try:
        client.select_folder("Sent", readonly=True)
        uids = client.search(["ALL"])
        out = []
        for _uid, data in sorted(client.fetch(uids, [b"RFC822.HEADER", b"FLAGS"]).items()):
            msg = email.message_from_bytes(data[b"RFC822.HEADER"])
            out.append((msg["Message-ID"], data[b"FLAGS"]))
        return out
    finally:
        client.logout()


def _email_out(db_file) -> list[str]:
    return sorted(r["message_id"] for r in query(
        db_file, "SELECT message_id FROM interactions WHERE kind = 'email_out'"))


def test_sent_mail_is_appended_seen_and_scanned_once(conn, db_file, intro, team, smtp_server,
                                                     mailbox, t0, invoke, tmp_path,
                                                     monkeypatch):
    _config(tmp_path, monkeypatch, mailbox, smtp_server)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"], now_=t0)
    result = invoke("send")
    ok(result)
    assert "has no Sent folder" not in result.stderr
    ledger = sorted(r["message_id"] for r in query(db_file, "SELECT message_id FROM sends"
                                                            " WHERE state = 'sent'"))
    assert len(ledger) == 2
    filed = _sent_folder(mailbox)
    assert sorted(mid for mid, _flags in filed) == ledger
    assert all(b"\\Seen" in flags for _mid, flags in filed)
    run = query(db_file, "SELECT counts FROM job_runs WHERE job = 'send'")[-1]
    assert '"filed": 2' in run["counts"]
    assert _email_out(db_file) == ledger
    ok(invoke("scan"))
    ok(invoke("scan"))
    assert _email_out(db_file) == ledger  # the Sent copies are the same two messages
    assert query(db_file, "SELECT count(*) AS n FROM mail_messages WHERE folder = 'Sent'"
                 )[0]["n"] == 2


def test_a_refused_mail_gets_no_copy_and_the_next_one_still_does(
        conn, db_file, intro, team, smtp_server, mailbox, t0, invoke, tmp_path, monkeypatch):
    """Ada's address is refused at SMTP, Bob's mail goes out in the same run: the Sent
    folder holds Bob's mail alone (a refusal does not stop the filing of the others)."""
    _config(tmp_path, monkeypatch, mailbox, smtp_server)
    smtp_server.refuse_rcpt("ada@example.com", 550)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"], now_=t0)
    ok(invoke("send"))
    assert [r["recipient"] for r in query(db_file, "SELECT recipient FROM sends"
                                                   " ORDER BY id")] == \
        ["ada@example.com", "bob@example.org"]  # Ada's came first in the run
    sent = query(db_file, "SELECT message_id FROM sends WHERE state = 'sent'")
    assert [mid for mid, _flags in _sent_folder(mailbox)] == [r["message_id"] for r in sent]
    assert [m.rcpt_tos for m in smtp_server.messages] == [["bob@example.org"]]


def test_the_sent_folder_is_found_when_the_scan_reads_only_the_inbox(
        conn, db_file, intro, team, smtp_server, mailbox, t0, invoke, tmp_path, monkeypatch):
    _config(tmp_path, monkeypatch, mailbox, smtp_server, extra='folders = ["INBOX"]')
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    ok(invoke("send"))
    assert [mid for mid, _flags in _sent_folder(mailbox)] == [
        r["message_id"] for r in query(db_file, "SELECT message_id FROM sends")]


def test_a_sender_with_imap_account_empty_gets_no_copy(conn, db_file, intro, team,
                                                       smtp_server, mailbox, t0, invoke,
                                                       tmp_path, monkeypatch):
    _config(tmp_path, monkeypatch, mailbox, smtp_server, imap_account='""')
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    ok(invoke("send"))
    assert len(smtp_server.messages) == 1
    assert _sent_folder(mailbox) == []


def test_an_unreachable_mailbox_loses_the_copy_not_the_mail(conn, db_file, intro, team,
                                                            smtp_server, own_dovecot,  # noqa: F811
                                                            t0,
                                                            invoke, tmp_path, monkeypatch):
    box = new_mailbox(own_dovecot)
    _config(tmp_path, monkeypatch, box, smtp_server, retries=1)
    own_dovecot.stop()
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"], now_=t0)
    result = invoke("send")
    ok(result)
    # tried once for the first mail, not again for the second
    assert result.stderr.count("not filed in account maria") == 1, result.stderr
    assert len(smtp_server.messages) == 2
    assert query(db_file, "SELECT state FROM sends") == [{"state": "sent"}] * 2
    run = query(db_file, "SELECT status, counts FROM job_runs WHERE job = 'send'")[-1]
    assert '"filing_failed": 2' in run["counts"] and '"sent": 2' in run["counts"]
    ok(invoke("send"))  # nothing is sent again for a lost copy
    assert len(smtp_server.messages) == 2


def test_an_unknown_imap_account_is_one_error_line(conn, intro, team, smtp_server, mailbox,
                                                   invoke, tmp_path, monkeypatch):
    from tests.support.cli import fails

    archive = ('\n[[accounts]]\nname = "archive"\nhost = "127.0.0.1"\n'
               'user = "archive@ours.example"\npassword_env = "MARIA_IMAP_PASSWORD"\n')
    _config(tmp_path, monkeypatch, mailbox, smtp_server, imap_account='"nobody"',
            extra=archive)
    # The line names the setting, the value and the accounts there are to choose from.
    assert fails(invoke("send")) == (f"Error: senders.{ME}.imap_account 'nobody' is not a"
                                     " configured IMAP account (accounts: archive, maria)")
    assert smtp_server.messages == []


def test_a_sender_with_a_gap_files_each_mail_dated_when_it_was_sent(
        conn, db_file, intro, team, smtp_server, mailbox, t0, tmp_path, monkeypatch):
    """With a minimum gap each mail goes out on its own, right after its exit rules are
    read; each is still filed, and the copy is dated the moment the run sent it (not when
    it was filed)."""
    from datetime import UTC

    from salescli.mail import sent_copy
    from salescli.sequences import senders
    from salescli.sequences.send import send_due

    _config(tmp_path, monkeypatch, mailbox, smtp_server)
    monkeypatch.setenv("SALESCLI_SEND_MIN_GAP", "60")
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"], now_=t0)
    copies = sent_copy.from_environment(senders.sent_routes(senders.load()))
    waits: list[float] = []
    try:
        assert send_due(conn, now=t0, sleep=waits.append, sent_copy=copies) == \
            {"sent": 2, "filed": 2}
    finally:
        copies.close()
    assert len(waits) == 1 and 55 < waits[0] <= 60  # Bob's mail waited out the gap
    client = mailbox.client()
    try:
        client.normalise_times = False
        client.select_folder("Sent", readonly=True)
        dates = [d[b"INTERNALDATE"] for d in
                 client.fetch(client.search(["ALL"]), [b"INTERNALDATE"]).values()]
    finally:
        client.logout()
    assert [d.astimezone(UTC) for d in dates] == [t0, t0]


def test_a_mailbox_without_a_sent_folder_gets_no_copy_and_says_so_once(
        conn, db_file, intro, team, smtp_server, mailbox, t0, invoke, tmp_path, monkeypatch):
    """maria's mailbox has no Sent folder: both mails go out, none is counted as filed, and
    one warning says why (a mailbox with a Sent folder gets none: the test above)."""
    _config(tmp_path, monkeypatch, mailbox, smtp_server, sent_folder=False)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "bob@example.org"], now_=t0)
    result = invoke("send")
    ok(result)
    assert len(smtp_server.messages) == 2
    assert [ln.split("] ", 1)[-1] for ln in result.stderr.splitlines() if "Sent" in ln] == \
        ["account maria has no Sent folder: sequence mail is not filed"]
    run = query(db_file, "SELECT counts FROM job_runs WHERE job = 'send'")[-1]
    assert json.loads(run["counts"]) == {"sent": 2}


def test_a_sender_without_a_mailbox_sends_and_is_not_counted_as_filed(
        conn, db_file, intro, team, smtp_server, mailbox, t0, invoke, tmp_path, monkeypatch):
    """maria's mail is filed in her Sent folder; omar has no mailbox here: his mail goes
    out all the same, and the run counts one copy filed, not two."""
    from salescli.core import db
    from salescli.pipeline import prospects
    from salescli.web import users

    _config(tmp_path, monkeypatch, mailbox, smtp_server)
    users.add(conn, db.db_path(), "tester", "omar", "operator", email="omar@ours.example")
    prospects.add(conn, "tester", "dee@example.com", name="Dee Dee", owner="omar")
    enroll.enroll(conn, "tester", "intro", ["ada@example.com", "dee@example.com"], now_=t0)
    ok(invoke("send"))
    assert sorted(m.mail_from for m in smtp_server.messages) == [ME, "omar@ours.example"]
    assert len(_sent_folder(mailbox)) == 1
    run = query(db_file, "SELECT counts FROM job_runs WHERE job = 'send'")[-1]
    assert json.loads(run["counts"]) == {"sent": 2, "filed": 1}
