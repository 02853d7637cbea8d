"""Local mail (Maildir as Dovecot or mbsync writes it, mbox), the demo's sample Maildir,
account configuration, and notifications queued for replies and hard bounces."""

from __future__ import annotations

import json
import mailbox
from datetime import timedelta

from salescli.mail import sample
from salescli.mail.config import load_accounts
from tests.mail.helpers import ME, ago, kinds, last_run, state
from tests.support.cli import fails, ok


def test_sample_maildir_for_the_demo(tmp_path, people, invoke, conn):
    path = tmp_path / "Maildir"
    n = sample.write_sample_maildir(path, list(people.values()), ME)
    assert n == 5 + 5 + 1  # outbound each; 2 replies, auto-reply, 2 bounces; a newsletter
    ok(invoke("scan", "--source", f"maildir:{path}"))
    assert state(conn, "ada@example.com")["stage"] == "replied"
    assert kinds(conn, "bob@example.org") == ["email_out", "auto_reply"]
    assert state(conn, "cy@example.net")["email_status"] == "bounced_hard"
    assert state(conn, "dee@example.com")["email_status"] == "bounced_soft"
    # In the demo's history each bounce comes after the mail it bounces.
    assert kinds(conn, "cy@example.net")[0] == "email_out"
    assert kinds(conn, "dee@example.com")[0] == "email_out"
    assert state(conn, "eve@example.org")["stage"] == "replied"
    counts = last_run(conn)["counts"]
    assert counts["seen"] == n and counts["ignored"] == 1
    # A rerun with nothing new reads no file; new mail is picked up.
    ok(invoke("scan", "--source", f"maildir:{path}"))
    assert last_run(conn)["counts"]["seen"] == 0
    raw, _ = sample.reply(people["bob"], ME, ago(hours=1), "Again", None)
    sample.write_maildir_message(path, raw, ago(hours=1), seen=False)
    ok(invoke("scan", "--source", f"maildir:{path}"))
    counts = last_run(conn)["counts"]
    assert (counts["matched"], counts["replies"]) == (1, 1)
    assert counts["seen"] == counts["duplicates"] + 1
    assert state(conn, "bob@example.org")["stage"] == "replied"


def test_a_larger_demo_maildir_has_its_two_bounces_only_once(tmp_path):
    """Past the first six prospects the roles repeat without bounces: the hard-bounce role
    becomes a reply, the soft-bounce role no answer at all."""
    people = [{"email": f"p{i}@example.com", "name": f"P{i}"} for i in range(12)]
    path = tmp_path / "Maildir"
    n = sample.write_sample_maildir(path, people, ME)
    inbox = sorted(p.read_bytes() for sub in ("cur", "new") for p in (path / sub).iterdir())
    assert n == 12 + len(inbox) and len(inbox) == 5 + 4 + 1  # 4: reply, auto, reply, reply
    assert sum(b"Content-Type: message/delivery-status" in raw for raw in inbox) == 2
    senders = {line for raw in inbox for line in raw.split(b"\n") if line.startswith(b"From:")}
    assert b'From: "P9" <p9@example.com>' not in senders  # the soft-bounce role, repeated
    assert b'From: "P8" <p8@example.com>' in senders  # the hard-bounce role, repeated


def test_mbsync_layout_maildir(tmp_path, people, invoke, conn):
    """mbsync's default layout: one directory per folder, the Sent one by its name."""
    t = ago(days=2)
    raw, mid = sample.outbound(ME, people["ada"], t, "Hi")
    sample.write_maildir_message(tmp_path / "mail" / "Sent Items", raw, t)
    raw, _ = sample.reply(people["ada"], ME, t + timedelta(hours=2), "Hi", mid)
    sample.write_maildir_message(tmp_path / "mail" / "INBOX", raw, t + timedelta(hours=2))
    raw, _ = sample.reply(people["bob"], ME, t, "spam?", None)
    sample.write_maildir_message(tmp_path / "mail" / "Junk", raw, t)
    ok(invoke("scan", "--source", f"maildir:{tmp_path / 'mail'}"))
    assert state(conn, "ada@example.com")["stage"] == "replied"
    assert kinds(conn, "bob@example.org") == []  # Junk is not scanned


def test_mbox_source_incremental(tmp_path, people, invoke, conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)  # one mbox: direction from our address
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(path)
    t = ago(days=3)
    raw, mid = sample.outbound(ME, people["cy"], t, "Hello")
    box.add(raw)
    box.flush()
    ok(invoke("scan", "--source", f"mbox:{path}"))
    assert state(conn, "cy@example.net")["stage"] == "contacted"
    ok(invoke("scan", "--source", f"mbox:{path}"))  # the file unchanged: nothing read
    assert last_run(conn)["counts"]["seen"] == 0
    raw, _ = sample.reply(people["cy"], ME, t + timedelta(days=1), "Hello", mid)
    box.add(raw)
    box.flush()
    box.close()
    ok(invoke("scan", "--source", f"mbox:{path}"))
    assert last_run(conn)["counts"]["seen"] == 1
    assert state(conn, "cy@example.net")["stage"] == "replied"


def test_bad_source_and_account_are_user_errors(invoke, tmp_path, monkeypatch):
    fails(invoke("scan", "--source", "pop3:x"), "--source", "pop3:x")
    fails(invoke("scan", "--source", f"maildir:{tmp_path / 'none'}"), "not a directory")
    fails(invoke("scan"), "SALESCLI_IMAP_HOST")
    monkeypatch.setenv("SALESCLI_IMAP_HOST", "imap.example.com")
    monkeypatch.setenv("SALESCLI_IMAP_USER", "me@example.com")
    fails(invoke("scan"), "SALESCLI_IMAP_PASSWORD", "is not set")
    monkeypatch.setenv("SALESCLI_IMAP_PASSWORD", "pw")
    monkeypatch.setenv("SALESCLI_IMAP_SSL", "tls")
    fails(invoke("scan"), "SALESCLI_IMAP_SSL 'tls'", "ssl, starttls, none")
    monkeypatch.setenv("SALESCLI_IMAP_SSL", "ssl")
    fails(invoke("scan", "--account", "other"), "--account 'other'", "default")
    fails(invoke("scan", "--since", "yesterday-ish"), "--since")


def test_toml_accounts(tmp_path, monkeypatch):
    config = tmp_path / "salescli.toml"
    config.write_text("""
my_addresses = ["team@ours.example", "@ours.example"]
[[accounts]]
name = "gmail"
host = "imap.gmail.com"
user = "me@gmail.example"
token_cmd = "oauth2-helper --print"
[[accounts]]
name = "office"
host = "mail.ours.example"
port = 143
ssl = "starttls"
user = "sales"
password_env = "OFFICE_PASSWORD"
folders = ["INBOX", "Sent Items"]
rate_limit = 20
""")
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    monkeypatch.setenv("OFFICE_PASSWORD", "s3cret")
    gmail, office = load_accounts()
    assert (gmail.name, gmail.port, gmail.ssl, gmail.auth) == ("gmail", 993, "ssl", "xoauth2")
    assert "me@gmail.example" in gmail.my_addresses and "@ours.example" in gmail.my_addresses
    assert (office.port, office.ssl, office.folders, office.rate_limit) == \
        (143, "starttls", ["INBOX", "Sent Items"], 20)
    assert office.secret() == "s3cret"
    assert "s3cret" not in repr(office)
    config.write_text('[[accounts]]\nname = "x"\nhost = "h"\nuser = "u"\npasword_env = "P"\n')
    try:
        load_accounts()
    except Exception as exc:
        assert "accounts[0].pasword_env" in str(exc) and "not a known setting" in str(exc)
    else:
        raise AssertionError("a misspelt setting must be refused")


def test_notifications_for_recent_replies_and_hard_bounces_only(tmp_path, people, invoke, conn,
                                                                monkeypatch):
    """A reply and a hard bounce queue one notification each, once; old mail (a first
    import of history) and soft bounces queue none. Delivery failing does not fail the scan."""
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # nothing listens
    path = tmp_path / "Maildir"
    t = ago(days=1)
    raw, mid = sample.outbound(ME, people["ada"], t, "Hi")
    sample.write_maildir_message(path / ".Sent", raw, t)
    for raw, when in (sample.reply(people["ada"], ME, t + timedelta(hours=1), "Hi", mid)[0],
                      t + timedelta(hours=1)), \
            (sample.dsn_bounce("bob@example.org", ME, t)[0], t), \
            (sample.dsn_bounce("cy@example.net", ME, t, hard=False)[0], t), \
            (sample.reply(people["dee"], ME, ago(days=40), "Old", None)[0], ago(days=40)):
        sample.write_maildir_message(path, raw, when)
    ok(invoke("scan", "--source", f"maildir:{path}"))
    rows = conn.execute("SELECT rule, prospect_id, sent_at FROM notifications").fetchall()
    assert sorted((r[0], r[1]) for r in rows) == [("hard_bounce", people["bob"]["id"]),
                                                  ("reply", people["ada"]["id"])]
    assert all(r[2] is None for r in rows)  # the webhook is down: still pending
    # What the hook will say about the bounce: the server's words, and the address.
    bounce = json.loads(conn.execute("SELECT payload FROM notifications"
                                     " WHERE rule = 'hard_bounce'").fetchone()[0])
    assert (bounce["address"], bounce["diagnostic"]) == (
        "bob@example.org",
        "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown")
    run = last_run(conn)
    assert run["status"] == "ok" and run["counts"]["notifications"]["pending"] == 2
    conn.execute("DELETE FROM mail_checkpoints")
    ok(invoke("scan", "--source", f"maildir:{path}"))
    assert conn.execute("SELECT count(*) FROM notifications").fetchone()[0] == 2
