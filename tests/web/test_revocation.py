"""Access ends when an admin ends it: ``tokens revoke``, ``users disable`` and ``users
set-role`` apply to the very next request with the server as shipped, and nothing issued
before a disable or a role change comes back when the user is re-enabled or restored."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta

import pytest

from salescli.core.db import open_write
from salescli.core.errors import SchemaError
from salescli.web import credentials, server, tokens, users
from tests.web.conftest import PASSWORD, bearer, login, run


def status(ds, credential: tuple[str, str], path: str = "/sales/prospects.json") -> int:
    kind, value = credential
    if kind == "token":
        return run(ds.client.get(path, headers=bearer(value))).status_code
    return run(ds.client.get(path, cookies={"ds_actor": value})).status_code


def issue(ds, db_file, kind: str, username: str = "anna") -> tuple[str, str]:
    if kind == "token":
        return "token", tokens.create_token(db_file, username, timedelta(hours=1), "t")[0]
    return "session", login(ds, username, PASSWORD).cookies["ds_actor"]


def change(db_file, what: str, username: str = "anna") -> None:
    conn = open_write(db_file)
    try:
        if what == "disable":
            users.set_disabled(conn, "admin", username, True)
        elif what == "enable":
            users.set_disabled(conn, "admin", username, False)
        elif what.startswith("role:"):
            users.set_role(conn, "admin", username, what[5:])
    finally:
        conn.close()


def revoke(db_file, ds, credential) -> None:
    kind, value = credential
    if kind == "token":
        jti = tokens.decode_token(ds._salescli_auth.secret, value)["jti"]
    else:
        jti = run(ds.client.get("/-/actor.json", cookies={"ds_actor": value})
                  ).json()["actor"]["sid"]
    tokens.revoke_token(db_file, jti, "admin")


@pytest.fixture
def shipped(tmp_path, monkeypatch, template_dir):
    """A server built exactly as ``salescli serve`` builds it (default settings)."""
    from tests.web.conftest import SECRET, copy_template

    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    monkeypatch.delenv("SALESCLI_AUTH_CACHE_SECONDS", raising=False)
    db_file = copy_template(template_dir, tmp_path / "shipped")
    holder = {"db_file": db_file}

    def build():
        holder["ds"] = server.build_datasette(db_file)
        return holder["ds"]

    holder["build"] = build
    yield holder
    if "ds" in holder:
        holder["ds"]._salescli_auth.close()


# An environment that once made the server trust a checked credential for a day: the
# variable is gone, and whatever it says the next request is checked again.
@pytest.mark.parametrize("cache_env", [None, "86400"])
@pytest.mark.parametrize("kind", ["token", "session"])
@pytest.mark.parametrize("action", ["revoke", "disable", "set-role"])
def test_the_very_next_request_is_refused(shipped, monkeypatch, cache_env, kind, action):
    if cache_env:
        monkeypatch.setenv("SALESCLI_AUTH_CACHE_SECONDS", cache_env)
    ds, db_file = shipped["build"](), shipped["db_file"]
    credential = issue(ds, db_file, kind)
    for _ in range(3):  # warm any cache there might be
        assert status(ds, credential) == 200
    if action == "revoke":
        revoke(db_file, ds, credential)
    elif action == "disable":
        change(db_file, "disable")
    else:
        change(db_file, "role:operator")
    assert status(ds, credential) == 401  # same second, no waiting


@pytest.mark.parametrize("kind", ["token", "session"])
@pytest.mark.parametrize("off, on", [("disable", "enable"),
                                     ("role:operator", "role:analyst"),
                                     ("role:admin", "role:analyst")])
def test_nothing_issued_before_a_disable_or_role_change_comes_back(shipped, kind, off, on):
    ds, db_file = shipped["build"](), shipped["db_file"]
    old = issue(ds, db_file, kind)
    assert status(ds, old) == 200
    change(db_file, off)
    assert status(ds, old) == 401
    change(db_file, on)  # back as before: same user, same role, enabled
    assert status(ds, old) == 401
    fresh_one = issue(ds, db_file, kind)  # what is issued afterwards works, at once
    assert status(ds, fresh_one) == 200
    listed = {t["jti"]: t for t in tokens.list_tokens(db_file, include_sessions=True)}
    assert any(t["status"] == "revoked" and t["revoked_by"].startswith("admin (")
               for t in listed.values())


def test_enabling_or_an_unchanged_role_revokes_nothing(shipped):
    ds, db_file = shipped["build"](), shipped["db_file"]
    maria = issue(ds, db_file, "token", "maria")
    anna = issue(ds, db_file, "session")
    change(db_file, "enable")         # anna is already enabled: no change
    change(db_file, "role:analyst")   # the role she has
    change(db_file, "disable", "dora")
    assert status(ds, anna) == 200 and status(ds, maria) == 200


def test_changing_another_users_role_leaves_others_alone(shipped):
    ds, db_file = shipped["build"](), shipped["db_file"]
    anna = issue(ds, db_file, "token")
    change(db_file, "role:operator", "maria")
    assert status(ds, anna) == 200


# --- credentials.db version 1 → 2, in place -------------------------------------------


def make_version_1(db_file) -> None:
    """Turn a current credentials.db back into what salescli wrote at version 1."""
    conn = sqlite3.connect(db_file.with_name("credentials.db"))
    conn.execute("DROP INDEX signin_log_remote")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_version_1_credentials_file_is_upgraded_and_loses_revivable_records(
        shipped, monkeypatch):
    db_file = shipped["db_file"]
    dora, _ = tokens.create_token(db_file, "dora", timedelta(days=1), "t")
    anna, _ = tokens.create_token(db_file, "anna", timedelta(days=1), "t")
    maria, _ = tokens.create_token(db_file, "maria", timedelta(days=1), "t")
    make_version_1(db_file)
    # What version 1 left behind: dora disabled and maria demoted without their records
    # being touched (as the old `users disable` / `users set-role` did).
    sales = sqlite3.connect(db_file)
    sales.execute("UPDATE users SET disabled = 1 WHERE username = 'dora'")
    sales.execute("UPDATE users SET role = 'operator' WHERE username = 'maria'")
    sales.commit()
    sales.close()

    ds = shipped["build"]()  # opening it upgrades it
    creds = sqlite3.connect(db_file.with_name("credentials.db"))
    assert creds.execute("PRAGMA user_version").fetchone()[0] == credentials.VERSION == 2
    assert creds.execute("SELECT count(*) FROM sqlite_master WHERE name = 'signin_log_remote'"
                         ).fetchone()[0] == 1
    creds.close()
    change(db_file, "enable", "dora")
    change(db_file, "role:manager", "maria")
    assert status(ds, ("token", dora)) == 401
    assert status(ds, ("token", maria)) == 401
    assert status(ds, ("token", anna)) == 200  # a record nothing happened to still works
    by = {t["username"]: t["revoked_by"] for t in tokens.list_tokens(db_file)}
    assert by["dora"] == by["maria"] == "salescli upgrade" and by["anna"] is None


def test_a_newer_credentials_file_is_refused_untouched(shipped):
    path = shipped["db_file"].with_name("credentials.db")
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {credentials.VERSION + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaError, match="newer"):
        credentials.open_credentials(shipped["db_file"]).close()
    assert path.read_bytes() == before


def test_backups_know_the_credentials_version():
    from salescli.ops.backup import CREDENTIALS_VERSION

    assert CREDENTIALS_VERSION == credentials.VERSION


def test_an_upgraded_copy_restored_from_an_old_backup_still_works(shipped, tmp_path):
    db_file = shipped["db_file"]
    token, _ = tokens.create_token(db_file, "anna", timedelta(days=1), "t")
    make_version_1(db_file)
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(db_file, copy / "sales.db")
    shutil.copy(db_file.with_name("credentials.db"), copy / "credentials.db")
    ds = server.build_datasette(copy / "sales.db")
    try:
        assert status(ds, ("token", token)) == 200
    finally:
        ds._salescli_auth.close()
