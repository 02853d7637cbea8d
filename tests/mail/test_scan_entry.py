"""The scan's entry points and what a whole scan reports: which ``--source`` specs are
read how (and the exact error for the others), the sources and own addresses a spec
gives, the connection settings a scan leaves on its connection, the progress bars it
draws, what a rescan counts (nothing new, a known message copied to another folder), the
delivery summary, and an account that fails while the others are recorded."""

from __future__ import annotations

import logging
import re
import shutil
from datetime import timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.mail import sample
from salescli.mail.config import MailError
from salescli.mail.local import MaildirSource, MboxSource
from salescli.mail.run import COUNT_KEYS, ScanOptions
from salescli.mail.scan import parse_source, scan, sources_for
from salescli.mail.sources import ImapSource
from tests.mail.helpers import ME, ago


@pytest.mark.parametrize("spec, parsed", [
    ("imap", ("imap", None)), ("", ("imap", None)), (None, ("imap", None)),
    ("  imap ", ("imap", None)), ("maildir:/srv/mail", ("maildir", "/srv/mail")),
    (" mbox: /srv/in.mbox ", ("mbox", "/srv/in.mbox")),
    ("maildir:/a:b", ("maildir", "/a:b")),
])
def test_a_source_spec_is_parsed(spec, parsed):
    assert parse_source(spec) == parsed


@pytest.mark.parametrize("spec", ["maildir:", "mbox:  ", "maildir", "pop:/srv/mail",
                                  "IMAP", "imap:/x"])
def test_a_bad_source_spec_is_one_exact_error(spec):
    with pytest.raises(InvalidValue) as err:
        parse_source(spec)
    assert str(err.value) == f"--source {spec!r} must be imap, maildir:PATH or mbox:PATH"


def test_the_sources_of_a_spec_and_their_own_addresses(tmp_path):
    env = {"SALESCLI_MY_ADDRESSES": "Me@Ours.Example", "SALESCLI_IMAP_HOST": "imap.example",
           "SALESCLI_IMAP_USER": "me", "SALESCLI_IMAP_PASSWORD": "pw"}
    (tmp_path / "cur").mkdir()
    (tmp_path / "in.mbox").write_text("")
    [m] = sources_for(f"maildir:{tmp_path}", env=env, my_addresses=[" @Team.Example"])
    assert (type(m), m.account, m.own) == (
        MaildirSource, f"maildir:{tmp_path.resolve()}",
        frozenset({"me@ours.example", "@team.example"}))
    [b] = sources_for(f"mbox:{tmp_path / 'in.mbox'}", env=env)
    assert (type(b), b.own) == (MboxSource, frozenset({"me@ours.example"}))
    [i] = sources_for("imap", env=env, my_addresses=["x@team.example"])
    assert (type(i), i.own) == (ImapSource, frozenset({"me@ours.example", "x@team.example"}))
    assert [s.account for s in sources_for(env=env)] == [i.account]
    with pytest.raises(InvalidValue):
        sources_for("imap", account="nobody", env=env)
    with pytest.raises(InvalidValue) as err:
        sources_for(f"maildir:{tmp_path}", env=env, my_addresses=["me at home"])
    assert str(err.value) == "my_addresses 'me at home' is not an email address or @domain"


def _box(path, people, t):
    raw, mid = sample.outbound(ME, people["ada"], t, "Offer")
    sample.write_maildir_message(path / ".Sent", raw, t)
    raw, _ = sample.reply(people["ada"], ME, t + timedelta(hours=1), "Offer", mid)
    sample.write_maildir_message(path, raw, t + timedelta(hours=1))
    raw, _ = sample.reply(people["bob"], ME, t + timedelta(hours=2), "Hi", None)
    sample.write_maildir_message(path, raw, t + timedelta(hours=2))
    return raw


class _Quiet:
    def update(self, n):
        pass

    def close(self):
        pass


def _zero(**counts):
    return {**dict.fromkeys(COUNT_KEYS, 0), **counts}


def test_a_scan_tunes_its_connection_and_draws_a_bar_per_folder(tmp_path, people, conn,
                                                                 monkeypatch, caplog):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    box = tmp_path / "Maildir"
    _box(box, people, ago(days=2))
    drawn = []

    class Bar:
        def __init__(self, label, total):
            drawn.append(("open", label, total))
            self.label = label

        def update(self, n):
            drawn.append(("update", self.label, n))

        def close(self):
            drawn.append(("close", self.label))

    caplog.set_level(logging.DEBUG, "salescli.mail")
    scan(conn, sources_for(f"maildir:{box}"), ScanOptions(progress=Bar, deliver=False))
    acct = f"maildir:{box.resolve()}"
    [took] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("scanned")]
    seconds = re.fullmatch(r"scanned in (\d+\.\d\d)s \(CPU (\d+\.\d\d)s\)", took).groups()
    assert all(0 < float(s) < 60 for s in seconds), took
    assert drawn == [("open", f"{acct} Sent", 1), ("update", f"{acct} Sent", 1),
                     ("close", f"{acct} Sent"), ("open", f"{acct} INBOX", 2),
                     ("update", f"{acct} INBOX", 2), ("close", f"{acct} INBOX")]
    assert [conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("cache_size", "temp_store", "wal_autocheckpoint")] == [-16000, 2, 10000]
    drawn.clear()
    raw, _ = sample.reply(people["cy"], ME, ago(days=1), "Hi", None)
    sample.write_maildir_message(box, raw, ago(days=1))
    other = tmp_path / "Other"
    _box(other, people, ago(days=1))
    # Nothing new in Sent: no bar; two accounts fetched at once: no bars at all.
    scan(conn, sources_for(f"maildir:{box}"), ScanOptions(progress=Bar, deliver=False))
    assert [d[:2] for d in drawn] == [("open", f"{acct} INBOX"), ("update", f"{acct} INBOX"),
                                      ("close", f"{acct} INBOX")]
    assert drawn[0][2] == drawn[1][2] >= 1  # (files changed near the last pass are re-read)
    drawn.clear()
    scan(conn, sources_for(f"maildir:{other}") + sources_for(f"maildir:{box}"),
         ScanOptions(progress=Bar, deliver=False))
    assert drawn == []


def test_a_rescan_counts_nothing_new_and_a_copied_message_as_a_duplicate(
        tmp_path, people, conn, monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    box, t = tmp_path / "Maildir", ago(days=2)
    bob = _box(box, people, t)
    acct = f"maildir:{box.resolve()}"
    first = scan(conn, sources_for(f"maildir:{box}"), ScanOptions(deliver=False))
    assert first["accounts"] == {acct: _zero(seen=3, matched=3, outbound=1, replies=2)}
    conn.execute("UPDATE mail_checkpoints SET last_scan_at = 'then'")
    again = scan(conn, sources_for(f"maildir:{box}"), ScanOptions(deliver=False))
    # Nothing new, yet the end of the scan stamps every folder it looked at.
    assert [r[0] for r in conn.execute("SELECT last_scan_at FROM mail_checkpoints")
            if r[0] == "then"] == []
    assert again == {"accounts": {acct: _zero()}, **_zero(), "moves": 0,
                     "status_changes": 0}
    sample.write_maildir_message(box / ".Archive", bob, t + timedelta(hours=2))
    copied = scan(conn, sources_for(f"maildir:{box}"), ScanOptions(deliver=False))
    assert copied == {"accounts": {acct: _zero(seen=1, duplicates=1)},
                      **_zero(seen=1, duplicates=1), "moves": 0, "status_changes": 0}
    assert conn.execute("SELECT count(*) FROM interactions").fetchone()[0] == 3
    # A chunk of known mail alone still moves its folder's checkpoint past it.
    assert [tuple(r) for r in conn.execute(
        "SELECT folder, newest_message_at FROM mail_checkpoints ORDER BY folder")] == [
        ("Archive", None), ("INBOX", iso(t + timedelta(hours=2))), ("Sent", iso(t))]


def test_a_scan_delivers_what_it_queued_and_says_how_it_went(tmp_path, people, conn,
                                                            monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    box = tmp_path / "Maildir"
    _box(box, people, ago(days=2))
    counts = scan(conn, sources_for(f"maildir:{box}"))
    assert counts["notifications"] == {"sent": 0, "failed": 2, "gave_up": 0,
                                       "suppressed": 0, "pending": 2}


def test_an_account_that_fails_is_named_after_the_others_are_recorded(tmp_path, people,
                                                                     conn, monkeypatch,
                                                                     caplog):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    good, gone = tmp_path / "good", tmp_path / "gone"
    _box(good, people, ago(days=2))
    (gone / "cur").mkdir(parents=True)
    sources = sources_for(f"maildir:{good}") + sources_for(f"maildir:{gone}")
    shutil.rmtree(gone)
    counts, opened = {}, []
    with pytest.raises(MailError) as err:
        scan(conn, sources, ScanOptions(jobs=1, deliver=False,
                                        progress=lambda label, total: opened.append(
                                            (label, total)) or _Quiet()), counts=counts)
    # One account at a time: bars are drawn, though there are two accounts.
    assert opened == [(f"maildir:{good.resolve()} Sent", 1),
                      (f"maildir:{good.resolve()} INBOX", 2)]
    assert str(err.value) == f"--source maildir:{gone}: no Maildir folders (cur/new) found"
    assert counts["accounts"][f"maildir:{gone.resolve()}"]["error"] == str(err.value)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == \
        [str(err.value)]
    assert counts["accounts"][f"maildir:{good.resolve()}"] == _zero(
        seen=3, matched=3, outbound=1, replies=2)
    assert conn.execute("SELECT count(*) FROM interactions").fetchone()[0] == 3
