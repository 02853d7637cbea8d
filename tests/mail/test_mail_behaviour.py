"""Scanner behaviour ``./dev mutants`` found unchecked: the time of a mail without a Date
(the Maildir file name's, not the file's mtime), a 1980 date kept, an mbox of more than one
header chunk, and the exact error line of a bad SALESCLI_WATCH_REIDLE."""

from __future__ import annotations

import mailbox
import os
from datetime import UTC, datetime, timedelta

from salescli.core.timeutil import iso
from salescli.mail import sample
from salescli.mail.sources import HEADER_CHUNK
from tests.mail.helpers import ME, ago, last_run
from tests.support.cli import fails, ok


def occurred(conn, email: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT i.occurred_at FROM interactions i JOIN prospects p ON p.id = i.prospect_id"
        " WHERE p.email = ? AND i.kind = 'email_in' ORDER BY i.id", (email,))]


def test_mail_dates_come_from_the_header_else_the_maildir_file_name(tmp_path, people,
                                                                    invoke, conn):
    path = tmp_path / "Maildir"
    t = ago(days=2)
    raw, _ = sample.reply(people["ada"], ME, t, "Hello", None)
    undated = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"Date:"))
    assert undated != raw
    file = sample.write_maildir_message(path, undated, t)
    later = (t + timedelta(hours=7)).timestamp()
    os.utime(file, (later, later))  # copied since: the mtime is not when it arrived
    old = datetime(1980, 6, 1, 12, 0, tzinfo=UTC)
    raw, _ = sample.reply(people["bob"], ME, old, "From the archive", None)
    sample.write_maildir_message(path, raw, t)
    ok(invoke("scan", "--source", f"maildir:{path}"))
    assert occurred(conn, "ada@example.com") == [iso(t)]
    assert occurred(conn, "bob@example.org") == ["1980-06-01T12:00:00Z"]


def test_an_mbox_longer_than_one_header_chunk_is_read_whole(tmp_path, people, invoke, conn,
                                                           monkeypatch):
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(path)
    t = ago(days=3)
    for i in range(HEADER_CHUNK + 1):
        raw, _ = sample.outbound(ME, people["cy"], t + timedelta(seconds=i), f"Note {i}",
                                 body="Hi.\n")
        box.add(raw)
    box.flush()
    box.close()
    ok(invoke("scan", "--source", f"mbox:{path}"))
    assert last_run(conn)["counts"]["seen"] == HEADER_CHUNK + 1
    assert conn.execute("SELECT count(*) FROM interactions WHERE kind = 'email_out'"
                        ).fetchone()[0] == HEADER_CHUNK + 1


def test_a_bad_reidle_interval_is_one_exact_error(tmp_path, invoke, monkeypatch):
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "md" / sub).mkdir(parents=True)
    monkeypatch.setenv("SALESCLI_WATCH_REIDLE", "soon")
    assert fails(invoke("scan", "--source", f"maildir:{tmp_path / 'md'}", "--watch")) == \
        "Error: SALESCLI_WATCH_REIDLE 'soon' is not a number of seconds"
