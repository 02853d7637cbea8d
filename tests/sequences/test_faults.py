"""Never twice, never lost: ``salescli send`` killed (SIGKILL) at five points, two senders at
once, and 10,000 enrollments due at once. Message-IDs received by aiosmtpd are compared
with the ledger."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from salescli.core.timeutil import iso
from salescli.sequences import enroll
from salescli.sequences.send import send_due
from tests.support.cli import cli_process, query

ALL = ["ada@example.com", "bob@example.org", "cy@example.net"]


# A hang guard, not a timing assertion: generous, since a loaded machine (or mutmut's
# trampolines) can take tens of seconds to start a `salescli send` process.
START_S = 180


def _run(db_file, env=None, timeout=START_S):
    proc = cli_process(db_file, "send", env=env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _received(server) -> Counter:
    return Counter(m.message["Message-ID"] for m in server.messages)


@pytest.mark.parametrize("point, resent", [
    ("send.selected", 0),            # before anything was written
    ("send.pending.committed", 0),   # ledger rows committed, nothing handed over yet
    ("send.smtp.accepted", 1),       # the server took the first mail, we did not record it
    ("send.before_commit", 3),       # all taken, the recording transaction rolled back
    ("send.sent.committed", 0),      # all recorded, killed before the run ended
])
def test_kill_at_each_point_then_rerun_sends_each_step_exactly_once(
        conn, db_file, intro, team, smtp_server, point, resent):
    enroll.enroll(conn, "tester", "intro", ALL, now_=datetime.now(UTC) - timedelta(days=1))
    code, _out, err = _run(db_file, {"SALESCLI_FAILPOINT": point})
    assert code == -9, err
    code, _out, err = _run(db_file)
    assert code == 0, err
    got = _received(smtp_server)
    ledger = query(db_file, "SELECT message_id, state, recipient FROM sends ORDER BY id")
    assert [r["state"] for r in ledger] == ["sent"] * 3
    assert set(got) == {r["message_id"] for r in ledger}  # each step: one Message-ID
    assert sorted({m.rcpt_tos[0] for m in smtp_server.messages}) == ALL
    # a mail goes out twice only when the server accepted it before the kill, and then
    # with the same Message-ID (receivers drop the duplicate)
    assert sum(got.values()) - 3 == resent
    assert max(got.values()) <= 2
    assert query(db_file, "SELECT count(*) AS n FROM interactions WHERE kind = 'email_out'")[0][
        "n"] == 3
    assert [r["step"] for r in query(db_file, "SELECT step FROM enrollments")] == [1, 1, 1]
    # and nothing more on a third run
    assert _run(db_file)[0] == 0
    assert sum(_received(smtp_server).values()) == 3 + resent
    assert query(db_file, "SELECT status FROM job_runs WHERE job = 'send' ORDER BY id")[0][
        "status"] == "failed"


def test_two_senders_at_once_send_nothing_twice(conn, db_file, intro, team, smtp_server,
                                                tmp_path):
    enroll.enroll(conn, "tester", "intro", ALL, now_=datetime.now(UTC) - timedelta(days=1))
    flag = tmp_path / "paused"
    first = cli_process(db_file, "send",
                        env={"SALESCLI_FAILPOINT": f"send.pending.committed:1:pause={flag}"})
    deadline = time.monotonic() + START_S
    while not flag.exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    code, _out, err = _run(db_file)  # the second starts while the first holds the lock
    assert code == 0 and "already running" in err
    assert smtp_server.messages == []
    flag.unlink()
    assert first.wait(START_S) == 0
    got = _received(smtp_server)
    assert len(got) == 3 and set(got.values()) == {1}
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ALL


def test_a_suppression_committed_while_a_run_is_due_stops_that_mail(conn, db_file, intro, team,
                                                                    smtp_server, tmp_path):
    """The exit rules are read in the transaction that writes the ledger row: whatever was
    committed before it (a scan, a suppression) is obeyed."""
    enroll.enroll(conn, "tester", "intro", ALL, now_=datetime.now(UTC) - timedelta(days=1))
    flag = tmp_path / "selected"
    proc = cli_process(db_file, "send",
                       env={"SALESCLI_FAILPOINT": f"send.selected:1:pause={flag}"})
    deadline = time.monotonic() + START_S
    while not flag.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    from salescli.pipeline import suppressions

    suppressions.add(conn, "tester", "bob@example.org")
    flag.unlink()
    assert proc.wait(START_S) == 0
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["ada@example.com",
                                                                   "cy@example.net"]


def test_ten_thousand_enrollments_due_at_once(conn, db_file, intro, team, smtp_server,
                                              monkeypatch):
    monkeypatch.setenv("SALESCLI_SEND_DAILY_CAP", "0")
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    ts = iso(t0)
    n = 10_000
    stage = conn.execute("SELECT id FROM stages WHERE name = 'lead'").fetchone()[0]
    seq = conn.execute("SELECT id FROM sequences").fetchone()[0]
    with conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO prospects(email, name, owner, stage_id, stage_entered_at, created_at,"
            " updated_at) VALUES (?, ?, 'maria', ?, ?, ?, ?)",
            [(f"p{i}@bulk.example", f"P {i}", stage, ts, ts, ts) for i in range(n)])
    enroll.enroll(conn, "tester", "intro", search="bulk.example", now_=t0)
    assert conn.execute("SELECT count(*) FROM enrollments WHERE sequence_id = ?",
                        (seq,)).fetchone()[0] == n
    assert send_due(conn, now=t0) == {"sent": n}
    got = _received(smtp_server)
    assert len(got) == n and set(got.values()) == {1}
    assert len({m.rcpt_tos[0] for m in smtp_server.messages}) == n
    assert send_due(conn, now=t0 + timedelta(hours=1)) == {}
    assert conn.execute("SELECT count(*) FROM interactions WHERE kind = 'email_out'"
                        ).fetchone()[0] == n


@pytest.fixture(autouse=True)
def _no_stray_env():
    os.environ.pop("SALESCLI_FAILPOINT", None)
    yield


def test_a_template_failing_at_send_time_fails_its_pending_mail_and_stops_only_it(
        conn, db_file, team, smtp_server, tmp_path, invoke):
    """Killed after the ledger rows were committed; before the rerun the sequence is
    reloaded with a body that fails for Bob alone (the load's sample renders it fine).
    Bob's pending mail is marked failed, never sent, his enrollment stopped; then a fresh
    enrollment whose template fails is stopped the same way, with no ledger row at all."""
    from tests.sequences.conftest import THREE_STEPS, write_plan
    from tests.support.cli import ok

    ok(invoke("sequences", "load", write_plan(tmp_path, THREE_STEPS)))
    enroll.enroll(conn, "tester", "intro", ALL, now_=datetime.now(UTC) - timedelta(days=1))
    code, _out, err = _run(db_file, {"SALESCLI_FAILPOINT": "send.pending.committed"})
    assert code == -9, err
    failing = THREE_STEPS.replace(
        "{{ owner.name }}", "{% if prospect.first_name == 'Bob' %}{{ owner.phone }}{% endif %}")
    ok(invoke("sequences", "load", write_plan(tmp_path, failing)))
    code, _out, err = _run(db_file)
    assert code == 0, err
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "ada@example.com", "cy@example.net"]
    why = "sequence 'intro' step 1 body: undefined variable 'owner.phone'"
    assert query(db_file, "SELECT state, smtp_reply FROM sends WHERE recipient = ?",
                 ("bob@example.org",)) == [{"state": "failed", "smtp_reply": f"not sent: {why}"}]
    assert query(db_file, "SELECT e.state, e.reason FROM enrollments e JOIN prospects p"
                          " ON p.id = e.prospect_id WHERE p.email = ?",
                 ("bob@example.org",)) == [{"state": "stopped",
                                            "reason": f"template error: {why}"}]
    ok(invoke("prospects", "add", "bo@example.org", "--name", "Bob Two", "--owner", "maria"))
    enroll.enroll(conn, "tester", "intro", ["bo@example.org"],
                  now_=datetime.now(UTC) - timedelta(days=1))
    assert send_due(conn) == {"template_errors": 1}
    assert query(db_file, "SELECT count(*) AS n FROM sends WHERE recipient = ?",
                 ("bo@example.org",)) == [{"n": 0}]
