"""What the sign-in log keeps for the person who reads it after an incident: who created a
token, and how many refusals a flood squeezed into the next row once its minute was over."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from salescli.web import plugin, tokens
from tests.web.conftest import PASSWORD, bearer, login, run, sign_in_and_out, signin_events


def test_a_created_token_is_logged_with_who_created_it(fresh):
    _, record = tokens.create_token(fresh["db_file"], "maria", timedelta(hours=1), "ada-admin")
    (detail,) = [json.loads(d) for e, user, d in signin_events(fresh["db_file"])
                 if e == "token_created" and user == "maria"]
    assert detail == {"jti": record["jti"], "by": "ada-admin",
                      "expires_at": record["expires_at"]}


class _MovableClock:
    """The plugin's ``time`` with a monotonic clock the test moves (no sleeping)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def __getattr__(self, name: str):
        return getattr(time, name)


def test_refusals_held_back_in_a_flood_are_counted_into_the_next_minutes_row(fresh,
                                                                            monkeypatch):
    clock = _MovableClock()
    monkeypatch.setattr(plugin, "time", clock)
    extra = 15

    async def refused(n: int, start: int) -> set[int]:
        return {(await fresh["ds"].client.get("/sales", headers=bearer(f"junk{start + i}"))
                 ).status_code for i in range(n)}

    assert run(refused(plugin.REFUSALS_PER_MINUTE + extra, 0)) == {401}
    clock.offset += 61
    assert run(refused(1, 1000)) == {401}
    details = [json.loads(d) for e, _, d in signin_events(fresh["db_file"])
               if e == "token_refused"]
    assert len(details) == plugin.REFUSALS_PER_MINUTE + 1
    assert details[-1]["suppressed_before"] == extra
    assert not any("suppressed_before" in d for d in details[:-1])


def test_a_failed_sign_in_is_logged_with_why(fresh):
    from salescli.core.db import open_write
    from salescli.web.users import set_disabled

    conn = open_write(fresh["db_file"])
    set_disabled(conn, "t", "dora", True)
    conn.close()
    assert login(fresh["ds"], "maria", "not her password").status_code == 401
    assert login(fresh["ds"], "dora", PASSWORD).status_code == 401
    failed = [(user, json.loads(d)) for e, user, d in signin_events(fresh["db_file"])
              if e == "login_failed"]
    assert failed == [("maria", {"reason": "bad credentials"}),
                      ("dora", {"reason": "disabled"})]


class _FrozenClock:
    """The plugin's ``time`` with a monotonic clock that moves only when the test says."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str):
        return getattr(time, name)


def test_the_refusal_log_minute_ends_after_sixty_seconds_not_at_sixty(fresh, monkeypatch):
    clock = _FrozenClock()
    monkeypatch.setattr(plugin, "time", clock)

    async def refused(n: int, start: int) -> set[int]:
        return {(await fresh["ds"].client.get("/sales", headers=bearer(f"junk{start + i}"))
                 ).status_code for i in range(n)}

    def logged() -> list[dict]:
        return [json.loads(d) for e, _, d in signin_events(fresh["db_file"])
                if e == "token_refused"]

    assert run(refused(plugin.REFUSALS_PER_MINUTE, 0)) == {401}
    assert len(logged()) == plugin.REFUSALS_PER_MINUTE
    clock.now += 60  # the same minute still: held back
    assert run(refused(1, 100)) == {401}
    assert len(logged()) == plugin.REFUSALS_PER_MINUTE
    clock.now += 0.001  # a new minute: logged, with the one held back counted
    assert run(refused(1, 200)) == {401}
    assert logged()[-1] == {"reason": logged()[-1]["reason"], "suppressed_before": 1}
    assert len(logged()) == plugin.REFUSALS_PER_MINUTE + 1


def test_a_refused_token_leaves_no_error_in_the_server_log(fresh, caplog):
    """Logging a refusal runs beside the request; nothing of it may end as an error line
    (what an operator reading `salescli serve`'s output would take for a fault)."""
    import logging

    caplog.set_level(logging.WARNING)
    assert run(fresh["ds"].client.get("/sales", headers=bearer("junk"))).status_code == 401
    assert [e for e, _, _ in signin_events(fresh["db_file"])].count("token_refused") == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_sign_out_is_logged_with_the_session_it_ended(fresh):
    out = sign_in_and_out(fresh["ds"])
    assert out.status_code == 302
    events = [(e, user, json.loads(d)) for e, user, d in signin_events(fresh["db_file"])
              if user == "maria" and e in ("login", "logout")]
    (_, _, signed_in), (event, _, signed_out) = events
    assert event == "logout" and signed_out == {"sid": signed_in["sid"]}
