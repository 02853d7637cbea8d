"""The served database answers Datasette's schema questions from a snapshot: a schema
change (a migration) must still show on the very next request, and so must data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salescli.core.db import open_write
from salescli.pipeline import prospects
from salescli.web import tokens
from tests.web.conftest import bearer, run


@pytest.fixture
def admin(fresh):
    token, _ = tokens.create_token(fresh["db_file"], "ada", timedelta(hours=1), "t")
    return lambda path: run(fresh["ds"].client.get(path, headers=bearer(token)))


def test_a_new_table_column_and_view_show_on_the_next_request(fresh, admin):
    before = admin("/sales.json").json()
    assert "later" not in {t["name"] for t in before["tables"]}
    assert admin("/sales/later.json").status_code == 404
    conn = open_write(fresh["db_file"])  # as a migration would, while the server runs
    conn.executescript("CREATE TABLE later(id INTEGER PRIMARY KEY, what TEXT);"
                       "INSERT INTO later(what) VALUES ('x');"
                       "ALTER TABLE prospects ADD COLUMN later_note TEXT;"
                       "CREATE VIEW later_view AS SELECT what FROM later;")
    conn.close()
    page = admin("/sales.json").json()
    assert {"name": "later", "count": 1} == {k: v for k, v in next(
        t for t in page["tables"] if t["name"] == "later").items() if k in ("name", "count")}
    assert "later_view" in {v["name"] for v in page["views"]}
    rows = admin("/sales/later.json?_shape=objects").json()["rows"]
    assert rows == [{"id": 1, "what": "x"}]
    assert "later_note" in admin("/sales/prospects.json?_size=1").json()["columns"]
    assert admin("/sales/later_view.json?_shape=objects").json()["rows"] == [{"what": "x"}]


def test_row_counts_on_the_database_page_are_current(fresh, admin):
    def count() -> int:
        tables = admin("/sales.json").json()["tables"]
        return next(t["count"] for t in tables if t["name"] == "prospects")

    first = count()
    conn = open_write(fresh["db_file"])
    prospects.add(conn, "cron", "counted@example.com")
    conn.close()
    assert count() == first + 1


def test_the_full_text_index_gets_no_count_and_stays_hidden(admin):
    tables = {t["name"]: t for t in admin("/sales.json").json()["tables"]}
    assert tables["prospects_fts"]["count"] is None and tables["prospects_fts"]["hidden"]
    assert tables["prospects_fts_data"]["hidden"]
    assert tables["prospects"]["primary_keys"] == ["id"]


def test_the_snapshot_answers_as_datasette_would(web_env):
    from datasette.database import Database

    db = web_env["ds"].get_database("sales")
    names = run(Database.table_names(db)) + run(Database.view_names(db))
    assert run(db.table_names()) + run(db.view_names()) == names
    assert set(run(db.hidden_table_names())) == set(run(Database.hidden_table_names(db)))
    assert run(db.get_all_foreign_keys()) == run(Database.get_all_foreign_keys(db))
    for name in names:
        for method in ("table_columns", "table_column_details", "primary_keys", "fts_table",
                       "foreign_keys_for_table", "label_column_for_table"):
            assert run(getattr(db, method)(name)) == run(getattr(Database, method)(db, name)), \
                (method, name)
        kind = "view" if name in run(db.view_names()) else "table"
        assert run(db.get_table_definition(name, kind)) == run(
            Database.get_table_definition(db, name, kind))
    for name in ("prospects", "PROSPECTS", "Stages", "absent"):
        assert run(db.table_exists(name)) == run(Database.table_exists(db, name))
    # A name the snapshot does not know (a table dropped since) is Datasette's to answer.
    for method in ("table_columns", "table_column_details", "primary_keys", "fts_table",
                   "foreign_keys_for_table"):
        assert run(getattr(db, method)("absent")) == run(getattr(Database, method)(db, "absent")), \
            method


@pytest.mark.parametrize("path", ["/sales/STAGES.json", "/sales/Users.json",
                                  "/sales/stages.json", "/sales/Activities"])
def test_an_operator_cannot_reach_other_tables_by_changing_the_case(web_env, path):
    """The permission check names the table as SQLite spells it (from the snapshot)."""
    response = run(web_env["ds"].client.get(path, headers=bearer(web_env["tokens"]["operator"])))
    assert response.status_code in (403, 404) and '"rows"' not in response.text


def test_the_permission_check_sees_the_name_as_sqlite_spells_it(web_env):
    db = web_env["ds"].get_database("sales")
    from salescli.web.database import NAME_LOOKUP_SQL as lookup  # Datasette's, answered here
    for asked in ("PROSPECTS", "Stages", "time_in_STAGE", "absent"):
        assert run(db.execute(lookup, (asked,))).rows == [tuple(r) for r in run(
            db.execute(lookup + " and 1", (asked,))).rows]


def test_catalog_questions_cost_no_round_trip_once_read(web_env, monkeypatch):
    """The point of the snapshot: a page's schema questions never queue for a SQL thread."""
    from salescli.web.database import NAME_LOOKUP_SQL

    db = web_env["ds"].get_database("sales")
    names = run(db.table_names()) + run(db.view_names())
    trips = []
    original = type(db).execute_fn

    async def counted(self, fn):
        trips.append(fn)
        return await original(self, fn)

    monkeypatch.setattr(type(db), "execute_fn", counted)
    for name in names:
        for method in ("table_columns", "table_column_details", "primary_keys", "fts_table",
                       "foreign_keys_for_table", "label_column_for_table"):
            run(getattr(db, method)(name))
        run(db.execute(NAME_LOOKUP_SQL, (name.upper(),)))
    run(db.hidden_table_names())
    run(db.get_all_foreign_keys())
    assert trips == []


def test_a_count_over_its_time_limit_is_left_out(tmp_path):
    import sqlite3

    from salescli.web.database import count_rows

    conn = sqlite3.connect(tmp_path / "c.db")  # a full-text table counts row by row
    conn.execute("CREATE VIRTUAL TABLE big USING fts5(x)")
    conn.executemany("INSERT INTO big VALUES (?)", ((f"w{i}",) for i in range(20_000)))
    conn.execute("CREATE TABLE small(x)")
    conn.commit()
    assert count_rows(conn, ["big", "small"], 10_000) == {"big": 20_000, "small": 0}
    assert count_rows(conn, ["big", "small"], 0) == {"big": None, "small": 0}
    assert count_rows(conn, ["small"], 10_000, frozenset({"small"})) == {"small": None}
    conn.close()


def test_a_name_outside_the_snapshot_gets_datasettes_own_answer(web_env):
    """A name the snapshot does not hold: the questions Datasette asks of it are answered
    by Datasette's own code, as they would be without the snapshot."""
    from datasette.database import Database

    db = web_env["ds"].get_database("sales")
    for method in ("table_columns", "table_column_details", "primary_keys"):
        assert run(getattr(db, method)("absent")) == \
            run(getattr(Database, method)(db, "absent")) == [], method


def test_a_label_column_named_in_the_metadata_is_the_one_used(fresh):
    """Metadata that names a table's label column (Datasette's ``label_column``) wins over
    the snapshot's guess, as in Datasette: links to that table show that column."""
    from datasette.database import Database

    from salescli.web import plugin, server
    from tests.web.conftest import SECRET

    metadata = server.load_metadata()
    tables = metadata.setdefault("databases", {}).setdefault("sales", {}).setdefault(
        "tables", {})
    tables.setdefault("prospects", {})["label_column"] = "company"
    ds = plugin.make_datasette(fresh["db_file"], metadata=metadata,
                               settings=dict(server.SETTINGS), secret=SECRET.encode())
    try:
        db = ds.get_database("sales")
        assert run(db.label_column_for_table("prospects")) == "company" == \
            run(Database.label_column_for_table(db, "prospects"))
    finally:
        ds._salescli_auth.close()
