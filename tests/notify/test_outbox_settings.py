"""The outbox's settings and limits as a user meets them: the SALESCLI_NOTIFY_* variables,
the webhook URL, the subject line and the retry schedule (found by ``./dev mutants``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from salescli.core.errors import InvalidValue
from salescli.notify import outbox
from tests.notify.conftest import queue


def rows(conn):
    return [dict(r) for r in conn.execute("SELECT * FROM notifications ORDER BY id")]


@pytest.mark.parametrize("name, value, message", [
    ("SALESCLI_NOTIFY_MAX_PER_HOUR", "many", "'many' is not a whole number"),
    ("SALESCLI_NOTIFY_MAX_PER_HOUR", "-1", "'-1' must be at least 0"),
    ("SALESCLI_NOTIFY_MAX_AGE_DAYS", "a week", "'a week' is not a whole number"),
])
def test_a_bad_notify_setting_refuses_the_event_naming_it(conn, team, smtp_server,
                                                          monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidValue) as err:
        queue(conn, "reply", team["carol"], "reply:1:<s1@x>",
              occurred_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert str(err.value) == f"{name} {message}"
    assert rows(conn) == []


def test_a_cap_of_zero_holds_back_every_notification(conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_PER_HOUR", "0")
    assert queue(conn, "reply", team["carol"], "reply:1:<z1@x>") == 1
    assert [outbox.state_of(r) for r in rows(conn)] == ["suppressed"]
    assert outbox.deliver(conn)["sent"] == 0 and smtp_server.messages == []


def test_the_cap_counts_only_the_last_hour(conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_PER_HOUR", "1")
    queue(conn, "reply", team["carol"], "reply:1:<c1@x>")
    hour_ago = (datetime.now(UTC) - timedelta(minutes=61)).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn.execute("UPDATE notifications SET created_at = ?", (hour_ago,))
    queue(conn, "reply", team["carol"], "reply:1:<c2@x>")
    queue(conn, "reply", team["carol"], "reply:1:<c3@x>")
    assert [outbox.state_of(r) for r in rows(conn)] == ["pending", "pending", "suppressed"]


def test_max_attempts_below_one_is_refused_when_a_send_fails(conn, team, smtp_server,
                                                            monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_ATTEMPTS", "0")
    smtp_server.fail_next(1, code=451)
    queue(conn, "reply", team["carol"], "reply:1:<a1@x>")
    with pytest.raises(InvalidValue) as err:
        outbox.deliver(conn)
    assert str(err.value) == "SALESCLI_NOTIFY_MAX_ATTEMPTS '0' must be at least 1"


def test_the_retry_base_sets_the_first_delay(conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_RETRY_BASE", "10.5")
    smtp_server.fail_next(1, code=451)
    queue(conn, "reply", team["carol"], "reply:1:<r1@x>")
    moment = datetime.now(UTC).replace(microsecond=0)
    outbox.deliver(conn, now=moment)
    [row] = rows(conn)
    delay = datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00")) - moment
    assert timedelta(seconds=4) <= delay <= timedelta(seconds=16)  # 10.5 s · [0.5, 1.5)


def test_retries_wait_at_most_about_six_hours(conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_RETRY_BASE", "86400")  # a day, capped at 6 h
    smtp_server.fail_next(1, code=451)
    queue(conn, "reply", team["carol"], "reply:1:<r2@x>")
    moment = datetime.now(UTC).replace(microsecond=0)
    outbox.deliver(conn, now=moment)
    [row] = rows(conn)
    delay = datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00")) - moment
    assert timedelta(hours=3) - timedelta(seconds=1) <= delay <= timedelta(hours=9)


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "http:///no-host", "hooks.example"])
def test_a_webhook_url_that_is_not_http_is_refused_at_queueing(conn, team, monkeypatch, url):
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", url)
    with pytest.raises(InvalidValue) as err:
        queue(conn, "reply", team["carol"], "reply:1:<u1@x>")
    assert str(err.value).startswith("SALESCLI_WEBHOOK_URL '")
    assert str(err.value).endswith("' is not an http(s) URL")
    assert rows(conn) == []


def test_a_webhook_row_names_the_host_but_never_the_path(conn, team, monkeypatch):
    monkeypatch.delenv("SALESCLI_SMTP_HOST", raising=False)
    monkeypatch.setenv("SALESCLI_WEBHOOK_URL", "https://hooks.example/T0KEN?key=s3cret")
    assert queue(conn, "reply", team["carol"], "reply:1:<u2@x>") == 1
    [row] = rows(conn)
    assert row["recipient"] == "https://hooks.example/…"


def test_a_long_or_multi_line_subject_is_one_line_of_at_most_200(invoke, conn, team,
                                                                 smtp_server):
    queue(conn, "reply", team["carol"], "reply:1:<l1@x>", subject="Re:\n  " + "word " * 80)
    [row] = rows(conn)
    assert len(row["subject"]) == 200 and "\n" not in row["subject"]
    assert row["subject"].startswith("[salescli] Reply from Carol <carol@client.test>: Re: word")


def test_a_bounce_and_an_unknown_rule_have_their_own_subjects(conn, team, smtp_server):
    queue(conn, "bounce", team["carol"], "bounce:1:<b1@x>")
    queue(conn, "meeting", team["erin"], "meeting:3:<m1@x>")
    assert [r["subject"] for r in rows(conn)] == [
        "[salescli] Hard bounce for Carol <carol@client.test>",
        "[salescli] meeting for Erin <erin@client.test>"]


def test_a_prospect_without_a_name_is_named_by_address(conn, smtp_server):
    from salescli.pipeline import prospects

    pid = prospects.add(conn, "tester", "noname@client.test", owner="pat@agency.test")["id"]
    queue(conn, "reply", pid, "reply:5:<nn@x>", subject="Hi")
    [row] = rows(conn)
    assert row["subject"] == "[salescli] Reply from noname@client.test: Hi"


def test_events_just_inside_the_age_limit_are_news(conn, team, smtp_server, monkeypatch):
    monkeypatch.setenv("SALESCLI_NOTIFY_MAX_AGE_DAYS", "2")
    now = datetime.now(UTC)
    inside = (now - timedelta(days=2) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    outside = (now - timedelta(days=2) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert queue(conn, "reply", team["carol"], "reply:1:<i1@x>", occurred_at=inside) == 1
    assert queue(conn, "reply", team["carol"], "reply:1:<o1@x>", occurred_at=outside) == 0


@pytest.mark.parametrize("value, digest", [("1", True), ("true", True), ("Yes", True),
                                           ("0", False), ("", False)])
def test_the_digest_switch_reads_the_usual_words(monkeypatch, value, digest):
    monkeypatch.setenv("SALESCLI_NOTIFY_DIGEST", value)
    assert outbox.digest_mode() is digest


def test_smtp_counts_as_configured_only_with_a_host():
    from salescli.notify import smtp

    assert smtp.configured({"SALESCLI_SMTP_HOST": "mx.example"})
    assert not smtp.configured({"SALESCLI_SMTP_HOST": "  "})
    assert not smtp.configured({})


def test_idempotency_keys_are_prefixed_and_stable():
    from salescli.notify import send

    key = send.idempotency_key("reply:1:<k@x>|webhook")
    assert key.startswith("salescli-") and len(key) == len("salescli-") + 32
    assert key == send.idempotency_key("reply:1:<k@x>|webhook")
