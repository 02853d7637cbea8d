"""`./dev mutants` counts a mutant that only changes the letter case of SQL as equivalent.

mutmut mutates each string literal to lower and to upper case. SQLite ignores the case of
keywords and names, so most such mutants of a query cannot be killed; scripts/mutants.py
reports them apart ("equivalent (SQL case)") instead of as survivors. These tests hold it to
the strict rule: whatever SQLite keeps (a quoted value, a GLOB pattern, a result column's
name, a bound parameter's name, a stored schema) must not be taken for equivalent, and each
"must not" case below is checked against SQLite itself where it can be.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    """A module of scripts/mutation/, the package behind scripts/mutants.py."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    return importlib.import_module(f"mutation.{name}")


config, report, run, selection, sqlcase = (
    _load(n) for n in ("config", "report", "run", "selection", "sqlcase"))

EQUIVALENT = [
    ("SELECT id FROM prospects", "select id from prospects"),
    ("SELECT id FROM prospects", "SELECT ID FROM PROSPECTS"),
    ("SELECT 1 FROM e WHERE state = 'active'", "select 1 from e where state = 'active'"),
    ("SELECT count(*) AS n FROM sends", "select count(*) as n from sends"),
    ("SELECT p.*, s.name AS stage FROM p JOIN s ON s.id = p.s",
     "select p.*, s.name as stage from p join s on s.id = p.s"),
    (" WHERE e.token = ?", " where e.token = ?"),
    (" WHERE e.token = ?", " WHERE E.TOKEN = ?"),
    ("SELECT x FROM t WHERE a GLOB ?", "select x from t where a glob ?"),
    ("SELECT [Stage] FROM t", "SELECT [STAGE] FROM T"),
    ("SELECT CAST(x AS INTEGER) AS n FROM t", "select cast(x as integer) as n from t"),
    ("WITH c AS (SELECT x FROM t) SELECT * FROM c", "with c as (select x from t) select * from c"),
    ("SELECT x FROM t WHERE id IN ({})", "SELECT X FROM T WHERE ID IN ({})"),
    ("INSERT OR IGNORE INTO t(a, b) VALUES (?, ?)", "insert or ignore into t(a, b) values (?, ?)"),
    ("UPDATE t SET a = ? WHERE id = ? AND a = 'won'",
     "update t set a = ? where id = ? and a = 'won'"),
    ("DELETE FROM t WHERE a LIKE ? ESCAPE '\\'", "delete from t where a like ? escape '\\'"),
    # whole PRAGMA and transaction statements (seen surviving in ops: backup, maintenance)
    ("PRAGMA page_size", "pragma page_size"),
    ("PRAGMA page_size", "PRAGMA PAGE_SIZE"),
    ("PRAGMA journal_mode = WAL", "pragma journal_mode = wal"),
    ("PRAGMA main.user_version", "pragma main.user_version"),
    ("PRAGMA table_info(prospects)", "PRAGMA TABLE_INFO(PROSPECTS)"),
    ("ROLLBACK", "rollback"),
    ("BEGIN IMMEDIATE", "begin immediate"),
    # keywords alone that join other pieces (FRAGMENTS runs them in a query)
    (" WHERE ", " where "),
    (" AND ", " and "),
    (" ORDER BY ", " Order By "),
]
FRAGMENTS = {" WHERE ": "SELECT id FROM t{}id = 1", " AND ": "SELECT id FROM t WHERE id = 1{}x = 1",
             " ORDER BY ": "SELECT id FROM t{}id"}

NOT_EQUIVALENT = [
    # a value in quotes is compared by case
    ("SELECT id FROM t WHERE stage = 'won'", "SELECT ID FROM T WHERE STAGE = 'WON'"),
    # a GLOB pattern is case-sensitive
    ("SELECT id FROM t WHERE stage GLOB 'w*'", "select id from t where stage glob 'W*'"),
    ("SELECT id FROM t WHERE stage GLOB lower(?)", "SELECT ID FROM T WHERE STAGE GLOB LOWER(?)"),
    # "won" is a string when no column is named so (SQLite's double-quoted string literals)
    ('SELECT id FROM t WHERE stage = "won"', 'SELECT ID FROM T WHERE STAGE = "WON"'),
    # the result column is named after the expression's text, or its alias
    ("SELECT count(*) FROM t", "SELECT COUNT(*) FROM T"),
    ("SELECT count(*) AS n FROM t", "SELECT COUNT(*) AS N FROM T"),
    ("SELECT NULL FROM t", "select null from t"),
    ("UPDATE t SET a = ? RETURNING max(a)", "UPDATE T SET A = ? RETURNING MAX(A)"),
    ("WITH c(n) AS (SELECT 1) SELECT * FROM c", "WITH C(N) AS (SELECT 1) SELECT * FROM C"),
    # a named parameter is bound by its exact name
    (" WHERE e.token = :tok", " WHERE E.TOKEN = :TOK"),
    # str.format fields and % directives are Python's, not SQL's
    ("SELECT x FROM t WHERE {col} = ?", "SELECT X FROM T WHERE {COL} = ?"),
    ("SELECT x FROM t WHERE a = %s", "SELECT X FROM T WHERE A = %S"),
    # sqlite_master keeps a schema's text; declared names surface in SELECT *
    ("CREATE TABLE t (a TEXT)", "create table t (a text)"),
    ("ALTER TABLE t ADD COLUMN Stage TEXT", "alter table t add column Stage text"),
    # a quote left open: the rest of the literal is in another piece
    ("SELECT x FROM t WHERE a = '", "select x from t where a = '"),
    ("' AND b = 1", "' and b = 1"),
    # prose, not SQL
    ("Mail from Bob", "mail from bob"),
    ("FROM", "from"),
    (" and ", " AND "),
    (" AND ", " AND more than "),
    ("Delete the prospect", "delete the prospect"),
    ("Commit", "commit"),
    ("COMMIT the changes", "commit the changes"),
    # a quoted name or value in a PRAGMA stays as it is
    ("PRAGMA table_info('Stage')", "pragma table_info('stage')"),
    ("MAIL FROM:<a@example.com>", "mail from:<a@example.com>"),
    # more than case changed
    ("SELECT id FROM t", "SELECT id FROM u"),
    ("SELECT id FROM t", "XXSELECT id FROM tXX"),
]


@pytest.mark.parametrize(("old", "new"), EQUIVALENT)
def test_a_change_of_case_sqlite_ignores_is_equivalent(old, new):
    assert sqlcase.sql_case_equivalent(old, new)


@pytest.mark.parametrize(("old", "new"), NOT_EQUIVALENT)
def test_a_change_sqlite_or_python_can_see_is_not_equivalent(old, new):
    assert not sqlcase.sql_case_equivalent(old, new)


def _answer(db: sqlite3.Connection, sql: str):
    cur = db.execute(sql)
    return [d[0] for d in cur.description or ()], cur.fetchall()


@pytest.mark.parametrize(("old", "new"), [
    ("SELECT id FROM t WHERE stage = 'won'", "SELECT ID FROM T WHERE STAGE = 'WON'"),
    ("SELECT id FROM t WHERE stage GLOB 'w*'", "select id from t where stage glob 'W*'"),
    ('SELECT id FROM t WHERE stage = "won"', 'SELECT ID FROM T WHERE STAGE = "WON"'),
    ("SELECT count(*) FROM t", "SELECT COUNT(*) FROM T"),
    ("SELECT count(*) AS n FROM t", "SELECT COUNT(*) AS N FROM T"),
    ("SELECT NULL FROM t", "select null from t"),
])
def test_sqlite_itself_tells_the_refused_cases_apart(old, new):
    """The "must not" cases are real: SQLite answers differently (rows or column names)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, stage TEXT)")
    db.execute("INSERT INTO t (stage) VALUES ('won')")
    assert _answer(db, old) != _answer(db, new)
    assert not sqlcase.sql_case_equivalent(old, new)


@pytest.mark.parametrize(("old", "new"), [pair for pair in EQUIVALENT if "{" not in pair[0]
                                          and "?" not in pair[0] and "CAST" not in pair[0]
                                          and "JOIN" not in pair[0]
                                          and pair[0] not in ("ROLLBACK", "BEGIN IMMEDIATE")
                                          and pair[0] not in FRAGMENTS])
def test_sqlite_answers_the_equivalent_cases_alike(old, new):
    db = sqlite3.connect(":memory:")
    for name in ("prospects", "sends", "t"):
        db.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, x, a, b, stage TEXT)")
        db.execute(f"INSERT INTO {name} (x, a, stage) VALUES (1, 'won', 'won')")
    db.execute("CREATE TABLE e (state TEXT, token TEXT)")
    db.execute("INSERT INTO e VALUES ('active', 'k')")
    assert _answer(db, old) == _answer(db, new)


@pytest.mark.parametrize("statement", ["ROLLBACK", "BEGIN IMMEDIATE"])
def test_sqlite_runs_a_transaction_statement_in_either_case(statement):
    for text in (statement, statement.lower()):
        db = sqlite3.connect(":memory:", isolation_level=None)
        if statement == "ROLLBACK":
            db.execute("BEGIN")
        db.execute(text)
        assert db.in_transaction is (statement != "ROLLBACK")


def test_only_sql_literals_of_a_function_are_compared():
    old = ('def f(db):\n    return db.execute("SELECT id FROM t WHERE a = ?"'
           ' " AND b = \'won\'", [1]).fetchall()\n')
    assert sqlcase.sql_case_mutant(old, old.replace("SELECT id FROM t", "select id from t"))
    assert sqlcase.sql_case_mutant(old, old.replace(" AND b", " and b"))
    assert not sqlcase.sql_case_mutant(old, old.replace("'won'", "'WON'"))
    assert not sqlcase.sql_case_mutant(old, old.replace("[1]", "[2]"))
    assert not sqlcase.sql_case_mutant(old, old.replace("fetchall", "fetchone"))
    assert not sqlcase.sql_case_mutant(old, old)
    # an f-string's {expression} is opaque: its alias after AS still must not change
    fstr = 'def g(db, n):\n    return db.execute(f"SELECT {n} AS aid FROM t" " WHERE a = 1")\n'
    assert sqlcase.sql_case_mutant(fstr, fstr.replace(" WHERE a", " where a"))
    assert not sqlcase.sql_case_mutant(fstr, fstr.replace("AS aid FROM t", "AS AID FROM T"))


def test_mutmuts_own_mutants_of_a_query_are_classified(tmp_path, monkeypatch):
    """The real generator's output: of the four string mutants, only lower case is equivalent."""
    pytest.importorskip("mutmut")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "pkg/deals.py").write_text(
        "def won(db):\n"
        "    return db.execute(\"SELECT id FROM deals WHERE stage = 'won'\").fetchall()\n")
    (tmp_path / "setup.cfg").write_text("[mutmut]\nsource_paths = pkg\n")
    monkeypatch.chdir(tmp_path)                       # generate() moves to WORK; undone here
    monkeypatch.setattr(config, "WORK", tmp_path)
    monkeypatch.setattr(config, "MUTANTS", tmp_path / "mutants")
    run.generate(["pkg/deals.py"], 1)
    found = {m.change.partition(" → ")[2]: m.sql_case
             for m in selection.list_mutants(["pkg/deals.py"])}
    assert found == {
        "return db.execute(None).fetchall()": False,
        "return db.execute(\"XXSELECT id FROM deals WHERE stage = 'won'XX\").fetchall()": False,
        "return db.execute(\"select id from deals where stage = 'won'\").fetchall()": True,
        "return db.execute(\"SELECT ID FROM DEALS WHERE STAGE = 'WON'\").fetchall()": False,
    }


def _mutant(n: int, status: str, sql_case: bool = False):
    return selection.Mutant(f"salescli.x.mod.x_f__mutmut_{n}", "salescli/x/mod.py", n, n,
                          f"change {n}", status=status, sql_case=sql_case)


def test_report_leaves_sql_case_survivors_out_of_the_score(capsys):
    ms = [_mutant(1, "killed"), _mutant(2, "killed"), _mutant(3, "survived"),
          _mutant(4, "survived", sql_case=True), _mutant(5, "survived", sql_case=True),
          _mutant(6, "killed", sql_case=True)]
    report.report(ms, {}, crashed=False, fail_under=None)
    out = capsys.readouterr().out
    assert "salescli/x" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("salescli/x"))
    assert "3 / 4" in line and "75.0%" in line and "2 equivalent (SQL case)" in line
    assert "salescli/x/mod.py:3 — change 3" in out          # a real survivor is listed
    assert "mod.py:4 — change 4" not in out                 # equivalents only with --verbose
    assert "equivalent (SQL case): 2" in out
    assert "salescli/x/mod.py:6 — change 6   [killed]" in out   # told apart: check the rule

    report.report(ms, {}, crashed=False, fail_under=None, verbose=True)
    out = capsys.readouterr().out
    assert "salescli/x/mod.py:4 — change 4" in out and "salescli/x/mod.py:5 — change 5" in out


def test_equivalents_do_not_lower_a_package_under_fail_under(capsys):
    ms = [_mutant(1, "killed"), _mutant(2, "survived", sql_case=True)]
    assert report.report(ms, {}, crashed=False, fail_under=100.0) is False
    assert report.report([*ms, _mutant(3, "survived")], {}, crashed=False,
                          fail_under=100.0) is True


@pytest.mark.parametrize(("old", "new"), [pair for pair in EQUIVALENT if pair[0] in FRAGMENTS])
def test_sqlite_answers_alike_with_a_joining_piece_in_either_case(old, new):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x)")
    db.executemany("INSERT INTO t (id, x) VALUES (?, ?)", [(2, 1), (1, 1), (3, 0)])
    query = FRAGMENTS[old]
    assert db.execute(query.format(old)).fetchall() == db.execute(query.format(new)).fetchall()
