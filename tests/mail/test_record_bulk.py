"""The bulk recording path the scan uses: ``interactions.record_many``,
``audit.record_many`` and ``rules.apply_many`` write exactly what the one-row functions
write, audit every row in the same transaction, and leave nothing half-written."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta

import pytest

from salescli.core import audit, db
from salescli.core.errors import NotFound
from salescli.mail import rules, sample
from salescli.pipeline import interactions, prospects, stages
from tests.mail.helpers import CREATED, ME, ago, kinds, last_run, state
from tests.support.cli import ok

PEOPLE = ("ada@example.com", "bob@example.org", "cy@example.net")


def _db(path) -> tuple[sqlite3.Connection, list[int]]:
    conn = db.open_write(path)
    ids = [prospects.add(conn, "tester", email, owner=f"owner{i}", at=CREATED)["id"]
           for i, email in enumerate(PEOPLE)]
    return conn, ids


def _rows(ids: list[int]) -> list[dict]:
    """Mail of every kind, a bounce with detail, a manual note, one duplicate."""
    a, b, c = ids
    return [
        {"prospect_id": a, "kind": "email_out", "occurred_at": "2024-03-01T09:00:00Z",
         "subject": "Offer", "message_id": "<m1@ours>", "thread_key": "<m1@ours>",
         "account": "me", "folder": "Sent", "uid": 7},
        {"prospect_id": b, "kind": "email_out", "occurred_at": "2024-03-01T09:00:00Z",
         "subject": "Offer", "message_id": "<m1@ours>", "folder": "Sent"},
        {"prospect_id": a, "kind": "email_in", "occurred_at": "2024-03-02T10:00:00Z",
         "subject": "Re: Offer", "message_id": "<r1@them>", "folder": "INBOX"},
        {"prospect_id": c, "kind": "bounce", "occurred_at": "2024-03-02T11:00:00Z",
         "message_id": "<dsn@mx>", "detail": {"bounce": "hard", "diagnostic": "550 no"}},
        {"prospect_id": b, "kind": "auto_reply", "occurred_at": "2024-03-01T09:05:00Z",
         "subject": "Out of office", "message_id": "<ooo@them>"},
        {"prospect_id": c, "kind": "note", "occurred_at": "2024-03-03T12:00:00Z",
         "body": "called, left a message"},
        {"prospect_id": a, "kind": "email_out", "occurred_at": "2024-03-01T09:00:00Z",
         "subject": "Offer", "message_id": "<m1@ours>"},  # a copy of the first: skipped
    ]


def _facts(conn: sqlite3.Connection) -> dict:
    """Interactions, their audit rows and the prospects' touched columns, without ids or
    wall-clock stamps."""
    q = lambda sql: sorted(tuple(r) for r in conn.execute(sql))  # noqa: E731
    return {
        "interactions": q("SELECT p.email, i.kind, i.occurred_at, i.subject, i.body,"
                          " i.message_id, i.thread_key, i.account, i.folder, i.uid, i.owner,"
                          " i.actor, i.detail FROM interactions i"
                          " JOIN prospects p ON p.id = i.prospect_id"),
        "audit": q("SELECT a.actor, a.action, a.entity, p.email, a.before, a.after,"
                   " a.entity_id = i.id FROM activities a"
                   " JOIN interactions i ON i.id = a.entity_id"
                   " JOIN prospects p ON p.id = a.prospect_id"
                   " WHERE a.entity = 'interaction'"),
        "prospects": q("SELECT email, last_interaction_at, last_contacted_at FROM prospects"),
    }


def test_record_many_writes_what_record_writes_one_by_one(tmp_path):
    one, ids = _db(tmp_path / "one.db")
    many, ids2 = _db(tmp_path / "many.db")
    assert ids == ids2
    singles = [interactions.record(one, "monitor", **row) for row in _rows(ids)]
    bulk = interactions.record_many(many, "monitor", _rows(ids))

    assert [i is None for i in bulk] == [i is None for i in singles] \
        == [False] * 6 + [True]
    assert _facts(many) == _facts(one)
    # Every created interaction has exactly one create activity naming it.
    made = [i for i in bulk if i is not None]
    audited = [r[0] for r in many.execute(
        "SELECT entity_id FROM activities WHERE entity = 'interaction' AND action = 'create'"
        " ORDER BY id")]
    assert audited == made
    # The owner at the time is the prospect's owner; the trigger touched the prospect.
    ada = prospects.find_by_email(many, "ada@example.com")
    assert many.execute("SELECT owner FROM interactions WHERE id = ?",
                        (bulk[0],)).fetchone()[0] == "owner0"
    assert ada["last_interaction_at"] == "2024-03-02T10:00:00Z"
    assert ada["last_contacted_at"] == "2024-03-01T09:00:00Z"


def test_record_many_skips_what_is_already_recorded(tmp_path):
    conn, ids = _db(tmp_path / "s.db")
    first = interactions.record_many(conn, "monitor", _rows(ids)[:3])
    again = interactions.record_many(conn, "monitor", _rows(ids))
    assert all(first)
    assert again[:3] == [None, None, None] and all(again[3:6]) and again[6] is None
    n = conn.execute("SELECT count(*) FROM interactions").fetchone()[0]
    assert n == 6
    assert conn.execute("SELECT count(*) FROM activities WHERE entity = 'interaction'"
                        ).fetchone()[0] == n
    assert interactions.record_many(conn, "monitor", []) == []


@pytest.mark.parametrize("bad, error", [
    ({"kind": "telegram"}, ValueError),
    ({"prospect_id": 999}, NotFound),
    ({"colour": "red"}, TypeError),
])
def test_record_many_checks_every_row_before_writing(tmp_path, bad, error):
    conn, ids = _db(tmp_path / "c.db")
    rows = _rows(ids)
    rows[4] = {**rows[4], **bad}
    before = _facts(conn)
    with db.transaction(conn):  # even inside the caller's transaction: nothing written
        with pytest.raises(error):
            interactions.record_many(conn, "monitor", rows)
        assert _facts(conn) == before
    assert _facts(conn) == before


def test_record_many_failing_midway_leaves_nothing(tmp_path):
    """A real SQLite failure on the fifth row (a trigger that refuses it): alone, the call
    is atomic; inside a caller's transaction, rolling that back removes every row."""
    conn, ids = _db(tmp_path / "f.db")
    conn.execute("CREATE TEMP TRIGGER refuse BEFORE INSERT ON interactions"
                 " WHEN new.subject = 'Out of office' BEGIN SELECT RAISE(ABORT, 'refused'); END")
    before = _facts(conn)
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        interactions.record_many(conn, "monitor", _rows(ids))
    assert _facts(conn) == before
    with pytest.raises(sqlite3.IntegrityError):
        with db.transaction(conn):
            interactions.record(conn, "tester", ids[0], "call", "2024-01-01T00:00:00Z")
            interactions.record_many(conn, "monitor", _rows(ids))
    assert _facts(conn) == before
    assert not conn.in_transaction


def test_audit_record_many_matches_record(tmp_path):
    conn, ids = _db(tmp_path / "a.db")
    entries = [audit.Entry("update", "prospect", ids[0], {"email_status": "ok"},
                           {"email_status": "bounced_hard", "bounce_reason": "550 é"},
                           ids[0]),
               audit.Entry("create", "stage", None, None, {"name": "Won", "at": CREATED}),
               audit.Entry("delete", "prospect", ids[1], {"tags": ["a", "b"]}, None, ids[1])]
    at = "2024-05-01T00:00:00Z"
    for e in entries:
        audit.record(conn, "one", e.action, e.entity, e.entity_id, e.before, e.after,
                     prospect_id=e.prospect_id, at=at)
    assert audit.record_many(conn, "many", entries, at=at) == 3
    cols = "at, action, entity, entity_id, prospect_id, before, after"
    one = conn.execute(f"SELECT {cols} FROM activities WHERE actor = 'one' ORDER BY id")
    many = conn.execute(f"SELECT {cols} FROM activities WHERE actor = 'many' ORDER BY id")
    assert [tuple(r) for r in one] == [tuple(r) for r in many]
    assert audit.record_many(conn, "many", []) == 0


def _history_db(path) -> tuple[sqlite3.Connection, list[int]]:
    """Three prospects with mail; a person moved one back by hand and reset another's
    hard bounce, which the re-derivation must respect."""
    conn, ids = _db(path)
    a, b, c = ids
    rows = [
        {"prospect_id": a, "kind": "email_out", "occurred_at": "2024-03-01T09:00:00Z",
         "message_id": "<o1>"},
        {"prospect_id": a, "kind": "email_in", "occurred_at": "2024-03-02T09:00:00Z",
         "message_id": "<i1>"},
        {"prospect_id": b, "kind": "email_out", "occurred_at": "2024-03-01T09:00:00Z",
         "message_id": "<o2>"},
        {"prospect_id": c, "kind": "email_out", "occurred_at": "2024-03-01T09:00:00Z",
         "message_id": "<o3>"},
        {"prospect_id": c, "kind": "bounce", "occurred_at": "2024-03-01T09:01:00Z",
         "message_id": "<d3>", "detail": {"bounce": "hard", "diagnostic": "550 gone"}},
    ]
    interactions.record_many(conn, "monitor", rows)
    rules.apply_many(conn, ids)
    stages.move(conn, "tester", b, "lead", at="2024-03-04T00:00:00Z")  # by hand
    prospects.update(conn, "tester", c, {"email_status": "ok"})
    interactions.record_many(conn, "monitor", [
        {"prospect_id": a, "kind": "email_in", "occurred_at": "2024-03-05T09:00:00Z",
         "message_id": "<i1b>"},
        {"prospect_id": b, "kind": "email_in", "occurred_at": "2024-02-01T09:00:00Z",
         "message_id": "<i2-old>"},
        {"prospect_id": c, "kind": "email_in", "occurred_at": "2024-03-06T09:00:00Z",
         "message_id": "<i3>"}])
    return conn, ids


def _state(conn: sqlite3.Connection) -> dict:
    return {
        "prospects": [tuple(r) for r in conn.execute(
            "SELECT p.email, s.name, p.email_status, p.bounce_reason, p.last_reply_at,"
            " p.stage_entered_at FROM prospects p JOIN stages s ON s.id = p.stage_id"
            " ORDER BY p.id")],
        "activities": [tuple(r) for r in conn.execute(
            "SELECT actor, action, entity, prospect_id, before, after FROM activities"
            " ORDER BY id")],
        "stage_changes": [tuple(r) for r in conn.execute(
            "SELECT prospect_id, from_stage_id, to_stage_id, at, actor, owner, note"
            " FROM stage_changes ORDER BY id")],
    }


def test_apply_many_derives_what_apply_derives_one_by_one(tmp_path):
    one, ids = _history_db(tmp_path / "one.db")
    many, _ = _history_db(tmp_path / "many.db")
    with db.transaction(one):
        singles = [rules.apply(one, pid) for pid in ids]
    with db.transaction(many):
        bulk = rules.apply_many(many, reversed(ids), {})
    assert bulk == {k: sum(c[k] for c in singles) for k in bulk}
    assert _state(many) == _state(one)
    state = {row[0]: row[1:5] for row in _state(many)["prospects"]}
    assert state["ada@example.com"] == ("replied", "ok", None, "2024-03-05T09:00:00Z")
    # Moved back by hand: an older reply found later does not undo the person's move.
    assert state["bob@example.org"][0] == "lead"
    # Hard bounce reset by hand, then a genuine reply: replied, and the old bounce does
    # not come back.
    assert state["cy@example.net"][:3] == ("replied", "ok", None)
    # A second pass changes nothing.
    assert rules.apply_many(many, ids) == {"moves": 0, "status_changes": 0}


def test_scan_audits_every_interaction_in_its_batch(tmp_path, invoke, conn, monkeypatch):
    """A scan through the bulk path: each interaction has its one create activity with
    actor monitor, what and when, and the prospects moved as the rules say."""
    people = [{"email": f"p{i}@example.com", "name": f"P {i}"} for i in range(12)]
    for p in people:
        prospects.add(conn, "tester", p["email"], name=p["name"], at=CREATED)
    path = tmp_path / "Maildir"
    n = sample.write_sample_maildir(path, people, ME)
    raw, _ = sample.reply(people[5], ME, ago(hours=2), "Late", None)
    sample.write_maildir_message(path, raw, ago(hours=2))
    monkeypatch.setenv("SALESCLI_SCAN_BATCH", "5")
    result = invoke("scan", "--source", f"maildir:{path}")
    ok(result)
    assert "recorded one by one" not in result.stderr  # every batch took the bulk path
    rows = conn.execute(
        "SELECT i.id, i.kind, i.occurred_at, i.subject, i.message_id, i.folder,"
        " i.prospect_id, a.actor, a.before, a.after, a.prospect_id AS apid"
        " FROM interactions i LEFT JOIN activities a ON a.entity = 'interaction'"
        " AND a.entity_id = i.id AND a.action = 'create'").fetchall()
    assert len(rows) == n  # each message but the newsletter, plus the late reply
    for r in rows:
        assert r["actor"] == "monitor" and r["before"] is None
        assert r["apid"] == r["prospect_id"]
        after = json.loads(r["after"])
        assert after["kind"] == r["kind"] and after["occurred_at"] == r["occurred_at"]
        assert after["message_id"] == r["message_id"] and after["folder"] == r["folder"]
        assert after.get("subject") == r["subject"]
    stages = dict(conn.execute("SELECT p.email, s.name FROM prospects p"
                               " JOIN stages s ON s.id = p.stage_id"))
    assert stages["p0@example.com"] == "replied" and stages["p5@example.com"] == "replied"
    assert stages["p1@example.com"] == "contacted"  # an auto-reply is not a reply


def test_a_message_failing_in_a_bulk_batch_is_quarantined_alone(tmp_path, people, invoke,
                                                                 conn):
    """With --create-unknown, a sender address the parser takes but a prospect cannot have
    fails its message inside the batch: the batch is redone message by message, that one
    is quarantined, the others (a lead created from a stranger too) are recorded once."""
    path = tmp_path / "Maildir"
    ada = people["ada"]
    t = ago(days=3)
    raw, mid = sample.outbound(ME, ada, t, "Offer")
    sample.write_maildir_message(path / ".Sent", raw, t)
    for i, (sender, name) in enumerate((({"email": "x@-weird.example"}, "weird"),
                                        ({"email": "carol@else.example", "name": "Carol"},
                                         "carol"),
                                        (ada, "ada"))):
        when = t + timedelta(hours=i + 1)
        raw, _ = sample.reply(sender, ME, when, f"Re: Offer ({name})", mid)
        sample.write_maildir_message(path, raw, when)
    result = invoke("scan", "--source", f"maildir:{path}", "--create-unknown")
    ok(result)
    [redone] = [ln for ln in result.stderr.splitlines() if "recorded one by one" in ln]
    assert "INBOX: 3 message(s) recorded one by one after an error in their batch (" in redone
    assert "-weird.example" in redone

    quarantined = conn.execute("SELECT reason, location FROM mail_quarantine").fetchall()
    assert len(quarantined) == 1
    assert "processing failed" in quarantined[0]["reason"]
    assert "-weird.example" in quarantined[0]["reason"]
    outcomes = sorted(r[0] for r in conn.execute("SELECT outcome FROM mail_messages"))
    assert outcomes == ["quarantined", "recorded", "recorded", "recorded"]
    assert kinds(conn, "ada@example.com") == ["email_out", "email_in"]
    assert kinds(conn, "carol@else.example") == ["email_in"]
    assert state(conn, "ada@example.com")["stage"] == "replied"
    assert conn.execute("SELECT count(*) FROM prospects WHERE email LIKE '%weird%'"
                        ).fetchone()[0] == 0
    # One create activity per interaction and per created prospect, nothing left over
    # from the rolled-back first attempt.
    assert conn.execute("SELECT count(*) FROM activities WHERE entity = 'interaction'"
                        ).fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM activities WHERE actor = 'monitor'"
                        " AND entity = 'prospect' AND action = 'create'").fetchone()[0] == 1
    counts = last_run(conn)["counts"]
    assert (counts["quarantined"], counts["created"], counts["matched"]) == (1, 1, 3)


_EVENTS = {"out": ("email_out", None), "in": ("email_in", None),
           "auto": ("auto_reply", None),
           "hard": ("bounce", {"bounce": "hard", "diagnostic": "550 5.1.1 unknown"}),
           "soft": ("bounce", {"bounce": "soft", "diagnostic": "452 4.2.2 full"})}


def _fold_db(template, path, mail, cuts) -> dict:
    """Record ``mail`` (sorted by time) in the batches ``cuts`` makes, each through
    ``rules.apply_new`` as the scan does; the prospect's state at the end."""
    shutil.copy(template, path)
    conn = db.open_write(path)
    pid = 1
    bounds = [0, *sorted(set(cuts)), len(mail)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        if lo >= hi:
            continue
        with db.transaction(conn):
            before = dict(conn.execute("SELECT prospect_id, max(occurred_at) FROM interactions"
                                       " WHERE prospect_id = ? GROUP BY prospect_id", (pid,)))
            rows, new = [], {pid: []}
            for n, (at, name) in enumerate(mail[lo:hi], lo):
                kind, detail = _EVENTS[name]
                rows.append({"prospect_id": pid, "kind": kind, "occurred_at": at,
                             "message_id": f"<m{n}@x>", "detail": detail})
                new[pid].append((at, kind, f"<m{n}@x>", detail))
            interactions.record_many(conn, "monitor", rows)
            rules.apply_new(conn, new, before, {})
    out = _state(conn)["prospects"]
    conn.close()
    return out


def test_folding_new_mail_in_batches_ends_where_one_batch_does(tmp_path):
    """Property: mail recorded in sent order, in any split into batches, folds into the
    state a single batch (a first scan) derives."""
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st

    counter = iter(range(10 ** 6))
    template = tmp_path / "template.db"
    conn = db.open_write(template)
    assert prospects.add(conn, "tester", "ada@example.com", at=CREATED)["id"] == 1
    conn.close()

    @settings(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.sampled_from(sorted(_EVENTS)), min_size=1, max_size=8),
           st.lists(st.integers(1, 7), max_size=4))
    @example(["hard", "in"], [1])            # the stored status is where folding starts
    @example(["soft", "out", "in"], [1, 2])  # a reply clears a soft bounce batches later
    @example(["out", "auto", "in"], [1])     # the stored stage is where folding starts
    def check(names, cuts):
        mail = [(f"2024-03-{1 + i:02d}T09:00:00Z", name) for i, name in enumerate(names)]
        n = next(counter)
        once = _fold_db(template, tmp_path / f"once{n}.db", mail, [])
        split = _fold_db(template, tmp_path / f"split{n}.db", mail, cuts)
        assert split == once, (names, cuts)

    check()


def _vm_steps(conn: sqlite3.Connection, ids: list[int]) -> int:
    """SQLite virtual-machine steps (in hundreds) that re-deriving ``ids`` takes: the
    work it does, counted without a clock."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(tick, 100)
    try:
        with db.transaction(conn):
            rules.apply_many(conn, ids, {})
            raise _Undo  # rolled back: the next call does the same work again
    except _Undo:
        pass
    finally:
        conn.set_progress_handler(None, 0)
    return steps[0]


class _Undo(Exception):
    pass


def test_replaying_a_few_prospects_does_not_read_everyone_elses_mail(tmp_path):
    """Mail found out of order re-derives its prospects from their own history: the work
    does not grow with the rest of the mailbox (a 500k-message first scan did 7× the
    work of a 100k one when each replay read every mail interaction of the table)."""
    conn, ids = _db(tmp_path / "h.db")
    ids += [prospects.add(conn, "tester", f"p{i}@example.net", at=CREATED)["id"]
            for i in range(7)]
    mail = lambda pids, prefix: [  # noqa: E731
        {"prospect_id": pid, "kind": ("email_out", "email_in", "bounce")[n % 3],
         "occurred_at": f"2024-04-{1 + n % 28:02d}T09:00:00Z",
         "message_id": f"<{prefix}{pid}.{n}>",
         "detail": {"bounce": "soft", "diagnostic": "452 full"} if n % 3 == 2 else None}
        for pid in pids for n in range(6)]
    interactions.record_many(conn, "monitor", mail(ids, "t"))
    for pid in ids[:5]:  # both paths: prospects a person changed, and the others
        stages.move(conn, "tester", pid, "contacted", at="2024-03-04T00:00:00Z")
    before = _vm_steps(conn, ids)
    others = [prospects.add(conn, "tester", f"other{i}@example.com", at=CREATED)["id"]
              for i in range(100)]
    for k in range(6):  # 3,600 mail interactions of other people
        interactions.record_many(conn, "monitor", mail(others, f"x{k}."))
    after = _vm_steps(conn, ids)
    assert after <= before * 1.5 + 5, (before, after)
    conn.close()


def test_a_lead_created_by_a_failed_message_is_created_again_by_the_next(tmp_path, people,
                                                                         invoke, conn,
                                                                         monkeypatch):
    """With --create-unknown, our mail to a new lead (Nina) and to an address no prospect
    can have fails after Nina was created; its rollback takes Nina away, so her reply
    later in the same batch creates her again and is recorded (not pinned on the
    rolled-back prospect)."""
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)  # both in one folder: one batch
    path = tmp_path / "Maildir"
    t = ago(days=3)
    raw, mid = sample.outbound(ME, {"email": "nina@new.example", "name": "Nina"}, t, "Hello",
                               cc="x@-weird.example")
    sample.write_maildir_message(path, raw, t)
    raw, _ = sample.reply({"email": "nina@new.example", "name": "Nina"}, ME,
                          t + timedelta(hours=1), "Hello", mid)
    sample.write_maildir_message(path, raw, t + timedelta(hours=1))
    ok(invoke("scan", "--source", f"maildir:{path}", "--create-unknown"))
    [reason] = [r[0] for r in conn.execute("SELECT reason FROM mail_quarantine")]
    assert reason.startswith("processing failed") and "-weird.example" in reason
    assert kinds(conn, "nina@new.example") == ["email_in"]
