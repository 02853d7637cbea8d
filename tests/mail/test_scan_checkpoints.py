"""The checkpoint a folder may save part way through its plan, and what saving the
checkpoints writes: the final one once every handle is recorded, else the UID just below
the first one not recorded (never below the old checkpoint; a numbered source only), with
the old HIGHESTMODSEQ unless the folder was reset; one row per folder, rewritten only
when it changed or at the end of the scan, whose newest message date never goes back."""

from __future__ import annotations

import pytest

from salescli.core.db import transaction
from salescli.mail.run import FolderState, ScanOptions, ScanRun, save_checkpoints
from salescli.mail.sources import Checkpoint, FolderPlan

FINAL = Checkpoint(77, 9, 500)
BASE = Checkpoint(77, 2, 40)


@pytest.mark.parametrize("plan, base, done, expected", [
    (FolderPlan("INBOX", False, [3, 4], None), BASE, 2, None),
    (FolderPlan("INBOX", False, [3, 4], FINAL), BASE, 2, FINAL),
    (FolderPlan("INBOX", False, [3, 4], FINAL), BASE, 3, FINAL),
    (FolderPlan("INBOX", False, [], FINAL), None, 0, FINAL),
    (FolderPlan("INBOX", False, ["a", "b"], FINAL, numeric=False), BASE, 1, None),
    (FolderPlan("INBOX", False, [3, 6, 9], FINAL, base_last=2), BASE, 1,
     Checkpoint(77, 5, 40)),
    (FolderPlan("INBOX", False, [3, 6, 9], FINAL, base_last=2), BASE, 0,
     Checkpoint(77, 2, 40)),
    (FolderPlan("INBOX", False, [3, 6, 9], FINAL, base_last=7), BASE, 1,
     Checkpoint(77, 7, 40)),
    (FolderPlan("INBOX", False, [3, 6, 9], FINAL, base_last=2, reset=True), BASE, 2,
     Checkpoint(77, 8, None)),
    (FolderPlan("INBOX", False, [3, 6, 9], FINAL), None, 2, Checkpoint(77, 8, None)),
])
def test_the_checkpoint_a_folder_may_save(plan, base, done, expected):
    assert FolderState("acct", plan, base, done=done).checkpoint() == expected


def _saved(conn) -> list[tuple]:
    return [tuple(r) for r in conn.execute(
        "SELECT account, folder, uidvalidity, last_uid, highestmodseq, newest_message_at,"
        " last_scan_at FROM mail_checkpoints ORDER BY account, folder")]


def test_saving_writes_each_safe_checkpoint_once_and_keeps_the_newest_date(conn):
    run = ScanRun(conn, {}, ScanOptions())
    plan = FolderPlan("INBOX", False, [3, 6, 9], FINAL, base_last=2)
    unsafe = FolderState("a", FolderPlan("Notes", False, ["x"], FINAL, numeric=False), None)
    inbox = FolderState("a", plan, BASE, done=1, newest="2026-01-02T00:00:00Z")
    sent = FolderState("b", FolderPlan("Sent", True, [], Checkpoint(5, 1, None)), None,
                       newest="2026-01-05T00:00:00Z")
    for state in (unsafe, inbox, sent):
        run.folders[(state.account, state.plan.folder)] = state
    with transaction(conn):
        save_checkpoints(run)
    assert [r[:6] for r in _saved(conn)] == [("a", "INBOX", 77, 5, 40, "2026-01-02T00:00:00Z"),
                                      ("b", "Sent", 5, 1, None, "2026-01-05T00:00:00Z")]
    conn.execute("UPDATE mail_checkpoints SET last_scan_at = 'then'")
    with transaction(conn):
        save_checkpoints(run)  # nothing changed: nothing written
    assert [r[6] for r in _saved(conn)] == ["then", "then"]

    inbox.done, inbox.newest = 3, "2025-12-31T00:00:00Z"  # an older date found later
    with transaction(conn):
        save_checkpoints(run)
    assert [r[:6] + (r[6] == "then",) for r in _saved(conn)] == [
        ("a", "INBOX", 77, 9, 500, "2026-01-02T00:00:00Z", False),
        ("b", "Sent", 5, 1, None, "2026-01-05T00:00:00Z", True)]
    with transaction(conn):
        save_checkpoints(run, final=True)  # the end of the scan: every folder stamped
    assert [r[6] != "then" for r in _saved(conn)] == [True, True]
