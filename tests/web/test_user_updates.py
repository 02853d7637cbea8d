"""A user update that changes nothing is refused naming the user (a library caller gets the
answer the CLI gives as a usage error), and leaves no audit row."""

from __future__ import annotations

import pytest

from salescli.core.errors import InvalidValue
from salescli.web import users


def test_an_update_with_nothing_to_change_names_the_user(sales, conn, db_file):
    users.add(conn, db_file, "tester", "maria", "manager")
    before = conn.execute("SELECT count(*) FROM activities").fetchone()[0]
    with pytest.raises(InvalidValue) as err:
        users.update(conn, "tester", "maria")
    assert str(err.value) == "update 'maria' needs --full-name or --email"
    assert conn.execute("SELECT count(*) FROM activities").fetchone()[0] == before


def test_a_new_user_with_a_bad_email_is_refused_naming_the_option(sales, conn, db_file):
    with pytest.raises(InvalidValue) as err:
        users.add(conn, db_file, "tester", "maria", "manager", email="not-an-address")
    assert str(err.value).startswith("--email 'not-an-address' ")
    assert conn.execute("SELECT count(*) FROM users WHERE username = 'maria'").fetchone()[0] == 0
