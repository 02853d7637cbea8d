"""The rollup computes in a read snapshot and takes the write lock only to replace rows:
a writer working while it computes is not kept waiting, and is counted by the next run."""

from __future__ import annotations

from salescli.core import db
from salescli.metrics import rollup
from salescli.pipeline import stages
from tests.metrics.conftest import ACTOR, pipeline_rows


def test_a_move_while_the_rollup_computes_goes_through_and_counts_next_run(
        history, db_file, monkeypatch):
    monkeypatch.setenv("SALESCLI_BUSY_TIMEOUT_MS", "300")  # a writer kept waiting fails fast
    rollup.rollup(history.conn)
    other = db.open_write(db_file)
    moved = []

    def meanwhile(n):
        if n == 3 and not moved:  # the rollup is computing: the CLI moves a prospect
            moved.append(stages.move(other, "mover", history.ids["c"], "proposal"))

    today = history.today.isoformat()
    rollup.rollup(history.conn, since=history.day(2), progress=meanwhile)
    assert moved == [True]
    assert (today, "proposal", "ben") not in pipeline_rows(history.conn)  # the snapshot's
    rollup.rollup(history.conn)
    assert pipeline_rows(history.conn)[(today, "proposal", "ben")]["entered"] == 1
    other.close()


def test_a_rollup_that_finished_meanwhile_means_computing_again_under_the_lock(
        history, db_file, monkeypatch):
    monkeypatch.setenv("SALESCLI_BUSY_TIMEOUT_MS", "300")
    rollup.rollup(history.conn)
    other = db.open_write(db_file)
    ran = []

    def meanwhile(n):
        if n == 3 and not ran:  # another rollup moves the state on, after another move
            stages.move(other, ACTOR, history.ids["c"], "meeting")
            ran.append(rollup.rollup(other))

    result = rollup.rollup(history.conn, progress=meanwhile)
    assert ran and result["mode"] == "incremental"
    got = pipeline_rows(history.conn)
    assert got[(history.today.isoformat(), "meeting", "ben")]["entered"] == 1
    rollup.rollup(history.conn, since=history.day(11))  # a backfill from the history alone
    assert pipeline_rows(history.conn) == got
    other.close()
