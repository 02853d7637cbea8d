"""The web server cannot write the sales database, never shows the credentials database,
sees the cron jobs' new rows at once, stops runaway SQL, and ``salescli serve`` refuses to
start unsafely."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from salescli.web import tokens
from tests.web.conftest import PASSWORD, SECRET, bearer, run

SQL_ROLES = ["admin", "manager", "analyst"]
ROOT = Path(__file__).resolve().parents[2]

CREDENTIAL_PROBES = [
    "select * from passwords",
    "select * from tokens",
    "select * from signin_log",
    "select * from credentials.passwords",
    "attach database 'credentials.db' as c",
    "select * from pragma_table_info('passwords')",
    "select load_extension('x')",
    "select readfile('credentials.db')",
]

WRITE_TRICKS = [
    "insert into prospects(email, stage_id, stage_entered_at, created_at, updated_at)"
    " values ('x@y.zz', 1, 'a', 'a', 'a')",
    "update prospects set name = 'pwned'",
    "delete from prospects",
    "drop table prospects",
    "create table pwned(x)",
    "replace into users(id, username, role, created_at, updated_at)"
    " values (1, 'ada', 'admin', 'a', 'a')",
    "select 1; delete from prospects",
    "with x as (select 1) delete from prospects",
    "/* c */ update prospects set name = 'pwned'",
    "-- c\nupdate prospects set name = 'pwned'",
    "pragma query_only = 0",
    "pragma journal_mode = delete",
    "vacuum into '/tmp/salescli-stolen.db'",
    "attach database '/tmp/salescli-pwn.db' as pwn",
    "explain update prospects set name = 'pwned'",
    "select * from prospects where 1; update prospects set name = 'pwned'",
]


def fingerprint(db_file) -> str:
    conn = sqlite3.connect(db_file)
    dump = "\n".join(conn.iterdump())
    conn.close()
    return hashlib.sha256(dump.encode()).hexdigest()


@pytest.mark.parametrize("role", SQL_ROLES)
def test_no_sql_reads_password_hashes_or_revocations(web_env, role):
    ds = web_env["ds"]
    for sql in CREDENTIAL_PROBES:
        response = run(ds.client.get("/sales.json?" + urllib.parse.urlencode({"sql": sql}),
                                     headers=bearer(web_env["tokens"][role])))
        assert response.status_code in (400, 403) or response.json()["rows"] == [], sql
        assert "scrypt$" not in response.text
    databases = run(ds.client.get("/-/databases.json",
                                  headers=bearer(web_env["tokens"][role])))
    if role == "admin":
        assert [d["name"] for d in databases.json()] == ["sales"]
    else:
        assert databases.status_code == 403
    # The attached-database list would show the file's path: refused by the SQL authorizer.
    attached = run(ds.client.get("/sales.json?sql=select+name,file+from+pragma_database_list"
                                 "&_shape=array", headers=bearer(web_env["tokens"][role])))
    assert attached.status_code == 400
    assert str(web_env["db_file"].parent) not in attached.text
    for path in ["/credentials", "/credentials.json", "/sales/passwords.json",
                 "/sales/tokens.json", "/sales/signin_log.json"]:
        status = run(ds.client.get(path, headers=bearer(web_env["tokens"][role]))).status_code
        assert status in (403, 404), path


@pytest.mark.parametrize("role", SQL_ROLES)
def test_writes_are_impossible_even_with_sql_tricks(web_env, role):
    ds, db_file = web_env["ds"], web_env["db_file"]
    before = fingerprint(db_file)
    for sql in WRITE_TRICKS:
        response = run(ds.client.get("/sales.json?" + urllib.parse.urlencode({"sql": sql}),
                                     headers=bearer(web_env["tokens"][role])))
        assert response.status_code != 200 or response.json()["rows"] == [], sql
        posted = run(ds.client.post("/sales", data={"sql": sql},
                                    headers=bearer(web_env["tokens"][role])))
        assert posted.status_code == 405
    for method in ["put", "patch", "delete"]:
        response = run(getattr(ds.client, method)("/sales/prospects/1",
                                                  headers=bearer(web_env["tokens"][role])))
        assert response.status_code == 405
    assert fingerprint(db_file) == before


def test_the_served_database_object_refuses_writes(web_env):
    database = web_env["ds"].get_database("sales")
    with pytest.raises(PermissionError):
        run(database.execute_write("update prospects set name = 'pwned'"))
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn = database.connect()
        try:
            conn.execute("update prospects set name = 'pwned'")
        finally:
            conn.close()


def test_no_database_download(web_env):
    response = run(web_env["ds"].client.get("/sales.db",
                                            headers=bearer(web_env["tokens"]["admin"])))
    assert response.status_code == 403 and b"SQLite format" not in response.content


def test_runaway_sql_is_stopped(web_env):
    sql = ("with recursive c(x) as (select 1 union all select x + 1 from c)"
           " select count(*) from c")
    response = run(web_env["ds"].client.get(
        "/sales.json?" + urllib.parse.urlencode({"sql": sql, "_timelimit": "100000"}),
        headers=bearer(web_env["tokens"]["analyst"])))
    assert response.status_code == 400
    assert "interrupted" in response.text.lower() or "time limit" in response.text.lower()


def test_rows_written_by_a_cron_job_appear_without_a_restart(fresh):
    from salescli.core.db import open_write
    from salescli.pipeline import prospects

    ds = fresh["ds"]
    token, _ = tokens.create_token(fresh["db_file"], "maria", timedelta(hours=1), "t")
    url = "/sales/prospects.json?_shape=objects&email=new@example.com"
    assert run(ds.client.get(url, headers=bearer(token))).json()["rows"] == []
    conn = open_write(fresh["db_file"])  # a writer in WAL mode, as cron runs it
    prospects.add(conn, "cron", "new@example.com", name="New")
    rows = run(ds.client.get(url, headers=bearer(token))).json()["rows"]
    conn.close()
    assert [r["name"] for r in rows] == ["New"]


# --- salescli serve -----------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "short-secret-31-bytes-xxxxxxxxx"])
def test_serve_refuses_without_a_long_secret(invoke, monkeypatch, conn, secret):
    if secret is not None:
        monkeypatch.setenv("SALESCLI_SECRET", secret)
    result = invoke("serve", "--port", "0")
    assert result.exit_code == 1
    assert result.output.startswith("Error: SALESCLI_SECRET") and "at least 32 bytes" in \
        result.output


def test_serve_refuses_a_missing_database(invoke, monkeypatch, tmp_path):
    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    result = invoke("--db", tmp_path / "nope.db", "serve", "--port", "0")
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not (tmp_path / "nope.db").exists()


def test_serve_refuses_a_port_in_use(invoke, monkeypatch, conn):
    import socket

    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke("serve", "--port", port)
    assert result.exit_code == 1 and f"--port {port}" in result.output


def test_serve_explains_a_database_it_cannot_open_read_only(db_file, conn):
    """A WAL database whose directory the server's OS user cannot write: SQLite cannot
    create the -shm file. Root can always write, so as root the check runs as nobody."""
    conn.close()
    shared = Path(tempfile.mkdtemp(prefix="salescli-ro-"))  # reachable by nobody
    shutil.copy(db_file, shared / "sales.db")
    (shared / "sales.db").chmod(0o644)
    shared.chmod(0o755 if os.geteuid() == 0 else 0o555)
    code = ("import sys\nfrom salescli.web import server\ntry:\n"
            f"    server.check_database({str(shared / 'sales.db')!r})\n"
            "except Exception as exc:\n    print(exc)\n    sys.exit(3)\n")
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   *command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                cwd="/", env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        shared.chmod(0o755)
        shutil.rmtree(shared)
    assert result.returncode == 3, result.stderr
    assert "readonly database" in result.stdout and "as the OS user" in result.stdout


def test_serve_mounts_any_file_as_sales_over_http(live_server, monkeypatch):
    url, db_file = live_server
    assert db_file.name == "pipeline-2024.db"
    page = urllib.request.urlopen(url + "-/login").read().decode()
    assert 'name="password"' in page
    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    token, _ = tokens.create_token(db_file, "anna", timedelta(hours=1), "t")
    request = urllib.request.Request(url + "sales/prospects.json?_shape=objects&_size=1",
                                     headers=bearer(token))
    body = urllib.request.urlopen(request).read().decode()
    assert "example.com" in body
    assert PASSWORD not in body


def test_any_file_is_served_as_sales_in_process(tmp_path, template_dir, monkeypatch):
    """The in-process twin of the test above (which needs a live server): a database file
    named other than sales.db is still the database called and routed ``sales``."""
    from salescli.web import server
    from tests.web.conftest import copy_template

    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    db_file = copy_template(template_dir, tmp_path / "other", "pipeline-2024.db")
    token, _ = tokens.create_token(db_file, "anna", timedelta(hours=1), "t")
    ds = server.build_datasette(db_file)
    try:
        response = run(ds.client.get("/sales/prospects.json?_shape=objects&_size=1",
                                     headers=bearer(token)))
        assert response.status_code == 200, response.text
        assert "example.com" in response.text
    finally:
        ds._salescli_auth.close()


def test_the_databases_page_shows_the_file_as_it_grows(fresh, monkeypatch):
    """Served read-only but not immutable: cron jobs keep writing, so Datasette must not
    hash the file once and keep its first size (what it does for an immutable file)."""
    import json

    from salescli.core.db import open_write
    from salescli.pipeline import prospects

    monkeypatch.setenv("SALESCLI_SECRET", SECRET)
    token, _ = tokens.create_token(fresh["db_file"], "ada", timedelta(hours=1), "t")

    def listed() -> dict:
        response = run(fresh["ds"].client.get("/-/databases.json", headers=bearer(token)))
        assert response.status_code == 200
        (db,) = json.loads(response.text)
        return db

    first = listed()
    assert (first["name"], first["is_mutable"], first["hash"]) == ("sales", True, None)
    conn = open_write(fresh["db_file"])
    for i in range(300):
        prospects.add(conn, "tester", f"grow{i}@example.com", notes="n" * 500)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert listed()["size"] == fresh["db_file"].stat().st_size > first["size"]
