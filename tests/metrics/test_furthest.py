"""prospect_furthest (migrations m010_funnel, m011_funnel_sparse): the furthest stage each
prospect reached, kept by triggers for the prospects whose furthest is not their current
stage, always equal to the figure aggregated from the whole stage history, whoever writes
and whatever happens to the stages; and the funnels the dashboard shows count the same."""

from __future__ import annotations

import collections
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from salescli.core import db, funnel_schema
from salescli.pipeline import erasure, importer, prospects, stages
from tests.metrics.conftest import ACTOR, NY, History, build
from tests.support.cli import database_before

ROOT = Path(__file__).resolve().parents[2]


def kept(conn: sqlite3.Connection) -> dict[int, int | None]:
    """Each prospect's furthest position as the funnel reads it (row, else current stage)."""
    return dict(conn.execute(funnel_schema.EFFECTIVE_SQL))


def redundant(conn: sqlite3.Connection) -> list[int]:
    """Prospects with a row that says no more than their current stage (or none at all)."""
    return [r[0] for r in conn.execute(
        "SELECT f.prospect_id FROM prospect_furthest f LEFT JOIN prospects p"
        " ON p.id = f.prospect_id LEFT JOIN stages g ON g.id = p.stage_id AND g.kind != 'lost'"
        " WHERE p.id IS NULL OR f.position IS g.position")]


def aggregated(conn: sqlite3.Connection) -> dict[int, int | None]:
    return dict(conn.execute(funnel_schema.AGGREGATED_SQL))


def assert_kept(conn: sqlite3.Connection) -> dict[int, int | None]:
    """Every prospect's figure is the aggregated one, and the table holds only the rows
    that say more than the current stage."""
    want = aggregated(conn)
    assert kept(conn) == want
    assert redundant(conn) == []
    return want


def add(conn, email, stage=None):
    return prospects.add(conn, ACTOR, email, stage=stage)["id"]


def move(conn, pid, stage):
    reason = "test" if stage in ("won", "lost") else None
    assert stages.move(conn, ACTOR, pid, stage, reason=reason)


def test_kept_through_moves_back_reopen_and_lost(conn):
    a, b, c = add(conn, "a@example.com"), add(conn, "b@example.com"), add(conn, "c@x.example")
    assert assert_kept(conn) == {a: 0, b: 0, c: 0}
    move(conn, a, "meeting")
    move(conn, a, "contacted")  # back: meeting stays reached
    move(conn, b, "lost")       # lost counts for nothing: lead (its creation) stays
    move(conn, c, "won")
    move(conn, c, "replied")    # reopened: won stays reached
    assert assert_kept(conn) == {a: 3, b: 0, c: 5}


def test_created_past_the_first_stage_then_moved_back(conn):
    p = add(conn, "p@example.com", stage="proposal")  # its creation is a history row
    assert assert_kept(conn) == {p: 4}
    move(conn, p, "lead")
    assert assert_kept(conn) == {p: 4}


def test_kept_through_merge_forget_archive_and_delete(conn):
    keep, other = add(conn, "keep@example.com"), add(conn, "other@example.com")
    gone, dropped = add(conn, "gone@example.com"), add(conn, "dropped@example.com")
    move(conn, other, "proposal")
    move(conn, gone, "meeting")
    prospects.merge(conn, ACTOR, keep, other)  # OTHER's history becomes KEEP's
    assert assert_kept(conn)[keep] == 4
    erasure.forget(conn, ACTOR, "gone@example.com")
    prospects.archive(conn, ACTOR, keep)
    prospects.delete(conn, ACTOR, dropped)
    assert assert_kept(conn) == {keep: 4}


def test_kept_when_stages_are_added_reordered_and_removed(conn):
    a, b = add(conn, "a@example.com"), add(conn, "b@example.com")
    move(conn, a, "replied")
    move(conn, a, "contacted")
    move(conn, b, "meeting")
    stages.reorder_stages(conn, ACTOR, ["lead", "replied", "meeting", "contacted"])
    assert assert_kept(conn) == {a: 3, b: 2}  # contacted is now after meeting
    stages.add_stage(conn, ACTOR, "qualified", position=1)  # shifts everything after lead
    assert assert_kept(conn) == {a: 4, b: 3}
    stages.remove_stage(conn, ACTOR, "meeting", move_to="contacted")  # b moves, renumbered
    assert_kept(conn)


def test_kept_through_an_import_with_history(conn):
    importer.import_data(conn, ACTOR, "email,stage,contacted_at,meeting_at\n"
                         "i1@example.com,contacted,2024-01-02,2024-01-05\n"
                         "i2@example.com,lost,2024-01-02,\n", "history.csv")
    figures = assert_kept(conn)
    assert sorted(figures.values(), key=str) == [1, 3]


def test_kept_through_a_big_import_that_suspends_the_triggers(conn):
    add(conn, "before@example.com")
    lines = ["email,stage,contacted_at,meeting_at,lost_at"] + [
        f"b{i}@example.com,{('lead', 'contacted', 'lost')[i % 3]},2024-01-02,"
        f"{'2024-01-05' if i % 2 else ''},{'2024-01-07' if i % 3 == 2 else ''}"
        for i in range(1200)]  # over the importer's bulk threshold (1000 rows)
    importer.import_data(conn, ACTOR, "\n".join(lines), "big.csv")
    figures = assert_kept(conn)
    assert len(figures) == 1201 and set(figures.values()) == {0, 1, 3}
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                        " AND name LIKE 'prospect_furthest%'").fetchone()[0] == 7


def test_kept_through_a_big_import_that_merges_later_rows_into_history(conn):
    """A later row of the same person folds into the history staged before it: its stage
    alone (moved back), a history of its own (lost only), or nothing."""
    lines = ["email,stage,contacted_at,meeting_at,lost_at"]
    lines += [f"a{i}@example.com,,2024-01-02,2024-01-05," for i in range(1200)]
    lines += [f"a{i}@example.com," + ("contacted,,,", ",,,2024-01-09", ",,,")[i % 3]
              for i in range(1200)]
    lines += ["c@example.com,proposal,2024-01-02,,", "d@example.com,,,,2024-01-03",
              "e@example.com,proposal,2024-01-02,,", "e@example.com,contacted,,,"]
    importer.import_data(conn, ACTOR, "\n".join(lines), "merge.csv", on_duplicate="update")
    figures = assert_kept(conn)
    assert len(figures) == 1203
    assert sorted(collections.Counter(figures.values()).items(), key=str) == [
        (3, 800), (4, 2), (None, 401)]
    assert conn.execute("SELECT count(*) FROM prospect_furthest").fetchone()[0] == 401


def test_kept_when_a_big_import_moves_people_already_there(conn):
    """Updates of prospects already there run while a big import has the funnel's insert
    triggers suspended: a move back still keeps how far they got."""
    back, on = add(conn, "back@example.com"), add(conn, "on@example.com")
    move(conn, back, "meeting")
    lines = ["email,stage"] + [f"n{i}@example.com,contacted" for i in range(1200)]
    lines += ["back@example.com,contacted", "on@example.com,proposal"]
    importer.import_data(conn, ACTOR, "\n".join(lines), "moves.csv", on_duplicate="update")
    figures = assert_kept(conn)
    assert (figures[back], figures[on]) == (3, 4)


def test_kept_through_a_big_import_without_history(conn):
    lines = ["email,stage"] + [f"p{i}@example.com,{('', 'contacted', 'lost')[i % 3]}"
                               for i in range(1200)]  # over the bulk threshold
    importer.import_data(conn, ACTOR, "\n".join(lines), "plain.csv")
    figures = assert_kept(conn)
    assert sorted(set(figures.values()), key=str) == [0, 1, None]


def test_a_plain_sql_writer_is_kept_too(conn):
    p = add(conn, "p@example.com")
    conn.execute("UPDATE prospects SET stage_id = (SELECT id FROM stages WHERE name = 'won')"
                 " WHERE id = ?", (p,))
    assert assert_kept(conn) == {p: 5}
    conn.execute("DELETE FROM stage_changes")
    conn.execute("UPDATE stages SET kind = 'lost' WHERE name = 'won'")
    assert assert_kept(conn) == {p: None}


def test_the_whole_metrics_history_is_kept(history):
    assert len(assert_kept(history.conn)) == len(history.ids) - 1  # e2 merged into e


def old_database(tmp_path, version: int, stop_before: str) -> sqlite3.Connection:
    """A database at an older schema version, with the default stages."""
    conn = database_before(tmp_path / "old.db", stop_before)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    conn.executemany("INSERT INTO stages(name, position, kind, created_at) VALUES (?, ?, ?, ?)",
                     [(n, i, k, "2024-01-01T00:00:00Z") for i, (n, k) in enumerate(
                         [("lead", "open"), ("contacted", "open"), ("replied", "open"),
                          ("meeting", "open"), ("proposal", "open"), ("won", "won"),
                          ("lost", "lost")])])
    conn.commit()
    return conn


def upgraded(tmp_path, conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.close()
    conn = db.open_write(tmp_path / "old.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    return conn


def test_m010_backfills_a_version_9_database(tmp_path, ny):
    conn = old_database(tmp_path, 9, "m010_funnel")
    # Build the metrics history at version 9 (no triggers yet), then upgrade.
    build(History(conn, datetime.now(NY).date()))
    before = aggregated(conn)
    conn = upgraded(tmp_path, conn)
    assert kept(conn) == before and len(before) == 5
    assert redundant(conn) == []
    conn.close()


def test_m011_keeps_only_the_rows_that_say_more_than_the_current_stage(tmp_path, ny):
    conn = old_database(tmp_path, 10, "m011_funnel_sparse")
    h = build(History(conn, datetime.now(NY).date()))  # version 10: a row per prospect
    assert conn.execute("SELECT count(*) FROM prospect_furthest").fetchone()[0] == 5
    before = aggregated(conn)
    conn = upgraded(tmp_path, conn)
    assert kept(conn) == before
    # b was lost from lead (its furthest: lead); a won and d, e, c are where they got to
    assert dict(conn.execute("SELECT prospect_id, position FROM prospect_furthest")) == {
        h.ids["b"]: 0}
    move(conn, h.ids["a"], "contacted")  # the triggers are m011's: a's row appears
    assert assert_kept(conn)[h.ids["a"]] == 5
    conn.close()


def test_m013_drops_the_second_history_index_and_the_funnel_is_still_kept(tmp_path, ny):
    conn = old_database(tmp_path, 12, "m013_one_history_index")
    h = build(History(conn, datetime.now(NY).date()))
    before = aggregated(conn)
    conn = upgraded(tmp_path, conn)
    indexes = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'stage_changes'")}
    assert "stage_changes_reached" not in indexes and "stage_changes_prospect" in indexes
    assert kept(conn) == before
    move(conn, h.ids["a"], "contacted")  # moved back from won: its furthest is kept
    assert assert_kept(conn)[h.ids["a"]] == 5
    conn.close()


FUNNELS = {  # the funnels managers see: the canned query and the dashboard chart
    "pipeline_funnel": lambda y: y["databases"]["sales"]["queries"]["pipeline_funnel"]["sql"],
    "dashboard": lambda y: y["plugins"]["datasette-dashboards"]["pipeline"]["charts"][
        "funnel"]["query"],
}


@pytest.mark.parametrize("name", FUNNELS)
def test_the_dashboard_funnels_count_every_prospect_at_its_furthest_stage(conn, name):
    sql = FUNNELS[name](yaml.safe_load((ROOT / "reports" / "datasette.yml").read_text()))
    people = {e: add(conn, e) for e in ("back@x.example", "lost@x.example", "won@x.example",
                                         "new@x.example", "ben@x.example", "gone@x.example")}
    for email, path in {"back@x.example": ["meeting", "contacted"],
                        "lost@x.example": ["replied", "lost"],
                        "won@x.example": ["proposal", "won"],
                        "ben@x.example": ["contacted"],
                        "gone@x.example": ["proposal"]}.items():
        for stage in path:
            move(conn, people[email], stage)
    prospects.update(conn, ACTOR, people["ben@x.example"], {"owner": "ben"})
    prospects.archive(conn, ACTOR, people["gone@x.example"])
    conn.execute("UPDATE prospects SET created_at = '2020-01-01T00:00:00Z' WHERE email = ?",
                 ("won@x.example",))

    def funnel(**args):
        rows = conn.execute(sql, {"owner": "", "since": "", "until": "", **args}).fetchall()
        return {r["stage"]: r["prospects"] for r in rows}

    def want(emails):
        reached = [aggregated(conn)[people[e]] for e in emails]
        return {s: sum(1 for r in reached if r is not None and r >= i) for i, s in enumerate(
            ["lead", "contacted", "replied", "meeting", "proposal", "won"])}

    live = [e for e in people if e != "gone@x.example"]
    assert funnel() == want(live) == {"lead": 5, "contacted": 4, "replied": 3, "meeting": 2,
                                      "proposal": 1, "won": 1}
    assert funnel(owner="ben") == want(["ben@x.example"])
    assert funnel(since="2021-01-01") == want([e for e in live if e != "won@x.example"])
    assert funnel(until="2020-12-31") == want(["won@x.example"])
