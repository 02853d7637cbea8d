"""``send`` against a real aiosmtpd with an injected clock: exit rules, refusals, limits,
windows, task steps, unsubscribe headers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from salescli.core.timeutil import iso
from salescli.pipeline import interactions, prospects, stages, suppressions
from salescli.sequences import enroll, store
from salescli.sequences.send import send_due
from tests.sequences.conftest import ME, THREE_STEPS, write_plan
from tests.support.cli import activities, ok, query

ALL = ["ada@example.com", "bob@example.org", "cy@example.net"]


def _state(db_file, email: str) -> dict:
    return query(db_file, "SELECT e.* FROM enrollments e JOIN prospects p ON"
                          " p.id = e.prospect_id WHERE p.email = ?", (email,))[0]


def _rcpts(server) -> list[str]:
    return [m.rcpt_tos[0] for m in server.messages]


def test_suppression_wins_over_enrollment(conn, db_file, intro, team, smtp_server, t0):
    enroll.enroll(conn, "tester", "intro", ALL, now_=t0)
    suppressions.add(conn, "tester", "@example.org")
    assert send_due(conn, now=t0) == {"unsubscribed": 1, "sent": 2}
    assert sorted(_rcpts(smtp_server)) == ["ada@example.com", "cy@example.net"]
    assert _state(db_file, "bob@example.org")["reason"] == "suppressed: @example.org (manual)"
    suppressions.add(conn, "tester", "ada@example.com", reason="asked")
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"unsubscribed": 1, "sent": 1}
    assert _rcpts(smtp_server)[2:] == ["cy@example.net"]
    assert _state(db_file, "ada@example.com")["state"] == "unsubscribed"


@pytest.mark.parametrize("action, state, reason", [
    (lambda c: prospects.archive(c, "t", "ada@example.com"), "stopped", "archived"),
    (lambda c: stages.move(c, "t", 1, "won", reason="signed"), "stopped",
     "moved to won (won)"),
    (lambda c: interactions.record(c, "monitor", 1, "email_in", iso(datetime.now(UTC)),
                                   subject="other thread"), "replied", "replied"),
    (lambda c: interactions.record(c, "monitor", 1, "bounce", iso(datetime.now(UTC)),
                                   detail={"bounce": "hard", "diagnostic": "5.1.1 unknown"}),
     "bounced", "hard bounce: 5.1.1 unknown"),
])
def test_exit_rules_end_the_enrollment_before_the_next_step(conn, db_file, intro, team,
                                                            smtp_server, t0, action, state,
                                                            reason):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 1}
    action(conn)
    assert send_due(conn, now=t0 + timedelta(days=3)) == {state: 1}
    assert len(smtp_server.messages) == 1
    row = _state(db_file, "ada@example.com")
    assert row["state"] == state and row["reason"].startswith(reason)
    assert row["next_due_at"] is None


def test_out_of_office_delays_by_the_wait_and_never_ends(conn, db_file, intro, team,
                                                         smtp_server, t0):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    ooo_at = t0 + timedelta(days=2)
    interactions.record(conn, "monitor", 1, "auto_reply", iso(ooo_at),
                        subject="Automatic reply: Quick question, Ada")
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"delayed": 1}
    assert _state(db_file, "ada@example.com")["next_due_at"] == iso(ooo_at + timedelta(days=3))
    assert send_due(conn, now=ooo_at + timedelta(days=3) - timedelta(seconds=1)) == {}
    assert send_due(conn, now=ooo_at + timedelta(days=3)) == {"sent": 1}
    assert _state(db_file, "ada@example.com")["state"] == "active"


def test_out_of_office_with_a_return_date_waits_for_it(conn, db_file, intro, team,
                                                       smtp_server):
    t0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    interactions.record(conn, "monitor", 1, "auto_reply", iso(t0 + timedelta(hours=2)),
                        subject="Out of office until 14 December")
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"delayed": 1}
    assert _state(db_file, "ada@example.com")["next_due_at"] == "2026-12-14T00:00:00Z"
    assert send_due(conn, now=datetime(2026, 12, 13, 23, tzinfo=UTC)) == {}
    assert send_due(conn, now=datetime(2026, 12, 14, 0, 1, tzinfo=UTC)) == {"sent": 1}


def test_soft_bounce_retries_the_step_once_next_day_then_ends(conn, db_file, intro, team,
                                                              smtp_server, t0):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    soft = {"bounce": "soft", "diagnostic": "4.2.2 mailbox full"}
    interactions.record(conn, "monitor", 1, "bounce", iso(t0 + timedelta(hours=1)),
                        message_id="<b1@mx>", detail=soft)
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"retried": 1}
    row = _state(db_file, "ada@example.com")
    assert (row["step"], row["attempt"]) == (0, 2)
    assert row["next_due_at"] == iso(t0 + timedelta(days=1, hours=1))
    [retry] = activities(db_file, entity="enrollment", action="retry")  # the audit says why
    assert (retry["actor"], retry["before"], retry["after"]) == (
        "send", {"step": 1}, {"step": 0, "next_due_at": row["next_due_at"],
                              "reason": "soft bounce: step retried once"})
    assert send_due(conn, now=t0 + timedelta(days=3, minutes=1)) == {"sent": 1}
    first, again = smtp_server.messages
    assert again.message["Subject"] == first.message["Subject"]
    assert again.message["Message-ID"] != first.message["Message-ID"]
    interactions.record(conn, "monitor", 1, "bounce", iso(t0 + timedelta(days=3, hours=1)),
                        message_id="<b2@mx>", detail=soft)
    assert send_due(conn, now=t0 + timedelta(days=7)) == {"bounced": 1}
    assert len(smtp_server.messages) == 2


def test_smtp_5xx_for_the_recipient_is_a_hard_bounce(conn, db_file, intro, team,
                                                     smtp_server, t0):
    smtp_server.refuse_rcpt("bob@example.org", 550)
    enroll.enroll(conn, "tester", "intro", ALL, now_=t0)
    assert send_due(conn, now=t0) == {"sent": 2, "bounced": 1}
    row = _state(db_file, "bob@example.org")
    assert row["state"] == "bounced" and "550" in row["reason"]
    send = query(db_file, "SELECT state, smtp_reply FROM sends WHERE recipient = ?",
                 ("bob@example.org",))[0]
    # The ledger keeps the server's own reply: the mail was tried, not left unsent.
    assert send["state"] == "failed"
    assert f"hard bounce at SMTP: {send['smtp_reply']}" == row["reason"]
    assert prospects.resolve(conn, "bob@example.org")["email_status"] == "bounced_hard"
    blocked = suppressions.match(conn, "bob@example.org")
    assert blocked["source"] == "bounce"
    assert "refused recipient bob@example.org (550" in blocked["reason"]  # why, for people


def test_smtp_5xx_for_the_mail_stops_the_enrollment_and_blames_no_address(
        conn, db_file, intro, team, smtp_server, t0):
    """A permanent refusal of the mail itself (5xx at DATA, e.g. content policy): the
    enrollment stops with the reply as its reason, counted as failed; the address is not
    marked bounced nor suppressed, and nothing is tried again."""
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    smtp_server.fail_next(1, 554)
    assert send_due(conn, now=t0) == {"failed": 1}
    row = _state(db_file, "ada@example.com")
    assert row["state"] == "stopped"
    assert row["reason"].startswith("SMTP refused the mail: ") and "554" in row["reason"]
    send = query(db_file, "SELECT state, smtp_reply FROM sends")[0]
    assert send["state"] == "failed"
    assert f"SMTP refused the mail: {send['smtp_reply']}" == row["reason"]
    assert prospects.resolve(conn, "ada@example.com")["email_status"] != "bounced_hard"
    assert suppressions.match(conn, "ada@example.com") is None
    assert send_due(conn, now=t0 + timedelta(days=3)) == {}
    assert smtp_server.messages == []


def test_smtp_4xx_retries_with_backoff_and_the_same_message_id(conn, db_file, intro, team,
                                                               smtp_server, t0, caplog):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    smtp_server.fail_next(1, 451)
    with caplog.at_level(logging.WARNING, logger="salescli"):
        assert send_due(conn, now=t0) == {"deferred": 1}
    [warning] = [r.getMessage() for r in caplog.records if "enrollment" in r.getMessage()]
    assert "to ada@example.com: SMTP server" in warning and " 451 " in warning  # the reply
    row = _state(db_file, "ada@example.com")
    assert row["next_due_at"] == iso(t0 + timedelta(minutes=10)) and row["retries"] == 1
    pending = query(db_file, "SELECT state, message_id, smtp_reply FROM sends")[0]
    assert pending["state"] == "pending" and "451" in pending["smtp_reply"]
    assert send_due(conn, now=t0 + timedelta(minutes=9)) == {}
    assert send_due(conn, now=t0 + timedelta(minutes=10)) == {"resent": 1, "sent": 1}
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [pending["message_id"]]


def test_daily_cap_sends_follow_ups_first_and_min_gap_waits(conn, db_file, intro, team,
                                                            smtp_server, t0, monkeypatch):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0 - timedelta(days=3))
    send_due(conn, now=t0 - timedelta(days=3))
    enroll.enroll(conn, "tester", "intro", ["bob@example.org", "cy@example.net"], now_=t0)
    monkeypatch.setenv("SALESCLI_SEND_DAILY_CAP", "2")
    monkeypatch.setenv("SALESCLI_SEND_MIN_GAP", "45")
    slept: list[float] = []
    assert send_due(conn, now=t0 + timedelta(days=1), sleep=slept.append) == \
        {"sent": 2, "capped": 1}
    assert _rcpts(smtp_server)[1:] == ["ada@example.com", "bob@example.org"]  # follow-up 1st
    assert len(slept) == 1 and 40 < slept[0] <= 45  # the second mail waited for the gap
    monkeypatch.setenv("SALESCLI_SEND_DAILY_CAP", "0")
    assert send_due(conn, now=t0 + timedelta(days=1), sleep=slept.append) == {"sent": 1}


def test_send_inside_an_open_transaction_is_refused_and_sends_nothing(conn, db_file, intro,
                                                                      team, smtp_server, t0):
    """Each step commits on its own, so a caller holding a transaction is told so."""
    from salescli.core.db import transaction
    from salescli.core.errors import SalescliError

    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    with transaction(conn):
        with pytest.raises(SalescliError) as exc:
            send_due(conn, now=t0)
    assert str(exc.value) == ("send must run outside a transaction (each step is committed on"
                              " its own)")
    assert smtp_server.messages == []
    assert _state(db_file, "ada@example.com")["step"] == 0


def test_min_gap_holds_from_one_run_to_the_next(conn, db_file, intro, team, smtp_server, t0,
                                                monkeypatch):
    """A run that starts 10 s after the last mail of the sender waits out the rest of the
    gap before its first mail (cron may start runs closer together than the gap)."""
    monkeypatch.setenv("SALESCLI_SEND_MIN_GAP", "45")
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    slept: list[float] = []
    assert send_due(conn, now=t0, sleep=slept.append) == {"sent": 1}
    assert slept == []  # nothing sent by this sender before
    enroll.enroll(conn, "tester", "intro", ["bob@example.org"], now_=t0 + timedelta(seconds=10))
    assert send_due(conn, now=t0 + timedelta(seconds=10), sleep=slept.append) == {"sent": 1}
    assert len(slept) == 1 and 34 < slept[0] <= 35


def test_sending_window_days_and_zone(conn, db_file, team, smtp_server, tmp_path):
    plan = THREE_STEPS.replace('window = "00:00-24:00"', 'window = "09:00-17:00"').replace(
        'days = "daily"', 'days = "mon-fri"\ntimezone = "Europe/Berlin"')
    store.load(conn, "t", write_plan(tmp_path, plan))
    saturday = datetime(2026, 12, 5, 12, tzinfo=UTC)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=saturday)
    monday_9 = "2026-12-07T08:00:00Z"  # 09:00 in Berlin
    assert _state(db_file, "ada@example.com")["next_due_at"] == monday_9
    assert send_due(conn, now=datetime(2026, 12, 7, 7, 59, tzinfo=UTC)) == {}
    # cron ran late, after the window closed: the step waits for the next opening
    assert send_due(conn, now=datetime(2026, 12, 7, 16, 30, tzinfo=UTC)) == \
        {"outside_window": 1}
    assert _state(db_file, "ada@example.com")["next_due_at"] == "2026-12-08T08:00:00Z"
    assert send_due(conn, now=datetime(2026, 12, 8, 8, 0, tzinfo=UTC)) == {"sent": 1}


def test_enrolled_before_the_window_opens_the_first_mail_waits_for_it(conn, db_file, team,
                                                                       smtp_server, tmp_path):
    plan = THREE_STEPS.replace('window = "00:00-24:00"', 'window = "09:00-17:00"').replace(
        'days = "daily"', 'days = "mon-fri"\ntimezone = "Europe/Berlin"')
    store.load(conn, "t", write_plan(tmp_path, plan))
    monday_7 = datetime(2026, 12, 7, 6, tzinfo=UTC)  # 07:00 in Berlin, a working day
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=monday_7)
    assert _state(db_file, "ada@example.com")["next_due_at"] == "2026-12-07T08:00:00Z"
    assert send_due(conn, now=monday_7) == {}
    assert smtp_server.messages == []


def test_task_step_makes_a_task_for_the_owner(conn, db_file, team, smtp_server, tmp_path, t0):
    plan = THREE_STEPS.replace('body = "Just bumping this up, {{ prospect.first_name }}."',
                               'task = "call"\ntext = "Call {{ prospect.name }}"')
    store.load(conn, "t", write_plan(tmp_path, plan))
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"tasks": 1}
    task = query(db_file, "SELECT kind, text, owner, source FROM tasks")
    assert task == [{"kind": "call", "text": "Call Ada Lovelace", "owner": "maria",
                     "source": "sequence:intro:2"}]
    assert send_due(conn, now=t0 + timedelta(days=5)) == {"sent": 1}
    assert _state(db_file, "ada@example.com")["state"] == "finished"


def test_a_mail_in_other_letters_arrives_as_written(conn, team, smtp_server, tmp_path, t0):
    """A subject and body beyond ASCII (and a line longer than SMTP's 998) go out encoded
    (encoded words, quoted-printable UTF-8) and read back exactly as written."""
    long_line = "Zoë " * 300
    plan = THREE_STEPS.replace("Quick question, {{ prospect.first_name }}",
                               "Grüße, {{ prospect.first_name }}").replace(
        "would {{ company.name }} like a demo?", "schöne Grüße an {{ company.name }}!\n"
        + long_line)
    store.load(conn, "t", write_plan(tmp_path, plan))
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 1}
    msg = smtp_server.messages[0].message
    assert msg["Subject"] == "Grüße, Ada"
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content().replace("\r\n", "\n") == \
        f"Hi Ada,\nschöne Grüße an Lovelace Ltd!\n{long_line}\nmaria\n"


def test_paused_sequence_sends_nothing_until_resumed(conn, intro, team, smtp_server, t0):
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    store.set_paused(conn, "t", "intro", True)
    assert send_due(conn, now=t0) == {}
    store.set_paused(conn, "t", "intro", False)
    assert send_due(conn, now=t0) == {"sent": 1}


def test_one_click_unsubscribe_only_with_an_https_endpoint(conn, intro, team, smtp_server, t0,
                                                           monkeypatch):
    from salescli.pipeline import unsubscribe

    monkeypatch.setenv("SALESCLI_UNSUBSCRIBE_URL", "https://sales.example/unsubscribe")
    monkeypatch.setenv("SALESCLI_SECRET", "s" * 40)
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    msg = smtp_server.messages[0].message
    eid, token = conn.execute("SELECT id, token FROM enrollments").fetchone()
    signed = unsubscribe.make_token(unsubscribe.key_from_secret(b"s" * 40), eid,
                                    "ada@example.com")
    assert " ".join(msg["List-Unsubscribe"].split()) == (
        f"<https://sales.example/unsubscribe/{signed}>, "
        f"<mailto:me@ours.example?subject=unsubscribe%20{token}>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.resolve(conn, unsubscribe.key_from_secret(b"s" * 40), signed)[
        "email"] == "ada@example.com"
    assert unsubscribe.resolve(conn, unsubscribe.key_from_secret(b"t" * 40), signed) is None


def test_one_click_without_the_secret_is_one_error_line_and_sends_nothing(
        invoke, conn, intro, team, smtp_server, t0, monkeypatch):
    monkeypatch.setenv("SALESCLI_UNSUBSCRIBE_URL", "https://sales.example/unsubscribe")
    monkeypatch.setenv("SALESCLI_SECRET", "too short")
    from tests.support.cli import fails

    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    fails(invoke("send"), "SALESCLI_SECRET", "SALESCLI_UNSUBSCRIBE_URL")
    assert smtp_server.messages == []
    assert conn.execute("SELECT count(*) FROM sends").fetchone()[0] == 0


def test_the_token_key_needs_a_long_secret_and_is_its_own():
    import hashlib
    import hmac

    from salescli.core.errors import InvalidValue
    from salescli.pipeline import unsubscribe

    for env in ({}, {"SALESCLI_SECRET": "s" * 31}):
        with pytest.raises(InvalidValue, match="SALESCLI_SECRET"):
            unsubscribe.signing_key(env)
    key = unsubscribe.signing_key({"SALESCLI_SECRET": "s" * 32})
    # derived for this purpose: neither the raw secret nor a key derived for another
    assert key == unsubscribe.key_from_secret(b"s" * 32) and key != b"s" * 32
    assert key != hmac.new(b"s" * 32, b"", hashlib.sha256).digest()


def test_mail_without_an_https_endpoint_has_the_mailto_alone(conn, intro, team, smtp_server,
                                                             t0, monkeypatch):
    monkeypatch.setenv("SALESCLI_UNSUBSCRIBE_URL", "http://sales.example/unsubscribe")
    enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
    send_due(conn, now=t0)
    msg = smtp_server.messages[0].message
    assert msg["List-Unsubscribe"].startswith("<mailto:me@ours.example?subject=unsubscribe")
    assert msg["List-Unsubscribe-Post"] is None


def test_dry_run_sends_and_changes_nothing(invoke, conn, db_file, intro, team, smtp_server):
    from tests.support.cli import db_state, ok

    enroll.enroll(conn, "tester", "intro", ALL, now_=datetime.now(UTC) - timedelta(hours=1))
    before = db_state(db_file)
    out = ok(invoke("send", "--dry-run", "--format", "json"))
    ids = {r["email"]: r["id"] for r in query(
        db_file, "SELECT e.id, p.email FROM enrollments e JOIN prospects p"
                 " ON p.id = e.prospect_id")}
    assert sorted(__import__("json").loads(out), key=lambda r: r["to"]) == [
        {"enrollment": ids[to], "action": "send", "step": 1, "to": to,
         "subject": f"Quick question, {first}"}
        for to, first in zip(ALL, ("Ada", "Bob", "Cy"), strict=True)]
    assert db_state(db_file) == before and smtp_server.messages == []


def test_forget_removes_enrollments_and_their_ledger_merge_moves_them(
        conn, db_file, intro, team, smtp_server, t0, invoke):
    from tests.support.cli import ok

    enroll.enroll(conn, "tester", "intro", ALL, now_=t0)
    send_due(conn, now=t0)
    ok(invoke("prospects", "merge", "ada@example.com", "cy@example.net"))
    assert query(db_file, "SELECT p.email, count(*) AS n FROM enrollments e JOIN prospects p"
                          " ON p.id = e.prospect_id GROUP BY p.email ORDER BY p.email") == \
        [{"email": "ada@example.com", "n": 1}, {"email": "bob@example.org", "n": 1}]
    ok(invoke("prospects", "forget", "bob@example.org", input="y\n"))
    assert query(db_file, "SELECT recipient FROM sends WHERE recipient = ?",
                 ("bob@example.org",)) == []
    assert [r["n"] for r in query(db_file, "SELECT count(*) AS n FROM enrollments")] == [1]
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"sent": 1}
    assert _rcpts(smtp_server)[-1] == "ada@example.com"


def test_senders_table_routes_an_owner_through_their_own_account(
        conn, db_file, intro, team, smtp_server, t0, tmp_path, monkeypatch):
    from tests.support.smtpd import SmtpServer

    with SmtpServer(users={"maria": "s3cret-pw"}) as own:
        config = tmp_path / "salescli.toml"
        config.write_text(
            '[[senders]]\naddress = "me@ours.example"\nsmtp_host = "127.0.0.1"\n'
            f'smtp_port = {own.port}\nsmtp_ssl = "none"\nsmtp_user = "maria"\n'
            'smtp_password_env = "MARIA_SMTP_PASSWORD"\ndaily_cap = 2\nmin_gap = 0\n')
        monkeypatch.setenv("SALESCLI_CONFIG", str(config))
        monkeypatch.setenv("MARIA_SMTP_PASSWORD", "s3cret-pw")
        monkeypatch.delenv("SALESCLI_SEND_MIN_GAP")
        enroll.enroll(conn, "tester", "intro", ALL, now_=t0)
        slept: list[float] = []
        assert send_due(conn, now=t0, sleep=slept.append) == {"sent": 2, "capped": 1}
        assert slept == []  # the table's min_gap = 0, not the default 30 s
        assert len(own.messages) == 2 and smtp_server.messages == []
        assert own.logins == [("maria", True)]
    config.write_text('[[senders]]\naddress = "me@ours.example"\ncolour = "red"\n')
    from salescli.core.errors import InvalidValue

    with pytest.raises(InvalidValue, match="colour"):
        send_due(conn, now=t0 + timedelta(days=1))


def test_a_senders_table_with_a_user_and_no_password_variable_sends_nothing(
        conn, db_file, intro, team, smtp_server, t0, tmp_path, monkeypatch, invoke):
    """smtp_user set, smtp_password_env not (or naming an unset variable): no login is
    tried with some other password; one Error line names the table's missing setting (not
    SALESCLI_SMTP_PASSWORD, which a table does not read), and nothing is sent."""
    from tests.support.smtpd import SmtpServer

    with SmtpServer(users={"maria": "s3cret-pw"}) as own:
        config = tmp_path / "salescli.toml"
        table = ('[[senders]]\naddress = "me@ours.example"\nsmtp_host = "127.0.0.1"\n'
                 f'smtp_port = {own.port}\nsmtp_ssl = "none"\nsmtp_user = "maria"\n')
        config.write_text(table)
        monkeypatch.setenv("SALESCLI_CONFIG", str(config))
        monkeypatch.setenv("SALESCLI_SMTP_PASSWORD", "s3cret-pw")  # not the table's
        enroll.enroll(conn, "tester", "intro", ["ada@example.com"], now_=t0)
        result = invoke("send")
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines()[-1] == (
            "Error: senders.me@ours.example.smtp_password_env None is required to log in"
            " as smtp_user 'maria'")
        config.write_text(table + 'smtp_password_env = "MARIA_PW"\n')
        result = invoke("send")
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines()[-1] == (
            "Error: MARIA_PW '' is not set (senders.me@ours.example.smtp_password_env names"
            " it, to log in as 'maria')")
        assert own.logins == [] and own.messages == [] and smtp_server.messages == []
        monkeypatch.setenv("MARIA_PW", "s3cret-pw")  # set: the mail goes, as maria
        ok(invoke("send"))
        assert own.logins == [("maria", True)] and len(own.messages) == 1


def test_default_daily_cap_is_200_per_sender_and_a_bad_limit_is_one_error(
        conn, db_file, intro, team, smtp_server, t0, invoke, monkeypatch):
    from tests.support.cli import fails

    ts = iso(t0)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO prospects(email, owner, stage_id, stage_entered_at, created_at,"
        " updated_at) VALUES (?, 'maria', 1, ?, ?, ?)",
        [(f"c{i}@cap.example", ts, ts, ts) for i in range(201)])
    conn.execute("COMMIT")
    enroll.enroll(conn, "tester", "intro", search="cap.example", now_=t0)
    assert send_due(conn, now=t0) == {"sent": 200, "capped": 1}
    monkeypatch.setenv("SALESCLI_SEND_DAILY_CAP", "lots")
    fails(invoke("send"), "SALESCLI_SEND_DAILY_CAP", "lots")
    monkeypatch.setenv("SALESCLI_SEND_DAILY_CAP", "-1")
    fails(invoke("send"), "SALESCLI_SEND_DAILY_CAP", "-1")
    assert len(smtp_server.messages) == 200


def test_an_smtp_bounce_keeps_its_reason_when_older_mail_is_found_later(
        conn, db_file, intro, team, smtp_server, t0, tmp_path, invoke, monkeypatch):
    """Bob's second mail is refused at SMTP (bounced, with the server's reply as the
    reason); a later scan finds an older mail to him, so his mail history is replayed:
    the bounce and its reason, set by the sender, stand."""
    from salescli.mail import sample

    enroll.enroll(conn, "tester", "intro", ["bob@example.org"], now_=t0)
    assert send_due(conn, now=t0) == {"sent": 1}
    smtp_server.refuse_rcpt("bob@example.org", 550)
    assert send_due(conn, now=t0 + timedelta(days=3)) == {"bounced": 1}
    bounced = query(db_file, "SELECT email_status, bounce_reason FROM prospects"
                             " WHERE email = 'bob@example.org'")
    assert bounced[0]["email_status"] == "bounced_hard" and "550" in bounced[0]["bounce_reason"]
    old, _ = sample.outbound(ME, {"email": "bob@example.org", "name": "Bob Babbage"},
                             t0 - timedelta(days=2), "Before the sequence")
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    sample.write_maildir_message(tmp_path / "Maildir" / ".Sent", old, t0 - timedelta(days=2))
    monkeypatch.setenv("SALESCLI_MY_ADDRESSES", ME)
    ok(invoke("scan", "--source", f"maildir:{tmp_path / 'Maildir'}"))
    assert [r["subject"] for r in query(
        db_file, "SELECT subject FROM interactions WHERE kind = 'email_out' ORDER BY"
                 " occurred_at")] == ["Before the sequence", "Quick question, Bob"]
    assert query(db_file, "SELECT email_status, bounce_reason FROM prospects"
                          " WHERE email = 'bob@example.org'") == bounced
