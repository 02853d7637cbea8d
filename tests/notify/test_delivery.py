"""Mail notifications end to end: a real aiosmtpd server on loopback, a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import threading
from datetime import UTC, datetime, timedelta

import pytest

from salescli.core import db
from salescli.notify import outbox, send
from tests.notify.conftest import queue
from tests.support.cli import cli_process


def rows(conn):
    return [dict(r) for r in conn.execute("SELECT * FROM notifications ORDER BY id")]


def test_reply_notification_is_received_once_and_never_resent(
        invoke, conn, team, smtp_server):
    assert queue(conn, "reply", team["carol"], "reply:1:<m1@client.test>",
                 subject="Re: our offer") == 1

    result = invoke("notify")
    assert result.exit_code == 0, result.output
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["alice@example.com"]
    assert got.message["Subject"] == "[salescli] Reply from Carol <carol@client.test>: " \
        "Re: our offer"
    assert got.message["Auto-Submitted"] == "auto-generated"
    assert "carol@client.test" in got.message.get_content()
    assert got.message_id == send.message_id("reply:1:<m1@client.test>|email",
                                               "salescli@notify.test")

    # The same event seen again by a later scan is not queued twice …
    assert queue(conn, "reply", team["carol"], "reply:1:<m1@client.test>",
                 subject="Re: our offer") is None
    # … and later runs send nothing more.
    assert invoke("notify").exit_code == 0
    assert invoke("notify").exit_code == 0
    assert len(smtp_server.messages) == 1
    [row] = rows(conn)
    assert row["sent_at"] and row["attempts"] == 1 and row["last_error"] is None
    runs = conn.execute("SELECT status, counts FROM job_runs WHERE job = 'notify'"
                        " ORDER BY id").fetchall()
    assert [r["status"] for r in runs] == ["ok", "ok", "ok"]
    assert json.loads(runs[0]["counts"])["sent"] == 1


def test_server_down_then_retried_with_backoff_and_delivered(conn, team, smtp_server):
    queue(conn, "bounce", team["erin"], "bounce:3:<dsn1@mx>", diagnostic="550 no such user")
    smtp_server.stop()
    t0 = datetime.now(UTC)

    first = outbox.deliver(conn, now=t0)
    assert first["sent"] == 0 and first["failed"] == 1 and first["pending"] == 1
    [row] = rows(conn)
    assert row["attempts"] == 1 and "refused the connection" in row["last_error"]
    retry_at = datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00"))
    assert retry_at > t0 + timedelta(seconds=20)  # base 60 s with jitter 0.5–1.5

    smtp_server.start()  # back up, but the retry is not due yet: nothing is attempted
    assert outbox.deliver(conn, now=t0 + timedelta(seconds=5))["sent"] == 0
    assert rows(conn)[0]["attempts"] == 1 and smtp_server.messages == []

    done = outbox.deliver(conn, now=retry_at + timedelta(seconds=1))
    assert done["sent"] == 1 and done["pending"] == 0
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["bob@example.com"]
    assert "550 no such user" in got.message.get_content()
    assert rows(conn)[0]["attempts"] == 2


def test_backoff_grows_and_gives_up_after_max_attempts(conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_ATTEMPTS", "3")
    queue(conn, "reply", team["carol"], "reply:1:<m2@client.test>")
    smtp_server.fail_next(10, code=451)  # the server answers DATA with "try later"
    # Whole seconds: next_attempt_at is stored to the second, so from a moment with a
    # fraction the first delay could read up to a second short of its 30 s floor.
    moment = datetime.now(UTC).replace(microsecond=0)
    delays = []
    for _ in range(3):
        outbox.deliver(conn, now=moment)
        row = rows(conn)[0]
        if row["next_attempt_at"]:
            nxt = datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00"))
            delays.append((nxt - moment).total_seconds())
            moment = nxt
    row = rows(conn)[0]
    assert row["attempts"] == 3 and row["sent_at"] is None
    assert outbox.state_of(row) == "failed"
    assert row["last_error"].startswith("gave up after 3 attempt(s):") and "451" in \
        row["last_error"]
    assert 30 <= delays[0] <= 90 and 60 <= delays[1] <= 180  # 60 s · 2^(n-1) · [0.5, 1.5)
    assert outbox.deliver(conn, now=moment + timedelta(days=1))["failed"] == 0


def test_refused_recipient_gives_up_at_once_and_others_still_go(conn, team, smtp_server):
    smtp_server.refuse_rcpt("alice@example.com", 550)
    queue(conn, "reply", team["carol"], "reply:1:<a@x>")
    queue(conn, "reply", team["erin"], "reply:3:<b@x>")
    result = outbox.deliver(conn)
    assert result["sent"] == 1 and result["gave_up"] == 1
    assert [m.rcpt_tos for m in smtp_server.messages] == [["bob@example.com"]]
    alice = rows(conn)[0]
    assert outbox.state_of(alice) == "failed" and "alice@example.com (550" in alice["last_error"]


def test_kill_after_server_accepted_resends_once_with_same_message_id(
        invoke, conn, db_file, team, smtp_server):
    queue(conn, "reply", team["dave"], "reply:2:<m3@client.test>", subject="Sounds good")
    smtp_server.hold.set()  # the server stores the mail, then stalls before its 250
    proc = cli_process(db_file, "notify")
    try:
        [first] = smtp_server.wait_for(1, timeout=30)
        # While that run holds the lock, another run exits 0 saying so.
        other = invoke("notify")
        assert other.exit_code == 0 and "already running" in other.output
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    smtp_server.hold.clear()
    assert rows(conn)[0]["sent_at"] is None  # our commit never happened

    assert invoke("notify").exit_code == 0
    assert invoke("notify").exit_code == 0
    got = smtp_server.wait_for(2)
    assert len(got) == 2  # resent exactly once …
    assert got[1].message_id == first.message_id  # … with the same Message-ID
    assert got[1].message["Subject"] == first.message["Subject"]
    assert rows(conn)[0]["sent_at"] is not None
    statuses = [r[0] for r in conn.execute(
        "SELECT status FROM job_runs WHERE job = 'notify' ORDER BY id")]
    assert statuses == ["failed", "ok", "ok"]  # the killed run is recorded as interrupted


def test_two_deliverers_at_once_send_each_event_once(db_file, conn, team, smtp_server):
    queue(conn, "reply", team["carol"], "reply:1:<c1@x>")
    smtp_server.hold.set()
    results = {}

    def first():
        c = db.open_write(db_file)
        try:
            results["first"] = outbox.deliver(c)
        finally:
            c.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        smtp_server.wait_for(1)
        results["second"] = outbox.deliver(conn)
    finally:
        smtp_server.hold.clear()
        thread.join(30)
    assert results["second"].get("busy") == 1 and results["second"]["sent"] == 0
    assert results["first"]["sent"] == 1
    assert len(smtp_server.messages) == 1


def test_storm_guard_caps_notifications_per_prospect_per_hour(
        invoke, conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_PER_HOUR", "3")
    for i in range(5):
        queue(conn, "reply", team["carol"], f"reply:1:<storm{i}@x>")
    queue(conn, "reply", team["erin"], "reply:3:<calm@x>")  # another prospect: not capped
    states = [outbox.state_of(r) for r in rows(conn)]
    assert states == ["pending"] * 3 + ["suppressed"] * 2 + ["pending"]

    assert invoke("notify").exit_code == 0
    assert len(smtp_server.wait_for(4)) == 4
    assert invoke("notify").exit_code == 0
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == \
        ["alice@example.com"] * 3 + ["bob@example.com"]
    listed = invoke("notify", "--list", "--state", "suppressed", "--format", "json")
    held = json.loads(listed.output)
    assert [r["state"] for r in held] == ["suppressed", "suppressed"]
    assert "SALESCLI_NOTIFY_MAX_PER_HOUR" in held[0]["last_error"]


def test_digest_sends_one_mail_per_owner_per_run(invoke, conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_DIGEST", "1")
    queue(conn, "reply", team["carol"], "reply:1:<d1@x>", subject="Yes please")
    queue(conn, "bounce", team["dave"], "bounce:2:<d2@x>", diagnostic="mailbox full")
    queue(conn, "reply", team["dave"], "reply:2:<d3@x>", subject="Call me")
    queue(conn, "reply", team["erin"], "reply:3:<d4@x>", subject="Not now")

    assert invoke("notify").exit_code == 0
    got = smtp_server.wait_for(2)
    assert len(got) == 2
    by_rcpt = {m.rcpt_tos[0]: m.message for m in got}
    alice = by_rcpt["alice@example.com"]
    assert alice["Subject"] == "[salescli] 3 notifications"
    body = alice.get_content()
    for text in ("Reply from Carol", "Yes please", "Hard bounce for Dave", "mailbox full",
                 "Call me"):
        assert text in body
    assert "Not now" not in body
    assert by_rcpt["bob@example.com"]["Subject"] == "[salescli] 1 notification"
    assert all(r["sent_at"] for r in rows(conn))

    queue(conn, "reply", team["carol"], "reply:1:<d5@x>", subject="One more")
    assert invoke("notify").exit_code == 0
    assert invoke("notify").exit_code == 0
    got = smtp_server.wait_for(3)
    assert len(got) == 3 and got[2].message["Subject"] == "[salescli] 1 notification"


def test_stale_prospects_are_notified_once_per_day(invoke, conn, team, smtp_server):
    from salescli.pipeline import interactions, prospects, stages

    today = datetime.now(UTC).date()
    old = (today - timedelta(days=30)).isoformat() + "T09:00:00Z"
    quiet = prospects.add(conn, "tester", "quiet@client.test", owner="alice", at=old)["id"]
    won = prospects.add(conn, "tester", "won@client.test", owner="alice", at=old)["id"]
    stages.move(conn, "tester", won, "won", reason="signed", at=old)
    gone = prospects.add(conn, "tester", "gone@client.test", owner="alice", at=old)["id"]
    prospects.archive(conn, "tester", gone)
    busy = prospects.add(conn, "tester", "busy@client.test", owner="bob", at=old)["id"]
    interactions.record(conn, "tester", busy, "call", (today - timedelta(days=2)).isoformat()
                        + "T10:00:00Z")

    dry = invoke("notify", "--stale-days", "14", "--dry-run", "--format", "json")
    assert dry.exit_code == 0
    assert [r["prospect_id"] for r in json.loads(dry.stdout)] == [quiet]
    assert rows(conn) == []  # a dry run changes nothing

    assert invoke("notify", "--stale-days", "14").exit_code == 0
    assert invoke("notify", "--stale-days", "14").exit_code == 0
    [got] = smtp_server.wait_for(1)
    assert got.message["Subject"] == \
        "[salescli] quiet@client.test has gone stale (14 days without contact)"
    assert [r["event_key"] for r in rows(conn)] == [f"stale:{quiet}:{today}|email"]
    # The next day is a new event.
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert outbox.enqueue_stale(conn, days=14, today=tomorrow) == 1
    assert outbox.enqueue_stale(conn, days=14, today=tomorrow) == 0


def test_no_recipient_queues_nothing(conn, team, smtp_server, monkeypatch):
    from salescli.pipeline import prospects

    orphan = prospects.add(conn, "tester", "orphan@client.test", owner="nobody")["id"]
    assert queue(conn, "reply", orphan, "reply:9:<o@x>") == 0
    monkeypatch.setenv("SALESCLI_NOTIFY_TO", "sales@example.com")
    assert queue(conn, "reply", orphan, "reply:9:<o2@x>") == 1
    assert rows(conn)[0]["recipient"] == "sales@example.com"


def test_enqueue_rolls_back_with_the_callers_transaction(conn, team, smtp_server):
    with pytest.raises(RuntimeError):
        with db.transaction(conn):
            outbox.enqueue(conn, rule="reply", prospect_id=team["carol"],
                           event_key="reply:1:<rb@x>", payload={})
            raise RuntimeError("the scan failed after queueing")
    assert rows(conn) == []
    assert conn.execute("SELECT count(*) FROM activities WHERE entity = 'notification'"
                        ).fetchone()[0] == 0


def test_deliver_refuses_to_run_inside_a_transaction(conn):
    from salescli.core.errors import SalescliError

    with db.transaction(conn):
        with pytest.raises(SalescliError, match="outside a transaction"):
            outbox.deliver(conn)


def test_old_events_from_a_first_scan_are_not_news(conn, team, smtp_server, monkeypatch):
    long_ago = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert queue(conn, "reply", team["carol"], "reply:1:<old@x>", occurred_at=long_ago) == 0
    assert queue(conn, "reply", team["carol"], "reply:1:<new@x>", occurred_at=recent) == 1
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_AGE_DAYS", "0")  # no limit
    assert queue(conn, "reply", team["carol"], "reply:1:<old2@x>", occurred_at=long_ago) == 1
    assert [r["event_key"] for r in rows(conn)] == ["reply:1:<new@x>|email",
                                                    "reply:1:<old2@x>|email"]


def test_a_disabled_owner_gets_no_notification_mail(invoke, conn, team, smtp_server,
                                                    monkeypatch):
    assert invoke("users", "disable", "alice").exit_code == 0
    # New events for alice's prospects have nobody to go to …
    assert queue(conn, "reply", team["carol"], "reply:1:<d1@client.test>") == 0
    # … or go to the team address when there is one, never to alice.
    monkeypatch.setenv("SALESCLI_NOTIFY_TO", "sales@example.com")
    assert queue(conn, "reply", team["dave"], "reply:2:<d2@client.test>") == 1
    assert invoke("notify").exit_code == 0
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["sales@example.com"]


def test_an_owner_disabled_before_delivery_is_not_mailed(invoke, conn, team, smtp_server):
    assert queue(conn, "reply", team["carol"], "reply:1:<q1@client.test>") == 1
    assert queue(conn, "bounce", team["erin"], "bounce:3:<q2@mx>") == 1
    assert invoke("users", "disable", "alice").exit_code == 0
    result = invoke("notify")
    assert result.exit_code == 0, result.output
    [got] = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["bob@example.com"]  # bob's still goes
    carol = [r for r in rows(conn) if r["recipient"] == "alice@example.com"]
    assert carol[0]["sent_at"] is None
    assert carol[0]["last_error"] == "suppressed: the recipient's user is disabled"
    assert outbox.state_of(conn.execute("SELECT * FROM notifications WHERE id = ?",
                                        (carol[0]["id"],)).fetchone()) == "suppressed"
    # Re-enabled later, the old event is not sent after all: suppressed stays suppressed.
    from salescli.web import users

    users.set_disabled(conn, "tester", "alice", False)
    assert invoke("notify").exit_code == 0
    assert len(smtp_server.messages) == 1
