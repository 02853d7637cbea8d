"""Folders named in the settings: one the mailbox does not have ends the scan with an error
line that lists the folders it does have, and nothing is recorded."""

from __future__ import annotations


def test_a_configured_folder_that_does_not_exist_lists_the_real_ones(mailbox, people, invoke,
                                                                     conn, monkeypatch):
    client = mailbox.client()
    try:
        client.create_folder("Sent")
    finally:
        client.logout()
    monkeypatch.setenv("SALESCLI_IMAP_FOLDERS", "INBOX,Archive")
    result = invoke("scan")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1] == \
        "Error: account 'default': folder 'Archive' does not exist (folders: INBOX, Sent)"
    assert conn.execute("SELECT count(*) FROM interactions").fetchone()[0] == 0
