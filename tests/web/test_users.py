"""``salescli users …`` and the separate credentials database."""

from __future__ import annotations

import gc
import json
import stat

from salescli.core import db
from salescli.web import credentials
from tests.support.cli import activities, fails, ok, query

PASSWORD = "tr0ub4dor&3-staple"


def user_rows(invoke) -> list[dict]:
    return json.loads(ok(invoke("users", "list", "--format", "json")))


def stored_hash(sales, username):
    conn = credentials.open_credentials(sales)
    try:
        return credentials.password_hash(conn, username)
    finally:
        conn.close()


def test_add_with_password_stdin_stores_hash_only_in_credentials_db(invoke, sales):
    out = ok(invoke("users", "add", "maria", "--role", "manager", "--email",
                    "Maria@Example.com", "--password-stdin", input=PASSWORD + "\n"))
    assert out == "added user maria (manager)\n"
    creds_file = db.credentials_path(sales)
    assert creds_file == sales.with_name("credentials.db")
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(sales.stat().st_mode) == 0o600

    digest = stored_hash(sales, "maria")
    assert digest.startswith("scrypt$")
    assert credentials.verify_password(PASSWORD, digest)
    assert not credentials.verify_password(PASSWORD + "x", digest)

    # nothing secret in the sales database: not the hash, not its salt, not the password
    gc.collect()
    sales_bytes = b"".join(p.read_bytes() for p in sales.parent.glob("sales.db*"))
    for secret in (digest, digest.split("$")[4], digest.split("$")[5], PASSWORD, "scrypt$"):
        assert secret.encode() not in sales_bytes, secret
    assert not any("password" in c["name"] or "hash" in c["name"]
                   for c in query(sales, "SELECT name FROM pragma_table_info('users')"))


def test_add_with_prompt_asks_twice(invoke, sales):
    ok(invoke("users", "add", "dev", "--role", "operator", input=f"{PASSWORD}\n{PASSWORD}\n"))
    assert credentials.verify_password(PASSWORD, stored_hash(sales, "dev"))


def test_add_without_password(invoke, sales):
    ok(invoke("users", "add", "bot", "--role", "analyst", "--no-password"))
    assert stored_hash(sales, "bot") is None


def test_list_shows_users_and_no_secrets(invoke, sales):
    ok(invoke("users", "add", "zed", "--role", "admin", "--password-stdin",
              input=PASSWORD + "\n"))
    ok(invoke("users", "add", "amy", "--role", "analyst", "--no-password", "--email",
              "amy@example.com"))
    rows = user_rows(invoke)
    assert [(r["username"], r["role"], r["email"], r["disabled"]) for r in rows] == \
        [("amy", "analyst", "amy@example.com", False), ("zed", "admin", None, False)]
    assert {"username", "email", "role", "disabled", "created_at"} <= set(rows[0])
    assert not any("pass" in k or "hash" in k for k in rows[0])
    table = ok(invoke("users", "list"))
    assert "amy@example.com" in table and "scrypt" not in table


def test_disable_enable_set_role_set_email(invoke, sales):
    ok(invoke("users", "add", "maria", "--role", "operator", "--no-password"))
    assert ok(invoke("users", "disable", "maria")) == "disabled maria\n"
    assert user_rows(invoke)[0]["disabled"] is True
    assert ok(invoke("users", "disable", "maria", "--enable")) == "enabled maria\n"
    assert user_rows(invoke)[0]["disabled"] is False
    assert ok(invoke("users", "set-role", "maria", "admin")) == "maria is now admin\n"
    ok(invoke("users", "set-email", "maria", " MARIA@example.com "))
    row = user_rows(invoke)[0]
    assert (row["role"], row["email"]) == ("admin", "maria@example.com")
    # Each change is in the audit trail under its own action, with what it was before.
    assert [(a["action"], a["before"], a["after"]) for a in activities(sales, entity="user")] \
        == [("create", None, {"username": "maria", "email": None, "role": "operator",
                              "disabled": False}),
            ("disable", {"disabled": False}, {"disabled": True}),
            ("enable", {"disabled": True}, {"disabled": False}),
            ("set-role", {"role": "operator"}, {"role": "admin"}),
            ("update", {"email": None}, {"email": "maria@example.com"})]


def test_passwd_replaces_the_hash(invoke, sales):
    ok(invoke("users", "add", "maria", "--role", "operator", "--password-stdin",
              input=PASSWORD + "\n"))
    old = stored_hash(sales, "maria")
    assert ok(invoke("users", "passwd", "maria", "--password-stdin",
                     input="a brand new secret\n")) == "password changed for maria\n"
    new = stored_hash(sales, "maria")
    assert new != old
    assert credentials.verify_password("a brand new secret", new)
    assert not credentials.verify_password(PASSWORD, new)
    # The audit trail says the password changed, and never what to.
    last = activities(sales, entity="user")[-1]
    assert (last["action"], last["before"], last["after"]) == \
        ("passwd", None, {"password": "changed"})


def test_passwd_for_unknown_user_does_not_prompt(invoke, sales):
    result = invoke("users", "passwd", "ghost")
    fails(result, "user 'ghost' not found")


def test_verify_password_rejects_garbage_hashes():
    assert not credentials.verify_password("x", None)
    assert not credentials.verify_password("x", "md5$abc")
    assert not credentials.verify_password("x", "scrypt$1$2$3$notbase64$@@")


def test_credentials_db_env_override(invoke, sales, tmp_path, monkeypatch):
    elsewhere = tmp_path / "secure" / "creds.db"
    monkeypatch.setenv("SALESCLI_CREDENTIALS_DB", str(elsewhere))
    ok(invoke("users", "add", "maria", "--role", "operator", "--password-stdin",
              input=PASSWORD + "\n"))
    assert elsewhere.exists() and stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    assert not sales.with_name("credentials.db").exists()


def test_a_short_password_is_refused_without_showing_it(invoke, sales):
    result = invoke("users", "add", "zed", "--role", "admin", "--password-stdin",
                    input="hunter2\n")
    assert fails(result) == "Error: password '…' must be at least 8 characters"
    assert "hunter2" not in result.output
