"""Users, tokens and the server set up wrong: one ``Error:`` line naming the option or setting
and the value as the user gave it, exit 1, and no user or token written."""

from __future__ import annotations

import socket
import sqlite3

import pytest

from salescli.core.db import credentials_path
from tests.support.cli import fails, ok, query

SECRET = "s" * 40
USERNAME = "must be 1-64 letters, digits, '.', '_', '@' or '-'"
FULL_NAME = "must be one line of at most 200 characters"
SECRET_HINT = ("must be set to at least 32 bytes"
               " (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")


@pytest.fixture
def maria(invoke, db_file, monkeypatch):
    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    ok(invoke("users", "add", "maria", "--role", "manager", "--no-password"))


def _users(db_file) -> list[str]:
    return [r["username"] for r in query(db_file, "SELECT username FROM users ORDER BY 1")]


def _tokens(db_file) -> list[dict]:
    path = credentials_path(db_file)  # made by the first token or password
    return query(path, "SELECT jti, revoked_at FROM tokens") if path.exists() else []


@pytest.mark.parametrize("args, line", [
    (("bad name",), f"username 'bad name' {USERNAME}"),
    (("x" * 65,), f"username '{'x' * 65}' {USERNAME}"),
    (("bob", "--full-name", "Bob\nSmith"), f"--full-name 'Bob\\nSmith' {FULL_NAME}"),
    (("bob", "--full-name", "b" * 201), f"--full-name '{'b' * 201}' {FULL_NAME}"),
], ids=["space", "65-characters", "two-lines", "201-characters"])
def test_a_bad_user_is_one_error_line_and_not_added(invoke, db_file, maria, args, line):
    result = invoke("users", "add", *args, "--role", "analyst", "--no-password")
    assert fails(result) == f"Error: {line}"
    assert _users(db_file) == ["maria"]


def test_the_longest_name_and_full_name_are_accepted(invoke, db_file, maria):
    ok(invoke("users", "add", "x" * 64, "--role", "analyst", "--no-password",
              "--full-name", " ".join(["b" * 99, "c" * 100])))
    ok(invoke("users", "update", "maria", "--full-name", "  Maria   Souza "))
    assert query(db_file, "SELECT username, full_name FROM users ORDER BY username") == [
        {"username": "maria", "full_name": "Maria Souza"},
        {"username": "x" * 64, "full_name": "b" * 99 + " " + "c" * 100}]


@pytest.mark.parametrize("expires", ["367d", "0s", "0d", "0w", "53w"])
def test_a_lifetime_out_of_range_is_named_as_given(invoke, db_file, maria, expires):
    assert fails(invoke("tokens", "create", "maria", "--expires", expires)) == (
        f"Error: --expires '{expires}' must be between 1 second and 366 days")
    assert _tokens(db_file) == []


@pytest.mark.parametrize("expires", ["366d", "1m"])
def test_the_edges_of_a_lifetime_are_accepted(invoke, db_file, maria, expires):
    assert ok(invoke("tokens", "create", "maria", "--expires", expires)).count(".") == 2


@pytest.mark.parametrize("secret, shown", [("short", "…"), ("", ""), ("s" * 31, "…")])
def test_a_short_secret_is_refused_without_showing_it(invoke, db_file, maria, monkeypatch,
                                                      secret, shown):
    monkeypatch.setenv("SALESCLI_SECRET", secret)
    assert fails(invoke("tokens", "create", "maria")) == (
        f"Error: SALESCLI_SECRET '{shown}' {SECRET_HINT}")


def test_a_secret_of_exactly_32_bytes_is_enough(invoke, db_file, maria, monkeypatch):
    monkeypatch.setenv("SALESCLI_SECRET", "s" * 32)
    assert ok(invoke("tokens", "create", "maria")).count(".") == 2


def test_revoking_a_token_twice_says_when_it_was_revoked(invoke, db_file, maria):
    ok(invoke("tokens", "create", "maria"))
    [token] = _tokens(db_file)
    ok(invoke("tokens", "revoke", token["jti"]))
    [row] = _tokens(db_file)
    assert fails(invoke("tokens", "revoke", token["jti"])) == (
        f"Error: token {token['jti']!r} was already revoked at {row['revoked_at']}")
    assert _tokens(db_file) == [row]


def test_credentials_from_a_newer_salescli_are_refused(invoke, db_file, maria):
    from salescli.web.credentials import VERSION

    ok(invoke("tokens", "create", "maria"))
    path = credentials_path(db_file)
    with sqlite3.connect(path) as c:
        c.execute(f"PRAGMA user_version = {VERSION + 1}")
    assert fails(invoke("tokens", "create", "maria")) == (
        f"Error: {path} has credentials schema version {VERSION + 1}, newer than this salescli"
        f" understands ({VERSION}); upgrade salescli")
    assert len(_tokens(db_file)) == 1


def test_a_port_in_use_is_named(invoke, db_file, maria):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert fails(invoke("serve", "--port", port)) == (
            f"Error: --port {port} cannot be used on 127.0.0.1: Address already in use")
