"""The mail status rules, replayed and folded: for a history of mail (sent, replies,
auto-replies, hard and soft bounces) and people's changes, the prospect's exact stage,
email status, bounce reason, last reply and stage date, the monitor's stage moves (from,
to, when, note) and the counts, pinned whole, one row a history."""

from __future__ import annotations

import shutil

import pytest

from salescli.core import db
from salescli.mail import rules
from salescli.pipeline import interactions, prospects, stages
from tests.mail.helpers import CREATED

EMAIL = "ada@example.com"
DETAIL = {"hard": {"bounce": "hard", "diagnostic": "550 5.1.1 unknown"},
          "soft": {"bounce": "soft", "diagnostic": "452 4.2.2 full"},
          "soft2": {"bounce": "soft", "diagnostic": "421 try later"},
          "bare": None, "seq": {"sequence": "intro", "step": 1},
          "other": {"bounce": "hard", "diagnostic": "550 gone", "other_address": "ada@old.example"}}
KINDS = {"out": "email_out", "in": "email_in", "auto": "auto_reply", "hard": "bounce",
         "soft": "bounce", "soft2": "bounce", "bare": "bounce",
         "other": "bounce", "seq": "email_out"}


def _at(day: int, hour: int = 9) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:00:00Z"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "template.db"
    conn = db.open_write(path)
    prospects.add(conn, "tester", EMAIL, at=CREATED)
    conn.close()
    return path


def _mail(conn, pid: int, batch: list[tuple], fold: bool) -> dict[str, int]:
    """Record a batch of (name, at[, message-id]) and apply the rules as a scan does."""
    with db.transaction(conn):
        before = dict(conn.execute("SELECT prospect_id, max(occurred_at) FROM interactions"
                                   " WHERE prospect_id = ? GROUP BY prospect_id", (pid,)))
        rows, new = [], []
        for name, at, *mid in batch:
            mid = mid[0] if mid else f"<{name}-{at}>"
            detail = DETAIL.get(name)
            rows.append({"prospect_id": pid, "kind": KINDS[name], "occurred_at": at,
                         "message_id": mid, "detail": detail})
            if not (detail and detail.get("other_address")):  # history only, as a scan does
                new.append((at, KINDS[name], mid, detail))
        interactions.record_many(conn, "monitor", rows)
        if fold:
            return rules.apply_new(conn, {pid: new}, before, {})
        return rules.apply(conn, pid)


def _run(template, path, steps, fold: bool) -> dict:
    shutil.copy(template, path)
    conn = db.open_write(path)
    pid = prospects.find_by_email(conn, EMAIL)["id"]
    counts = {"moves": 0, "status_changes": 0}
    for step in steps:
        if step[0] == "move":  # a person moves the prospect
            stages.move(conn, "tester", pid, step[1], at=step[2], reason="by hand")
        elif step[0] == "status":  # a person sets the email status
            prospects.update(conn, "tester", pid, {"email_status": step[1]})
        elif step[0] == "set":  # another program sets status and reason
            prospects.set_fields(conn, "tester", pid, step[1])
        elif step[0] == "remove":  # a person removes a stage
            stages.remove_stage(conn, "tester", step[1])
        elif step[0] == "add":  # a person adds a stage of a kind
            stages.add_stage(conn, "tester", step[1], kind=step[2])
        else:
            for key, n in _mail(conn, pid, step, fold).items():
                counts[key] += n
    p = conn.execute("SELECT s.name, p.email_status, p.bounce_reason, p.last_reply_at,"
                     " p.stage_entered_at FROM prospects p JOIN stages s ON s.id = p.stage_id"
                     " WHERE p.id = ?", (pid,)).fetchone()
    moves = [tuple(r) for r in conn.execute(
        "SELECT f.name, t.name, c.at, c.note FROM stage_changes c"
        " JOIN stages f ON f.id = c.from_stage_id JOIN stages t ON t.id = c.to_stage_id"
        " WHERE c.actor = 'monitor' ORDER BY c.id")]
    conn.close()
    return {"state": tuple(p), "moves": moves, "counts": counts}


OUT1, IN2 = ("out", _at(1)), ("in", _at(2))
FIRST, REPLY = ("lead", "contacted", _at(1), "first email sent"), \
    ("contacted", "replied", _at(2), "reply received")

# name → (steps, (stage, status, reason, last reply, stage entered), monitor moves, counts)
CASES = {
    "nothing but an auto-reply": (
        [[("auto", _at(1))]], ("lead", "ok", None, None, CREATED), [], (0, 0)),
    "a first email": (
        [[OUT1]], ("contacted", "ok", None, None, _at(1)), [FIRST], (1, 0)),
    "a reply to it": (
        [[OUT1, IN2]], ("replied", "ok", None, _at(2), _at(2)), [FIRST, REPLY], (2, 1)),
    "a reply in a later batch, then another, older, found later": (
        [[OUT1], [IN2], [("in", _at(1, 12))], [("in", _at(3))]],
        ("replied", "ok", None, _at(3), _at(2)),
        [FIRST, ("contacted", "replied", _at(2), "reply received")], (2, 2)),
    "a reply found before the email it answers": (
        [[IN2], [OUT1]], ("replied", "ok", None, _at(2), _at(2)), [FIRST, REPLY], (2, 1)),
    "our answer recorded first, their older mail found later: contacted": (
        [[("out", _at(2))], [("in", _at(1))]],
        ("contacted", "ok", None, _at(1), _at(2)),
        [("lead", "contacted", _at(2), "first email sent")], (1, 1)),
    "mail from them first, our answer after: contacted": (
        [[("in", _at(1))], [("out", _at(2))]],
        ("contacted", "ok", None, _at(1), _at(2)),
        [("lead", "contacted", _at(2), "first email sent")], (1, 1)),
    "sent and answered in the same second: the email first": (
        [[("in", _at(1)), ("out", _at(1))]],
        ("replied", "ok", None, _at(1), _at(1)),
        [FIRST, ("contacted", "replied", _at(1), "reply received")], (2, 1)),
    "our email in the same second as their older one, found later": (
        [[("in", _at(1))], [("out", _at(1))]],
        ("replied", "ok", None, _at(1), _at(1)),
        [FIRST, ("contacted", "replied", _at(1), "reply received")], (2, 1)),
    "a hard bounce": (
        [[OUT1, ("hard", _at(2))]],
        ("contacted", "bounced_hard", "550 5.1.1 unknown", None, _at(1)), [FIRST], (1, 1)),
    "a soft bounce, then a hard one": (
        [[OUT1, ("soft", _at(2))], [("hard", _at(3))]],
        ("contacted", "bounced_hard", "550 5.1.1 unknown", None, _at(1)), [FIRST], (1, 2)),
    "a hard bounce, then a soft one: still hard": (
        [[OUT1, ("hard", _at(2)), ("soft", _at(3))]],
        ("contacted", "bounced_hard", "550 5.1.1 unknown", None, _at(1)), [FIRST], (1, 1)),
    "a bounce without detail is soft": (
        [[OUT1, ("bare", _at(2))]],
        ("contacted", "bounced_soft", None, None, _at(1)), [FIRST], (1, 1)),
    "a soft bounce cleared by a reply": (
        [[OUT1, ("soft", _at(2))], [("in", _at(3))]],
        ("replied", "ok", None, _at(3), _at(3)),
        [FIRST, ("contacted", "replied", _at(3), "reply received")], (2, 2)),
    "a soft bounce and a reply in the same second: the reply first": (
        [[OUT1, ("soft", _at(2)), ("in", _at(2))]],
        ("replied", "bounced_soft", "452 4.2.2 full", _at(2), _at(2)), [FIRST, REPLY],
        (2, 1)),
    "a hard bounce is not cleared by a reply": (
        [[OUT1, ("hard", _at(2))], [("in", _at(3))]],
        ("replied", "bounced_hard", "550 5.1.1 unknown", _at(3), _at(3)),
        [FIRST, ("contacted", "replied", _at(3), "reply received")], (2, 2)),
    "a hard bounce reset by a person, a soft bounce after": (
        [[OUT1, ("hard", _at(2))], ("status", "ok"), [("soft", _at(3))]],
        ("contacted", "bounced_soft", "452 4.2.2 full", None, _at(1)), [FIRST], (1, 2)),
    "a hard bounce reset by a person: mail recorded after it counts, older or not": (
        [[OUT1, ("hard", _at(3))], ("status", "ok"), [("soft", _at(2))]],
        ("contacted", "bounced_soft", "452 4.2.2 full", None, _at(1)), [FIRST], (1, 2)),
    "moved back by a person: older mail found later does not move it": (
        [[OUT1], ("move", "lead", _at(5)), [("in", _at(2))]],
        ("lead", "ok", None, _at(2), _at(5)), [FIRST], (1, 1)),
    "moved back by a person: new mail moves it on, at the mail's time": (
        [[OUT1], ("move", "lead", _at(5)), [("out", _at(6))]],
        ("contacted", "ok", None, None, _at(6)),
        [FIRST, ("lead", "contacted", _at(6), "first email sent")], (2, 0)),
    "moved ahead by a person: mail does not move it back": (
        [("move", "proposal", _at(1)), [OUT1, IN2]],
        ("proposal", "ok", None, _at(2), _at(1)), [], (0, 1)),
    "won: mail moves it nowhere": (
        [("move", "won", _at(1)), [OUT1, IN2]],
        ("won", "ok", None, _at(2), _at(1)), [], (0, 1)),
    "mail older than the stage: the move is dated when the stage was entered": (
        [("move", "contacted", _at(4)), ("move", "lead", _at(5)), [("out", _at(2))]],
        ("contacted", "ok", None, None, _at(5)),
        [("lead", "contacted", _at(5), "first email sent")], (1, 0)),
    "two soft bounces in the same second: the first by message id": (
        [[OUT1, ("soft2", _at(2), "<b@x>"), ("soft", _at(2), "<a@x>")]],
        ("contacted", "bounced_soft", "452 4.2.2 full", None, _at(1)), [FIRST], (1, 1)),
    "an email sent by a sequence (with detail) is an email": (
        [[("seq", _at(1))]], ("contacted", "ok", None, None, _at(1)), [FIRST], (1, 0)),
    "a stage of the rules' name that is a won one is moved to without a reason": (
        [("remove", "replied"), ("add", "replied", "won"), [OUT1, IN2]],
        ("replied", "ok", None, _at(2), _at(2)), [FIRST, REPLY], (2, 1)),
    "a hard bounce, then an auto-reply: the reason stays": (
        [[OUT1, ("hard", _at(2))], [("auto", _at(3))]],
        ("contacted", "bounced_hard", "550 5.1.1 unknown", None, _at(1)), [FIRST], (1, 1)),
    "an older first email found later: no second move": (
        [[("out", _at(2))], [OUT1]], ("contacted", "ok", None, None, _at(2)),
        [("lead", "contacted", _at(2), "first email sent")], (1, 0)),
    "a person's latest move is where the replay starts": (
        [[OUT1], ("move", "lead", _at(3)), [("out", _at(4))], ("move", "lead", _at(5)),
         [("in", _at(6))]],
        ("lead", "ok", None, _at(6), _at(5)),
        [FIRST, ("lead", "contacted", _at(4), "first email sent")], (2, 1)),
    "a person's latest status is where the replay starts": (
        [[OUT1], ("status", "bounced_hard"), ("status", "ok"), [("soft", _at(3))]],
        ("contacted", "bounced_soft", "452 4.2.2 full", None, _at(1)), [FIRST], (1, 1)),
    "a person's status change and a later move both count": (
        [[OUT1, ("hard", _at(2))], ("status", "ok"), ("move", "lead", _at(5)),
         [("soft", _at(3))]],
        ("lead", "bounced_soft", "452 4.2.2 full", None, _at(5)), [FIRST], (1, 2)),
    "a status and reason set by another program stand": (
        [("set", {"email_status": "bounced_hard", "bounce_reason": "told by phone"}),
         [OUT1, IN2]],
        ("replied", "bounced_hard", "told by phone", _at(2), _at(2)), [FIRST, REPLY],
        (2, 1)),
    "a hard bounce of an other address changes nothing": (
        [[OUT1, ("other", _at(2))]], ("contacted", "ok", None, None, _at(1)), [FIRST], (1, 0)),
    "... nor when older mail is found after it; the bounce after it counts": (
        [[OUT1, ("other", _at(2)), ("soft", _at(3))], [("auto", _at(1, 12))]],
        ("contacted", "bounced_soft", "452 4.2.2 full", None, _at(1)), [FIRST], (1, 1)),
    "a removed stage is not moved to": (
        [("remove", "replied"), [OUT1, IN2]],
        ("contacted", "ok", None, _at(2), _at(1)), [FIRST], (1, 1)),
}


@pytest.mark.parametrize("fold", [False, True], ids=["replayed", "folded"])
@pytest.mark.parametrize("name", CASES)
def test_a_mail_history_ends_in_this_state(template, tmp_path, name, fold):
    steps, state, moves, (n_moves, n_status) = CASES[name]
    got = _run(template, tmp_path / "r.db", steps, fold)
    assert got == {"state": state, "moves": moves,
                   "counts": {"moves": n_moves, "status_changes": n_status}}


@pytest.mark.parametrize(("kind", "detail", "event", "notify"), [
    ("email_out", None, "outbound", None),
    ("email_in", {"x": 1}, "reply", "reply"),
    ("auto_reply", None, "auto_reply", None),
    ("bounce", {"bounce": "hard"}, "hard_bounce", "hard_bounce"),
    ("bounce", {"bounce": "soft"}, "soft_bounce", None),
    ("bounce", {}, "soft_bounce", None),
    ("bounce", None, "soft_bounce", None),
])
def test_each_kind_of_mail_is_one_event_with_its_notification(kind, detail, event, notify):
    got = rules.event_of(kind, detail)
    assert (got, rules.notify_rule(got)) == (event, notify)


def test_new_mail_of_several_prospects_folds_each_one(template, tmp_path):
    """An empty batch for one prospect does not stop the others; outside a transaction
    ``apply_many`` opens its own."""
    shutil.copy(template, tmp_path / "r.db")
    conn = db.open_write(tmp_path / "r.db")
    a = prospects.find_by_email(conn, EMAIL)["id"]
    b = prospects.add(conn, "tester", "bob@example.org", at=CREATED)["id"]
    interactions.record_many(conn, "monitor", [
        {"prospect_id": b, "kind": "email_out", "occurred_at": _at(1), "message_id": "<o>"},
        {"prospect_id": a, "kind": "email_out", "occurred_at": _at(1), "message_id": "<p>"}])
    hard = DETAIL["hard"]
    interactions.record_many(conn, "monitor", [
        {"prospect_id": b, "kind": "bounce", "occurred_at": _at(2), "message_id": "<h>",
         "detail": hard},
        {"prospect_id": a, "kind": "bounce", "occurred_at": _at(2), "message_id": "<i>",
         "detail": hard}])
    with db.transaction(conn):
        got = rules.apply_new(conn, {a: [], b: [(_at(1), "email_out", "<o>", None),
                                                (_at(2), "bounce", "<h>", hard)]}, {}, {})
    assert got == {"moves": 1, "status_changes": 1}
    c = prospects.add(conn, "tester", "cy@example.net", at=CREATED)["id"]  # no mail
    assert rules.apply_many(conn, [a, b, b, c]) == {"moves": 1, "status_changes": 1}
    prospects.update(conn, "tester", a, {"email_status": "ok"})
    prospects.update(conn, "tester", b, {"email_status": "ok"})
    interactions.record_many(conn, "monitor", [
        {"prospect_id": pid, "kind": "bounce", "occurred_at": _at(3),
         "message_id": f"<s{pid}>", "detail": DETAIL["soft"]} for pid in (a, b)])
    assert rules.apply_many(conn, [b, a]) == {"moves": 0, "status_changes": 2}
    assert not conn.in_transaction
    assert [tuple(r) for r in conn.execute(
        "SELECT s.name, p.email_status, p.bounce_reason FROM prospects p JOIN stages s"
        " ON s.id = p.stage_id ORDER BY p.id")] == \
        [("contacted", "bounced_soft", "452 4.2.2 full")] * 2 + [("lead", "ok", None)]


def test_a_status_change_is_audited_with_its_fields_before_and_after(template, tmp_path):
    import json

    _run(template, tmp_path / "r.db", [[OUT1, ("hard", _at(2))], [("in", _at(3))]], False)
    conn = db.open_write(tmp_path / "r.db")
    rows = [(r[0], json.loads(r[1]), json.loads(r[2])) for r in conn.execute(
        "SELECT action, before, after FROM activities WHERE actor = 'monitor'"
        " AND entity = 'prospect' ORDER BY id")]
    conn.close()
    assert rows == [
        ("move", {"stage": "lead"}, {"stage": "contacted", "note": "first email sent"}),
        ("update", {"email_status": "ok", "bounce_reason": None},
         {"email_status": "bounced_hard", "bounce_reason": "550 5.1.1 unknown"}),
        ("move", {"stage": "contacted"}, {"stage": "replied", "note": "reply received"}),
        ("update", {"last_reply_at": None}, {"last_reply_at": _at(3)})]


def test_the_callers_stage_cache_is_filled_and_trusted(template, tmp_path):
    """``stages`` caches stage rows by name for a batch: filled on the first lookup, and
    what it holds is used (here: no "contacted" stage, so no move)."""
    shutil.copy(template, tmp_path / "r.db")
    conn = db.open_write(tmp_path / "r.db")
    pid = prospects.find_by_email(conn, EMAIL)["id"]
    interactions.record_many(conn, "monitor", [
        {"prospect_id": pid, "kind": "email_out", "occurred_at": _at(1), "message_id": "<o>"},
        {"prospect_id": pid, "kind": "email_in", "occurred_at": _at(2), "message_id": "<i>"}])
    with db.transaction(conn):
        assert rules.apply(conn, pid, {"contacted": None}) == {"moves": 0, "status_changes": 1}
    cache: dict = {}
    assert rules.apply_many(conn, [pid], cache) == {"moves": 2, "status_changes": 0}
    assert {name: (row["name"], row["kind"]) for name, row in cache.items()} == \
        {"contacted": ("contacted", "open"), "replied": ("replied", "open")}
    # New mail folds with the caller's cache too, or a cache of its own.
    stages.move(conn, "tester", pid, "lead", at=_at(3))
    interactions.record_many(conn, "monitor", [
        {"prospect_id": pid, "kind": "email_out", "occurred_at": _at(4), "message_id": "<o2>"}])
    new = {pid: [(_at(4), "email_out", "<o2>", None)]}
    with db.transaction(conn):
        cache = {}
        assert rules.apply_new(conn, new, {pid: _at(2)}, cache) == \
            {"moves": 1, "status_changes": 0}
        assert list(cache) == ["contacted"]
        stages.move(conn, "tester", pid, "lead", at=_at(5))
        assert rules.apply_new(conn, new, {pid: _at(2)}) == {"moves": 1, "status_changes": 0}
    conn.close()


def test_one_batch_folds_some_prospects_and_replays_others(template, tmp_path):
    """Mail older than a prospect's latest is replayed (through the caller's stage cache),
    the rest folded: every prospect of the batch, whichever comes first."""
    shutil.copy(template, tmp_path / "r.db")
    conn = db.open_write(tmp_path / "r.db")
    ids = [prospects.find_by_email(conn, EMAIL)["id"]] + [
        prospects.add(conn, "tester", f"p{i}@example.net", at=CREATED)["id"] for i in range(3)]
    late, a, b, c = ids
    interactions.record_many(conn, "monitor", [
        {"prospect_id": late, "kind": "email_out", "occurred_at": _at(3), "message_id": "<o>"},
        {"prospect_id": late, "kind": "email_in", "occurred_at": _at(2), "message_id": "<i>"}])
    interactions.record_many(conn, "monitor", [
        {"prospect_id": pid, "kind": "email_out", "occurred_at": _at(1),
         "message_id": f"<o{pid}>"} for pid in (a, b, c)])
    new = {late: [(_at(2), "email_in", "<i>", None)]}
    new.update({pid: [(_at(1), "email_out", f"<o{pid}>", None)] for pid in (a, b, c)})
    cache: dict = {}
    with db.transaction(conn):
        got = rules.apply_new(conn, new, {late: _at(3)}, cache)
    assert got == {"moves": 4, "status_changes": 1}
    assert list(cache) == ["contacted"]
    assert [tuple(r) for r in conn.execute(
        "SELECT s.name, p.last_reply_at FROM prospects p JOIN stages s ON s.id = p.stage_id"
        " ORDER BY p.id")] == [("contacted", _at(2))] + [("contacted", None)] * 3
    d = prospects.add(conn, "tester", "dee@example.com", at=CREATED)["id"]
    interactions.record_many(conn, "monitor", [
        {"prospect_id": d, "kind": "email_out", "occurred_at": _at(5), "message_id": "<q1>"},
        {"prospect_id": d, "kind": "email_in", "occurred_at": _at(4), "message_id": "<q2>"}])
    cache = {}
    with db.transaction(conn):
        got = rules.apply_new(conn, {d: [(_at(4), "email_in", "<q2>", None)]}, {d: _at(5)},
                              cache)
    assert (got, list(cache)) == ({"moves": 1, "status_changes": 1}, ["contacted"])
    conn.close()
