"""Web behaviour ``./dev mutants`` found unchecked: a blank ``_raw`` after ``_raw=1`` keeps
the CSV guard on, waiting the advertised Retry-After is always enough, the first refused
token of an address is logged without a suppressed count, a bad role names the field."""

from __future__ import annotations

import json

import pytest

from salescli.core.errors import InvalidValue
from salescli.web import throttle, users
from tests.support.cli import query
from tests.web.conftest import PASSWORD, run, signin_events
from tests.web.test_csv_guard import ENDPOINTS, evil, evil_cells, fetch  # noqa: F401
from tests.web.test_throttle import ATTACKER, web  # noqa: F401 (fixture)


def test_the_last_raw_argument_wins_even_when_blank(evil):  # noqa: F811 (the fixture)
    _, rows = fetch(evil, ENDPOINTS[0] + "&_raw=1&_raw=")
    cells = evil_cells(rows)
    assert cells and all(c.startswith("'") for c in cells)


def test_waiting_the_advertised_retry_after_is_enough(web):  # noqa: F811 (the fixture)
    web_auth, clock, _ = web
    for _ in range(throttle.PAIR_FREE_FAILURES):
        assert web_auth.login("maria", "guess", ATTACKER).status == 401
        clock.advance(seconds=1)
    clock.advance(milliseconds=250)  # between whole seconds: Retry-After rounds up
    blocked = web_auth.login("maria", PASSWORD, ATTACKER)
    assert blocked.status == 429 and blocked.retry_after == 29
    clock.advance(seconds=blocked.retry_after - 1)
    assert web_auth.login("maria", PASSWORD, ATTACKER).status == 429
    clock.advance(seconds=1)
    assert web_auth.login("maria", PASSWORD, ATTACKER).ok


def test_the_first_refused_token_is_logged_without_a_suppressed_count(fresh):
    assert run(fresh["ds"].client.get(
        "/sales", headers={"Authorization": "Bearer not.a.jwt"})).status_code == 401
    [detail] = [json.loads(d) for e, _, d in signin_events(fresh["db_file"])
                if e == "token_refused"]
    assert "suppressed_before" not in detail


def test_an_unknown_role_is_refused_naming_the_field(sales, conn, db_file):
    with pytest.raises(InvalidValue) as err:
        users.add(conn, db_file, "tester", "zed", "boss")
    assert str(err.value) == "role 'boss' must be one of admin, manager, analyst, operator"
    assert query(db_file, "SELECT * FROM users") == []
