"""What the local sources read, pinned whole, on crafted files: the folders a Maildir (both
layouts) or a directory of mbox files offers, each folder's plan (which files or message
numbers are new since a checkpoint, and the checkpoint after), the header block, arrival
time and body of each message, where a message moved by a mail client is found again, and
the errors for a path that is not mail."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from salescli.mail import local
from salescli.mail.config import MailError
from salescli.mail.local import MaildirSource, MboxSource, glob_escape
from salescli.mail.sources import Checkpoint, FolderPlan

OLD = 1_600_000_000  # directory times set before a plan, so that any change shows


def _put(path: Path, data: bytes, mtime: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _maildir(folder: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def _age_dirs(folder: Path) -> None:
    for sub in ("cur", "new"):
        os.utime(folder / sub, (OLD, OLD))


def test_maildir_plus_plus_folders(tmp_path):
    root = _maildir(tmp_path / "Maildir")
    for name in (".Archive.2024", ".Sent", ".Trash", ".Drafts", "plain"):
        (root / name / "cur").mkdir(parents=True)
    (root / ".NoCur" / "new").mkdir(parents=True)
    assert MaildirSource(root).folders() == [("INBOX", False), ("Archive/2024", False),
                                             ("Sent", True)]


def test_one_directory_per_folder_as_mbsync_writes(tmp_path):
    root = tmp_path / "mail"
    for name in ("inbox", "Sent Items", "Archive/2024", "Junk", "Other/Deleted Items"):
        _maildir(root / name)
    assert MaildirSource(root).folders() == [("Archive/2024", False), ("Sent Items", True),
                                             ("INBOX", False)]


def test_maildir_paths_that_are_not_mail(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(MailError) as caught:
        MaildirSource("~/none")
    assert str(caught.value) == "--source maildir:~/none: not a directory"
    source = MaildirSource("~/empty", own=frozenset({"me@ours.example"}))
    assert (source.account, source.own) == (f"maildir:{(tmp_path / 'empty').resolve()}",
                                            frozenset({"me@ours.example"}))
    with pytest.raises(MailError) as caught:
        source.folders()
    assert str(caught.value) == (f"--source maildir:{tmp_path / 'empty'}: no Maildir folders"
                                 " (cur/new) found")


def _inbox(tmp_path) -> tuple[MaildirSource, list[Path]]:
    root = _maildir(tmp_path / "Maildir")
    files = [_put(root / "new" / "1700000000.M1.host", b"Subject: a\n\nbody a\n"),
             _put(root / "cur" / "1700000001.M2.host:2,S", b"Subject: b\n\nbody b\n"),
             _put(root / "cur" / "1700000002.M3.host:2,RS", b"Subject: c\n\nbody c\n")]
    _put(root / "cur" / ".hidden", b"Subject: not mail\n\n")
    _age_dirs(root)
    source = MaildirSource(root)
    source.folders()
    return source, sorted(files)


def test_a_maildir_plan_lists_every_file_then_only_what_changed(tmp_path):
    source, files = _inbox(tmp_path)
    before = int(time.time())
    first = source.plan("INBOX", True, None, None)
    after = int(time.time())
    assert first == FolderPlan("INBOX", True, files, first.final, numeric=False)
    assert before <= first.final.uidvalidity <= after and first.final.last_uid == 3
    assert 0 <= first.final.highestmodseq < 2 ** 63  # fits an SQLite integer
    # Nothing changed: nothing to read, and the checkpoint is the same but for its time.
    again = source.plan("INBOX", True, first.final, None)
    assert again == FolderPlan("INBOX", True, [], again.final, numeric=False)
    assert (again.final.last_uid, again.final.highestmodseq) == (3, first.final.highestmodseq)
    # A client changes a message's flags (a rename in cur/): the folder is read again.
    flagged = files[1].with_name("1700000001.M2.host:2,FS")
    os.rename(files[1], flagged)
    changed = source.plan("INBOX", True, Checkpoint(0, 3, first.final.highestmodseq), None)
    assert changed.handles == sorted([files[0], flagged, files[2]])
    assert changed.final.highestmodseq != first.final.highestmodseq
    # New mail in new/: likewise.
    _age_dirs(source.root)
    newer = _put(source.root / "new" / "1700000003.M4.host", b"Subject: d\n\n")
    latest = source.plan("INBOX", True, Checkpoint(0, 3, changed.final.highestmodseq), None)
    assert latest.handles == sorted([files[0], flagged, files[2], newer])


def test_each_state_of_the_folder_directories_has_its_own_signature(tmp_path):
    """The signature of cur/ and new/ (their times) tells 40 states apart, each one the
    same every time it is taken, and fits the SQLite integer the checkpoint is kept in."""
    source, _ = _inbox(tmp_path)
    seen = {}
    for n in range(20):
        for sub, other in (("cur", "new"), ("new", "cur")):
            os.utime(source.root / sub, ns=(OLD * 10 ** 9, OLD * 10 ** 9 + n + 1))
            os.utime(source.root / other, ns=(OLD * 10 ** 9, OLD * 10 ** 9))
            sig = source.plan("INBOX", False, None, None).final.highestmodseq
            assert sig == source.plan("INBOX", False, None, None).final.highestmodseq
            seen[(sub, n)] = sig
    assert len(set(seen.values())) == 40
    assert all(0 <= sig < 2 ** 63 for sig in seen.values())


def test_a_checkpoint_with_another_file_count_reads_the_folder_again(tmp_path):
    source, files = _inbox(tmp_path)
    sig = source.plan("INBOX", False, None, None).final.highestmodseq
    assert source.plan("INBOX", False, Checkpoint(0, 2, sig), None).handles == files
    assert source.plan("INBOX", False, Checkpoint(0, 3, sig + 1), None).handles == files
    assert source.plan("INBOX", False, Checkpoint(None, 3, sig), None).handles == []


def test_only_files_changed_since_two_seconds_before_the_last_listing_are_read(tmp_path):
    source, files = _inbox(tmp_path)
    changed = int(max(f.stat().st_ctime for f in files))
    plan = source.plan("INBOX", False, Checkpoint(changed + 2, 99, None), None)
    assert plan.handles == files
    plan = source.plan("INBOX", False, Checkpoint(changed + 3, 99, None), None)
    assert plan.handles == []


def test_a_file_gone_between_the_listing_and_its_check_is_kept_to_be_read(tmp_path):
    """A message file that vanished after the listing (here: a link to nowhere) cannot
    say when it changed; it is read (where it went) rather than skipped."""
    source, files = _inbox(tmp_path)
    gone = source.root / "cur" / "1700000004.M5.host:2,S"
    gone.symlink_to(tmp_path / "elsewhere")
    plan = source.plan("INBOX", False, Checkpoint(int(time.time()) + 100, 3, None), None)
    assert plan.handles == [gone]


def test_maildir_headers_arrival_times_and_bodies(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "HEADER_CHUNK", 2)
    root = _maildir(tmp_path / "Maildir")
    mtime = 1_500_000_000
    long_header = b"X-Long: " + b"x" * 70_000 + b"\n"
    files = [
        _put(root / "cur" / "1.M0.host:2,S", b"Subject: 8 digits\n\nbody\n", mtime),
        _put(root / "cur" / "123456789.M1.host:2,S", b"Subject: crlf\r\n\r\nbody\r\n\r\nmore"),
        _put(root / "cur" / "12345678901.M2.host:2,S", long_header + b"\nbody\n\nmore\n"),
        _put(root / "cur" / "123456789012.M3.host:2,S", b"Subject: no body", mtime),
        _put(root / "new" / "12345678.M4.host", b"Subject: 8 digits\n\n", mtime),
        _put(root / "new" / "1700000000", b"Subject: a bare name\n\nx\n"),
        _put(root / "new" / "1700000001.M5.host", b"\n\nno header at all\n"),
    ]
    (root / "cur" / "1700000009.M9.host:2,S").mkdir()  # not a file: skipped, but covered
    source = MaildirSource(root)
    source.folders()
    plan = source.plan("INBOX", False, None, None)
    assert len(plan.handles) == 8
    at = datetime.fromtimestamp
    assert list(source.headers(plan)) == [
        (2, [(files[0], b"Subject: 8 digits\n\n", at(mtime, UTC)),
             (files[1], b"Subject: crlf\r\n\r\n", at(123456789, UTC))]),
        (2, [(files[2], long_header + b"\n", at(12345678901, UTC)),
             (files[3], b"Subject: no body", at(mtime, UTC))]),
        (3, [(files[4], b"Subject: 8 digits\n\n", at(mtime, UTC)),
             (files[5], b"Subject: a bare name\n\n", at(1700000000, UTC))]),
        (1, [(files[6], b"\n\n", at(1700000001, UTC))]),
    ]
    assert list(source.bodies(plan, files[1:2])) == [
        (files[1], b"Subject: crlf\r\n\r\nbody\r\n\r\nmore")]
    assert source.location("INBOX", files[1]) == str(files[1])


def test_a_header_block_is_read_up_to_a_megabyte_and_a_body_up_to_max_body(tmp_path):
    root = _maildir(tmp_path / "Maildir")
    huge = _put(root / "cur" / "1700000000.M1.host:2,S", b"X: " + b"y" * 2_100_000)
    source = MaildirSource(root)
    source.folders()
    plan = source.plan("INBOX", False, None, None)
    [(covered, [(path, head, _)])] = source.headers(plan)
    assert (covered, path, head) == (1, huge, huge.read_bytes()[:1_048_576])
    [(path, body)] = source.bodies(plan, [huge])
    assert (path, body) == (huge, huge.read_bytes()[:local.MAX_BODY])


def test_a_message_moved_after_the_plan_is_read_where_it_went(tmp_path):
    root = _maildir(tmp_path / "Maildir")
    names = ["1700000000.M[1]*?.host", "1700000001.M2.host", "1700000002.M3.host"]
    files = [_put(root / "new" / names[0], b"Subject: a\n\n"),
             _put(root / "cur" / (names[1] + ":2,S"), b"Subject: b\n\n"),
             _put(root / "new" / names[2], b"Subject: gone\n\n")]
    source = MaildirSource(root)
    source.folders()
    plan = source.plan("INBOX", False, None, None)
    moved = [root / "cur" / (names[0] + ":2,S"), root / "new" / names[1]]
    os.rename(files[0], moved[0])
    os.rename(files[1], moved[1])
    files[2].unlink()
    assert plan.handles == [files[1], files[0], files[2]]  # cur/ sorts before new/
    [(covered, found)] = source.headers(plan)
    assert (covered, [(p, h) for p, h, _ in found]) == (
        3, [(moved[1], b"Subject: b\n\n"), (moved[0], b"Subject: a\n\n")])
    assert list(source.bodies(plan, plan.handles)) == [
        (files[1], b"Subject: b\n\n"), (files[0], b"Subject: a\n\n")]
    for path in moved:
        path.unlink()
    assert list(source.headers(plan)) == [(3, [])]  # all gone: still covered


def test_glob_escape_makes_wildcards_literal():
    assert glob_escape("a*b?c[d]e") == "a[*]b[?]c[[]d]e"


def _mbox(path: Path, *messages: tuple[str, bytes]) -> Path:
    """An mbox file of (From_ line, message) written as is (the line in Latin-1)."""
    return _put(path, b"".join(f"From {line}\n".encode("latin-1") + raw + b"\n"
                               for line, raw in messages))


FROM = "ada@example.com Thu Jan  4 12:30:05 2024"


def test_mbox_folders_and_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(MailError) as caught:
        MboxSource("~/none")
    assert str(caught.value) == "--source mbox:~/none: no such file or directory"
    boxes = tmp_path / "boxes"
    for name in ("Sent", "INBOX", ".Sent.swp", "Trash", "Junk"):
        _mbox(boxes / name, (FROM, b"Subject: x\n\n"))
    (boxes / "subdir").mkdir()
    source = MboxSource("~/boxes", own=frozenset({"me@ours.example"}))
    assert (source.account, source.own) == (f"mbox:{boxes.resolve()}",
                                            frozenset({"me@ours.example"}))
    assert source.folders() == [("INBOX", False), ("Sent", True)]
    assert MboxSource(boxes / "INBOX").folders() == [("INBOX", False)]
    assert MboxSource(_mbox(tmp_path / "Sent.mbox")).folders() == [("Sent", True)]


def test_an_mbox_plan_numbers_messages_and_notices_appends_and_rewrites(tmp_path):
    path = _mbox(tmp_path / "archive", (FROM, b"Subject: one\n\n1\n"),
                 (FROM, b"Subject: two\n\n2\n"))
    source = MboxSource(path)
    assert source.folders() == [("archive", False)]
    first = source.plan("archive", False, None, None)
    uidvalidity = first.final.uidvalidity
    assert 0 < uidvalidity < 2 ** 31 and 0 <= first.final.highestmodseq < 2 ** 63
    assert first == FolderPlan("archive", False, [1, 2], Checkpoint(uidvalidity, 2,
                                                                    first.final.highestmodseq))
    assert source.plan("archive", True, first.final, None) == FolderPlan(
        "archive", True, [], first.final, 2)
    source.close()
    # Rewritten to another size within the same nanosecond: read again (nothing is new).
    stamp = path.stat().st_mtime_ns
    _mbox(path, (FROM, b"Subject: one\n\n1\n"), (FROM, b"Subject: two!\n\n2\n"))
    os.utime(path, ns=(stamp, stamp))
    resized = source.plan("archive", False, first.final, None)
    assert (resized.handles, resized.final.last_uid) == ([], 2)
    assert resized.final.highestmodseq != first.final.highestmodseq
    source.close()
    # A message appended: only it is new.
    _mbox(path, (FROM, b"Subject: one\n\n1\n"), (FROM, b"Subject: two\n\n2\n"),
          (FROM, b"Subject: three\n\n3\n"))
    appended = source.plan("archive", False, first.final, None)
    assert appended == FolderPlan("archive", False, [3], Checkpoint(
        uidvalidity, 3, appended.final.highestmodseq), 2, True, reset=False)
    source.close()
    # The first message rewritten: every message is new, and the plan says it was reset.
    _mbox(path, (FROM, b"Subject: ONE\n\n1\n"), (FROM, b"Subject: two\n\n2\n"),
          (FROM, b"Subject: three\n\n3\n"))
    rewritten = source.plan("archive", False, appended.final, None)
    assert rewritten.final.uidvalidity not in (uidvalidity, 0)
    assert rewritten == FolderPlan("archive", False, [1, 2, 3], Checkpoint(
        rewritten.final.uidvalidity, 3, rewritten.final.highestmodseq), 0, True, reset=True)
    source.close()
    empty = MboxSource(_put(tmp_path / "empty", b""))
    empty.folders()
    plan = empty.plan("empty", False, None, None)
    assert plan == FolderPlan("empty", False, [], Checkpoint(0, 0, plan.final.highestmodseq))
    empty.close()


def test_mbox_headers_arrival_times_and_bodies(tmp_path, monkeypatch):
    """The From_ line dates a message, whatever bytes its sender holds (not UTF-8 here)."""
    monkeypatch.setattr(local, "HEADER_CHUNK", 2)
    path = _mbox(tmp_path / "in", (FROM, b"Subject: lf\n\nbody\n\nmore\n"),
                 ("MAILER-DAEMON", b"Subject: crlf\r\n\r\nbody\r\n\r\nmore\r\n"),
                 ("x@y Sat Feb 29 23:59:59 2020", b"Subject: no body"),
                 ("j\xf6rg@example.de Mon Mar  4 01:02:03 2024", b"Subject: latin-1\n\n"),
                 (FROM, b"\n\nno header at all\n"))
    source = MboxSource(path)
    source.folders()
    plan = source.plan("in", False, None, None)
    assert list(source.headers(plan)) == [
        (2, [(1, b"Subject: lf\n\n", datetime(2024, 1, 4, 12, 30, 5, tzinfo=UTC)),
             (2, b"Subject: crlf\r\n", None)]),
        (2, [(3, b"Subject: no body\n", datetime(2020, 2, 29, 23, 59, 59, tzinfo=UTC)),
             (4, b"Subject: latin-1\n\n", datetime(2024, 3, 4, 1, 2, 3, tzinfo=UTC))]),
        (1, [(5, b"\n\n", datetime(2024, 1, 4, 12, 30, 5, tzinfo=UTC))]),
    ]
    assert list(source.bodies(plan, [3, 1])) == [
        (3, b"Subject: no body\n"), (1, b"Subject: lf\n\nbody\n\nmore\n")]
    assert source.location("in", 2) == f"{path}#2"
    source.close()
