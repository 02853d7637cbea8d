"""Hostile SQL from an analyst, against the real server process: each query is refused by
the SQLite authorizer or a size limit, or stopped by the time limit; the server stays up
and keeps answering the SQL that charts and analysts use."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta

import httpx
import pytest

from salescli.web import sqlguard, tokens
from tests.web.conftest import SECRET

HOSTILE = {
    "load_extension": "select load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')",
    "fts3_tokenizer address": "select hex(fts3_tokenizer('simple'))",
    "fts3_tokenizer porter": "select fts3_tokenizer('porter')",
    "fts5 api pointer": "select fts5(null)",
    "attach": "attach database ':memory:' as x",
    "attach in a select": "select 1; attach database '/tmp/x.db' as x",
    "database path": "select file from pragma_database_list",
    "database path, spelled": "select * from pragma_database_list()",
    "pragma write": "pragma query_only = 0",
    "pragma write, writable_schema": "pragma writable_schema = 1",
    "pragma as a table": "select * from pragma_query_only",
    "endless recursive CTE": "with recursive r(x) as (select 1 union all select x + 1 from r)"
                             " select count(*) from r",
    "endless recursive CTE, no change": "with recursive r(x) as (select 1 union all"
                                        " select x from r) select max(x) from r",
    "a gigabyte zeroblob": "select length(zeroblob(1000000000))",
    "a gigabyte randomblob": "select length(randomblob(1000000000))",
    "a growing string": "select length(replace(printf('%.*c', 20000000, 'x'), 'x', 'yyyy'))",
    "readfile": "select readfile('/etc/passwd')",
    "writefile": "select writefile('/tmp/pwned', 'x')",
    "dbpage": "select * from sqlite_dbpage",
    "deep nesting": "select " + "(" * 3000 + "1" + ")" * 3000,
    "huge like pattern": "select count(*) from prospects where name like"
                         " printf('%.*c', 100000, '%')",
}
ANALYST_SQL = {
    "group by": "select owner, count(*) as n from prospects group by owner",
    "window": "select id, value, sum(value) over (order by id) from prospects",
    "recursive CTE with a limit": "with recursive r(x) as (select 1 union all select x + 1"
                                  " from r limit 100) select count(*) from r",
    "dates": "select julianday('now') - julianday(created_at) from prospects",
    "json": "select json_extract('{\"a\": 1}', '$.a')",
    "full text": "select rowid from prospects_fts where prospects_fts match 'initech'",
    "columns of a table": "select name from pragma_table_info('prospects')",
    "html_escape for table charts": "select html_escape(name) from prospects",
    "a view": "select * from open_prospects_idle",
    "printf": "select printf('%05d', 42)",
    "zeroblob, small": "select length(zeroblob(1000))",
}


@pytest.fixture(scope="module")
def analyst(live_server):
    url, db_file = live_server
    old = os.environ.get("SALESCLI_SECRET")
    token, _ = tokens.create_token(db_file, "anna", timedelta(hours=1), "t",
                                   secret=SECRET.encode())
    assert old == os.environ.get("SALESCLI_SECRET")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        client.db_file = db_file
        yield client


def run_sql(client: httpx.Client, sql: str) -> httpx.Response:
    return client.get("/sales.json", params={"sql": sql, "_shape": "objects"})


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_sql_is_refused_or_stopped(analyst, name):
    response = run_sql(analyst, HOSTILE[name])
    assert response.status_code in (400, 403), (name, response.text[:300])
    assert str(analyst.db_file.parent) not in response.text
    # and the server is still there, answering at once
    assert run_sql(analyst, "select 1 as one").json()["rows"] == [{"one": 1}]


def test_printf_cannot_build_a_100_mb_string(analyst):
    response = run_sql(analyst, "select length(printf('%.*c', 100000000, 'x')) as n")
    assert response.json()["rows"] == [{"n": None}]  # past the 32 MB value limit


def test_the_time_limit_stops_an_endless_query(analyst):
    response = run_sql(analyst, HOSTILE["endless recursive CTE"])
    assert response.status_code == 400
    assert "too long" in response.text


@pytest.mark.parametrize("name", list(ANALYST_SQL))
def test_what_analysts_and_charts_use_still_runs(analyst, name):
    response = run_sql(analyst, ANALYST_SQL[name])
    assert response.status_code == 200, (name, response.text[:300])


def test_canned_queries_and_table_pages_still_run(analyst):
    for path in ["/sales/pipeline_funnel.json", "/sales/owner_summary.json",
                 "/sales/stale_prospects.json?stale_days=1", "/sales/prospects.json?_facet=owner",
                 "/sales/prospects.json?_search=initech", "/sales/stage_changes.json",
                 "/sales", "/sales/prospects"]:
        assert analyst.get(path).status_code == 200, path


# --- the authorizer on its own -------------------------------------------------------


def test_the_authorizer_on_a_plain_connection(tmp_path):
    db = tmp_path / "x.db"
    conn = sqlite3.connect(db)
    conn.execute("create table t(a)")
    conn.execute("insert into t values (1)")
    conn.commit()
    sqlguard.restrict(conn)
    assert conn.execute("select a from t").fetchall() == [(1,)]
    assert conn.execute("pragma table_info(t)").fetchall()
    assert conn.execute("pragma database_list").fetchall()  # Datasette's database page
    for sql in ["insert into t values (2)", "update t set a = 3", "delete from t",
                "create table u(b)", "drop table t", "attach ':memory:' as m",
                "pragma journal_mode = delete", "pragma schema_version = 5",
                "select fts3_tokenizer('simple')", "select * from pragma_database_list",
                "create temp table v(c)", "pragma query_only = 0"]:
        with pytest.raises(sqlite3.DatabaseError):
            conn.execute(sql)
    conn.close()
    check = sqlite3.connect(db)
    assert check.execute("select a from t").fetchall() == [(1,)]
    check.close()
