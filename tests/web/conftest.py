"""Fixtures for the web tests: a sales database with one user per role, tokens, sessions,
and a real Datasette (with the real plugin) reached through ``datasette.client``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

SECRET = "test-secret-" + "s" * 40
PASSWORD = "correct horse battery"
ROLE_USERS = {"admin": "ada", "manager": "maria", "analyst": "anna", "operator": "otto"}
XSS_NAMES = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"]
XSS_OWNER = "eve<script>alert(4)</script>"


def run(coro):
    """Run one coroutine (a datasette.client call) to completion."""
    return asyncio.run(coro)


def b64url(data: bytes | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, claims: dict, key: bytes | None, digest=hashlib.sha256) -> str:
    """A JWT assembled by hand (so any header, claim or key can be wrong)."""
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    sig = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(sig)}"


def claims_for(username: str, role: str, **overrides) -> dict:
    now = int(time.time())
    claims = {"sub": username, "role": role, "iat": now, "exp": now + 3600,
              "jti": "forged-" + os.urandom(6).hex(), "iss": "salescli", "aud": "salescli-web"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(ds, username: str, password: str, *, next_url: str | None = None):
    """Sign in through the real form (CSRF cookie + hidden field); returns the POST response."""
    page = run(ds.client.get("/-/login"))
    csrf = page.cookies["ds_csrftoken"]
    assert re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1) == csrf
    data = {"username": username, "password": password, "csrftoken": csrf}
    if next_url is not None:
        data["next"] = next_url
    return run(ds.client.post("/-/login", data=data, cookies={"ds_csrftoken": csrf}))


def sign_in_and_out(ds, username: str = "maria"):
    """Sign in, then out through the real logout form (its CSRF cookie); the POST response."""
    cookie = login(ds, username, PASSWORD).cookies["ds_actor"]
    page = run(ds.client.get("/-/logout", cookies={"ds_actor": cookie}))
    csrf = page.cookies["ds_csrftoken"]
    return run(ds.client.post("/-/logout", data={"csrftoken": csrf},
                              cookies={"ds_actor": cookie, "ds_csrftoken": csrf}))


def signin_events(db_file: Path) -> list[tuple]:
    """(event, username, detail) rows of the sign-in log, oldest first."""
    conn = sqlite3.connect(db_file.with_name("credentials.db"))
    try:
        return conn.execute("SELECT event, username, detail FROM signin_log ORDER BY id").fetchall()
    finally:
        conn.close()


def populate(db_file: Path) -> None:
    """Users for every role (plus a disabled one) and a small pipeline with XSS names."""
    from salescli.core import db
    from salescli.pipeline import interactions, prospects, stages
    from salescli.web import users

    conn = db.open_write(db_file)
    try:
        for role, name in ROLE_USERS.items():
            users.add(conn, db_file, "setup", name, role, password=PASSWORD)
        users.add(conn, db_file, "setup", "dora", "analyst", password=PASSWORD)
        old = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [("xss1@example.com", XSS_NAMES[0], "<b>Bold</b> & Co", "maria"),
                ("xss2@example.com", XSS_NAMES[1], "Acme", XSS_OWNER),
                ("carol@example.com", "Carol", "Initech", "maria"),
                ("dave@example.com", "Dave", "Globex", "otto")]
        ids = [prospects.add(conn, "setup", email, name=name, company=company, owner=owner,
                             value=1000, at=old)["id"] for email, name, company, owner in rows]
        stages.move(conn, "setup", ids[2], "contacted")
        stages.move(conn, "setup", ids[2], "replied")
        stages.move(conn, "setup", ids[3], "won", reason="signed")
        recent = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        interactions.record(conn, "setup", ids[2], "email_in", recent, subject="Re: hello")
        interactions.record(conn, "setup", ids[0], "bounce", recent, subject="Undelivered")
        # automation: an overdue task with a hostile text, a loaded sequence
        from salescli.sequences import store as sequences
        from salescli.tasks import store as tasks

        tasks.add(conn, "setup", ids[0], "<script>alert(5)</script> call back", kind="call",
                  due=(datetime.now(UTC) - timedelta(days=2)).date().isoformat())
        plan = db_file.with_name("intro.toml")
        plan.write_text('name = "intro"\n[[steps]]\nsubject = "Hi {{ prospect.name }}"\n'
                        'body = "Hello"\n')
        sequences.load(conn, "setup", plan)
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _fresh_refusal_limiter(monkeypatch):
    """The refused-token log limiter counts per address for a minute; tests all come from
    127.0.0.1, so each starts with a clean count."""
    from salescli.web import plugin

    monkeypatch.setattr(plugin, "_refusals", {})


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory):
    """A populated sales.db + credentials.db, built once (password hashing is slow on
    purpose); tests get copies."""
    directory = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("SALESCLI_", "DATASETTE_"))]:
            mp.delenv(name)
        populate(directory / "sales.db")
    assert not (directory / "sales.db-wal").exists()
    return directory


def copy_template(template: Path, directory: Path, name: str = "sales.db") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(template / "sales.db", directory / name)
    shutil.copy(template / "credentials.db", directory / "credentials.db")
    return directory / name


@pytest.fixture(scope="module")
def web_env(tmp_path_factory, template_dir):
    """A populated database, a Datasette over it, and a token per role (module-wide,
    read-only use). Also tokens that must be refused: revoked, disabled user."""
    from salescli.core.db import open_write
    from salescli.web import server, users
    from salescli.web.tokens import create_token, revoke_token

    db_file = copy_template(template_dir, tmp_path_factory.mktemp("web"))
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("SALESCLI_", "DATASETTE_"))]:
            mp.delenv(name)
        mp.setenv("SALESCLI_SECRET", SECRET)
        secret = SECRET.encode()
        tokens = {role: create_token(db_file, name, timedelta(days=1), "setup")[0]
                  for role, name in ROLE_USERS.items()}
        revoked, record = create_token(db_file, "anna", timedelta(days=1), "setup")
        revoke_token(db_file, record["jti"], "setup")
        disabled, _ = create_token(db_file, "dora", timedelta(days=1), "setup")
        conn = open_write(db_file)
        users.set_disabled(conn, "setup", "dora", True)
        from salescli.forecast import store

        store.refresh(conn)  # what the nightly job stores, for the forecast panels
        conn.close()
        ds = server.build_datasette(db_file)
    env = {"db_file": db_file, "ds": ds, "tokens": tokens, "secret": secret,
           "revoked": revoked, "disabled": disabled}
    env["sessions"] = {}
    for role, name in ROLE_USERS.items():
        response = login(ds, name, PASSWORD)
        assert response.status_code == 302, response.text
        env["sessions"][role] = response.cookies["ds_actor"]
    yield env
    ds._salescli_auth.close()


@pytest.fixture
def fresh(tmp_path, monkeypatch, template_dir):
    """A private populated database and Datasette for tests that change things."""
    from salescli.web import server

    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    db_file = copy_template(template_dir, tmp_path / "fresh")
    ds = server.build_datasette(db_file)
    yield {"db_file": db_file, "ds": ds}
    ds._salescli_auth.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, template_dir):
    """``salescli serve --port 0`` in a real process over a populated database whose file
    name is not sales.db; yields (base_url, db_file). Stopped at the end."""
    db_file = copy_template(template_dir, tmp_path_factory.mktemp("live"), "pipeline-2024.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALESCLI_", "DATASETTE_"))}
    env.update(SALESCLI_SECRET=SECRET, SALESCLI_DB=str(db_file), SALESCLI_USER="tester")
    proc = subprocess.Popen([sys.executable, "-m", "salescli", "serve", "--port", "0"],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)
    try:
        url = None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
            if match:
                url = match.group(1)
                break
        assert url, "server did not start: " + "".join(lines)
        yield url, db_file
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
