"""Reloading a sequence file may not drop steps an enrollment has already done: one error
line naming the sequence and the counts, and nothing changes; as many steps is fine."""

from __future__ import annotations

from datetime import timedelta

from salescli.core.timeutil import iso
from salescli.pipeline import interactions
from salescli.sequences import enroll
from salescli.sequences.send import send_due
from tests.sequences.conftest import THREE_STEPS, write_plan
from tests.support.cli import db_state, fails, ok

TWO_STEPS = THREE_STEPS[:THREE_STEPS.rindex("[[steps]]")]


def test_steps_already_reached_cannot_be_removed(conn, db_file, intro, team, smtp_server, t0,
                                                 invoke, tmp_path):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 1}
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"sent": 1}   # ada has done 2 steps
    one_step = write_plan(tmp_path, TWO_STEPS[:TWO_STEPS.rindex("[[steps]]")], name="one.toml")
    before = db_state(db_file)
    err = fails(invoke("sequences", "load", one_step), "'intro'")
    assert err.endswith("an enrollment has done 2 step(s); the file has 1: steps already "
                        "reached cannot be removed (load it under a new name instead)"), err
    assert db_state(db_file) == before
    assert "updated" in ok(invoke("sequences", "load", write_plan(tmp_path, TWO_STEPS,
                                                                   name="two.toml")))
    # Ada was waiting for step 3, which the file no longer has: when it falls due, her
    # enrollment finishes (all steps done) and nothing more is sent. An out-of-office
    # without a return date, come meanwhile, has no next step to delay.
    interactions.record(conn, "monitor", team["ada"]["id"], "auto_reply",
                        iso(t0 + timedelta(days=4)), subject="Automatic reply: away")
    sent = len(smtp_server.messages)
    assert send_due(conn, now=t0 + timedelta(days=5)) == {"finished": 1}
    assert len(smtp_server.messages) == sent
    assert [(r["state"], r["reason"]) for r in conn.execute(
        "SELECT state, reason FROM enrollments")] == [("finished", "all steps done")]
