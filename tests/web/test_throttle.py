"""Sign-in throttling: an attacker guessing a password slows themselves down with growing
delays, per (username, address) and per address; the real user, from their own address,
signs in. Time moves with an injectable clock, never by sleeping."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from salescli.web import auth, throttle
from tests.web.conftest import PASSWORD, SECRET, signin_events

ATTACKER, VICTIM = "203.0.113.66", "198.51.100.7"
T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs) -> None:
        self.at += timedelta(**kwargs)


@pytest.fixture
def web(fresh):
    clock = Clock(T0)
    web_auth = auth.WebAuth(fresh["db_file"], SECRET.encode(), clock=clock)
    yield web_auth, clock, fresh["db_file"]
    web_auth.close()


@pytest.mark.parametrize("failures, free, seconds", [
    (0, 5, 0), (4, 5, 0), (5, 5, 30), (6, 5, 60), (7, 5, 120), (9, 5, 480), (10, 5, 900),
    (60, 5, 900), (19, 20, 0), (20, 20, 30), (21, 20, 60)])
def test_delays_grow_and_are_capped(failures, free, seconds):
    assert throttle.delay_after(failures, free) == timedelta(seconds=seconds)


def test_the_attacker_is_slowed_down_and_the_user_signs_in(web):
    web_auth, clock, db_file = web
    for _ in range(throttle.PAIR_FREE_FAILURES):
        assert web_auth.login("maria", "guess", ATTACKER).status == 401
        clock.advance(seconds=1)
    blocked = web_auth.login("maria", PASSWORD, ATTACKER)  # even the right password
    assert (blocked.status, blocked.ok) == (429, False)
    assert 0 < blocked.retry_after <= 30
    victim = web_auth.login("maria", PASSWORD, VICTIM)  # the real user, elsewhere
    assert victim.ok and victim.status == 200
    other = web_auth.login("anna", PASSWORD, ATTACKER)  # other users from that address
    assert other.ok

    # The delay passes: one more guess, then twice as long to wait.
    clock.advance(seconds=blocked.retry_after)
    assert web_auth.login("maria", "guess", ATTACKER).status == 401
    clock.advance(seconds=59)
    assert web_auth.login("maria", "guess", ATTACKER).status == 429
    clock.advance(seconds=1)
    assert web_auth.login("maria", "guess", ATTACKER).status == 401
    second = web_auth.login("maria", PASSWORD, ATTACKER)
    assert second.status == 429 and second.retry_after == 120

    # An hour after the last failure the slate is clean.
    clock.advance(hours=1, seconds=1)
    assert web_auth.login("maria", PASSWORD, ATTACKER).ok

    rows = [(e, u, json.loads(d) if d else None) for e, u, d in signin_events(db_file)]
    throttled = [d for e, u, d in rows if e == "login_throttled"]
    assert throttled and all(d["by"] == "user and address" for d in throttled)
    assert [e for e, u, d in rows].count("login_failed") == 7


def test_spraying_many_usernames_from_one_address_is_slowed_down(web):
    web_auth, clock, _ = web
    for i in range(throttle.REMOTE_FREE_FAILURES):
        assert web_auth.login(f"user{i}", "guess", ATTACKER).status == 401
    blocked = web_auth.login("anna", PASSWORD, ATTACKER)
    assert blocked.status == 429 and blocked.retry_after == 30
    assert web_auth.login("anna", PASSWORD, VICTIM).ok
    clock.advance(seconds=30)
    assert web_auth.login("anna", PASSWORD, ATTACKER).ok


def test_failures_older_than_the_window_do_not_count(web):
    web_auth, clock, _ = web
    for _ in range(throttle.PAIR_FREE_FAILURES - 1):
        assert web_auth.login("maria", "guess", ATTACKER).status == 401
    clock.advance(hours=1, seconds=1)
    assert web_auth.login("maria", "guess", ATTACKER).status == 401  # 1 in the window
    assert web_auth.login("maria", PASSWORD, ATTACKER).ok


def _client(ds, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=ds.app(), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


async def _login(ds, address: str, username: str, password: str) -> httpx.Response:
    async with _client(ds, address) as client:
        page = await client.get("/-/login")
        csrf = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        return await client.post("/-/login", data={"username": username, "password": password,
                                                    "csrftoken": csrf})


def test_over_http_the_victim_is_not_locked_out(fresh):
    ds = fresh["ds"]

    async def scenario():
        for _ in range(throttle.PAIR_FREE_FAILURES):
            assert (await _login(ds, ATTACKER, "maria", "guess")).status_code == 401
        blocked = await _login(ds, ATTACKER, "maria", PASSWORD)
        victim = await _login(ds, VICTIM, "maria", PASSWORD)
        return blocked, victim

    blocked, victim = asyncio.run(scenario())
    assert victim.status_code == 302 and "ds_actor" in victim.cookies
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
    assert 0 < int(blocked.headers["retry-after"]) <= 30
    assert "ds_actor" not in blocked.cookies
    events = signin_events(fresh["db_file"])
    assert [e[0] for e in events] == ["login_failed"] * 5 + ["login_throttled", "login"]


def test_parallel_guesses_get_no_more_tries_than_serial_ones(web):
    """Guesses sent at once (the password check takes ~0.1 s each) must not all slip in
    before the first failure is written: a try counts from the moment it is let in."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    web_auth, _, db_file = web
    barrier = threading.Barrier(12)

    def guess(_):
        barrier.wait()
        return web_auth.login("maria", "guess", ATTACKER).status

    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(guess, range(12)))
    assert statuses == [401] * throttle.PAIR_FREE_FAILURES + [429] * 7
    events = [e for e, _, _ in signin_events(db_file)]
    assert events.count("login_failed") == 5 and events.count("login_throttled") == 7
