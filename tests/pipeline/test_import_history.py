"""History in: created_at, <stage>_at, lost_reason and --date-format become ordinary
stage_changes rows that metrics read like live history; and the import bugs of issue 17."""

from __future__ import annotations

import json
from datetime import date

import pytest

from salescli.core import db
from salescli.metrics import live
from tests.support.cli import db_state, fails, ok, query, scalar
from tests.support.cli import write_file as write


def history(db_file, email: str) -> list[tuple]:
    return [tuple(r.values()) for r in query(
        db_file, "SELECT f.name AS f, t.name AS t, c.at, c.actor, c.owner, c.value, c.note,"
                 " c.reason FROM stage_changes c JOIN prospects p ON p.id = c.prospect_id"
                 " LEFT JOIN stages f ON f.id = c.from_stage_id"
                 " JOIN stages t ON t.id = c.to_stage_id WHERE p.email = ? ORDER BY c.id",
        (email,))]


def prospect(db_file, email: str) -> dict:
    return query(db_file, "SELECT p.*, s.name AS stage FROM prospects p JOIN stages s"
                          " ON s.id = p.stage_id WHERE email = ?", (email,))[0]


HIST = ("email,owner,value,created_at,contacted_at,proposal_at,won_at,lost_at,lost_reason\n"
        "a@example.com,maria,100,2025-01-01,2025-01-11,,2025-01-21,,\n"
        "b@example.com,dev,,2025-01-01T09:30:00,2025-01-05,,,2025-01-25,price\n"
        "c@example.com,,,2025-01-02,,,,,\n"
        "d@example.com,,,,2025-01-03,2025-01-03,,,\n")


def test_history_columns_become_stage_changes(invoke, sales, tmp_path):
    out = ok(invoke("prospects", "import", write(tmp_path, "h.csv", HIST)))
    assert out == "h.csv: 4 rows, 4 inserted, 0 updated\n"
    T = "T00:00:00Z"
    assert history(sales, "a@example.com") == [
        (None, "lead", "2025-01-01" + T, "tester", "maria", 100.0, "created", None),
        ("lead", "contacted", "2025-01-11" + T, "tester", "maria", 100.0, "import", None),
        ("contacted", "won", "2025-01-21" + T, "tester", "maria", 100.0, "import", None)]
    assert history(sales, "b@example.com") == [
        (None, "lead", "2025-01-01T09:30:00Z", "tester", "dev", None, "created", None),
        ("lead", "contacted", "2025-01-05" + T, "tester", "dev", None, "import", None),
        ("contacted", "lost", "2025-01-25" + T, "tester", "dev", None, "import", "price")]
    # only created_at: created in the first stage then; no stage date equal to created_at
    assert history(sales, "c@example.com") == [
        (None, "lead", "2025-01-02" + T, "tester", None, None, "created", None)]
    # no created_at: created on the first date, in that stage; same-day stages in order
    assert history(sales, "d@example.com") == [
        (None, "contacted", "2025-01-03" + T, "tester", None, None, "created", None),
        ("contacted", "proposal", "2025-01-03" + T, "tester", None, None, "import", None)]
    a, b, d = (prospect(sales, e) for e in ("a@example.com", "b@example.com", "d@example.com"))
    assert (a["stage"], a["created_at"], a["stage_entered_at"]) == \
        ("won", "2025-01-01" + T, "2025-01-21" + T)
    assert (b["stage"], b["stage_entered_at"]) == ("lost", "2025-01-25" + T)
    assert (d["stage"], d["created_at"], d["stage_entered_at"]) == \
        ("proposal", "2025-01-03" + T, "2025-01-03" + T)
    assert a["updated_at"] > "2026"  # written now


def test_imported_history_counts_in_metrics_like_live_history(sales, tmp_path):
    conn = db.open_write(sales)
    try:
        from salescli.pipeline import importer
        importer.import_data(conn, "lib", HIST, "h.csv")
        s = live.summary(conn, days=31, today=date(2025, 1, 31))
    finally:
        conn.close()
    k = s["kpis"]
    assert (k["new_prospects"], k["won"], k["lost"], k["won_value"]) == (4, 1, 1, 100.0)
    assert k["median_cycle_days"] == 20.0  # a: created Jan 1, won Jan 21
    funnel = {row["stage"]: row for row in s["funnel"]}
    assert funnel["contacted"]["exited"] == 3  # a, b and d left it
    assert funnel["contacted"]["median_days"] == 10.0  # stays of 10, 20 and 0 days
    assert funnel["lead"]["median_days"] == pytest.approx((10 + 3 + 14.5 / 24) / 2, abs=0.01)


def test_date_format_reads_short_dates(invoke, sales, tmp_path):
    text = "email,created_at,won_at\na@example.com,25-10-16,25-10-20\n"
    path = write(tmp_path, "s.csv", text)
    before = db_state(sales)
    result = invoke("prospects", "import", path)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "row 2: created_at '25-10-16' is not a date (use YYYY-MM-DD or ISO 8601, or"
        " --date-format)")
    assert db_state(sales) == before
    ok(invoke("prospects", "import", path, "--date-format", "%y-%m-%d"))
    a = prospect(sales, "a@example.com")
    assert (a["created_at"], a["stage"], a["stage_entered_at"]) == \
        ("2025-10-16T00:00:00Z", "won", "2025-10-20T00:00:00Z")


def test_date_format_with_time_and_offset_is_stored_in_utc(invoke, sales, tmp_path):
    text = "email,created_at\na@example.com,16/10/2025 14:05 +0200\n"
    ok(invoke("prospects", "import", write(tmp_path, "t.csv", text),
              "--date-format", "%d/%m/%Y %H:%M %z"))
    assert prospect(sales, "a@example.com")["created_at"] == "2025-10-16T12:05:00Z"


def test_date_format_without_a_code_is_a_usage_error(invoke, sales, tmp_path):
    path = write(tmp_path, "t.csv", "email\na@example.com\n")
    fails(invoke("prospects", "import", path, "--date-format", "YYYY-MM-DD"), "--date-format",
          code=2)


BAD = ("email,created_at,contacted_at,proposal_at,won_at,lost_at,lost_reason,stage\n"
       "ok@example.com,2025-01-01,2025-01-02,,,,,\n"
       "early@example.com,2025-02-01,,,2025-01-15,,,\n"
       "order@example.com,2025-01-01,2025-03-01,2025-02-01,,,,\n"
       "both@example.com,2025-01-01,,,2025-02-01,2025-02-02,x,\n"
       "future@example.com,2025-01-01,2999-01-01,,,,,\n"
       "reason@example.com,2025-01-01,2025-01-02,,,,too pricey,\n"
       "date@example.com,yesterday,,,,,,\n"
       "old@example.com,1899-12-31,,,,,,\n")


def test_contradicting_dates_are_errors_naming_the_row(invoke, sales, tmp_path):
    before = db_state(sales)
    result = invoke("prospects", "import", write(tmp_path, "bad.csv", BAD))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [
        "row 3: won_at '2025-01-15T00:00:00Z' is before created_at '2025-02-01T00:00:00Z'",
        "row 4: proposal_at '2025-02-01T00:00:00Z' is before contacted_at"
        " '2025-03-01T00:00:00Z' (a later stage cannot be entered earlier)",
        "row 5: lost_at '2025-02-02T00:00:00Z' and won_at: a prospect is closed once",
        "row 6: contacted_at '2999-01-01' is in the future",
        "row 7: lost_reason 'too pricey' needs a lost stage (a lost_at date or a lost stage)",
        "row 8: created_at 'yesterday' is not a date (use YYYY-MM-DD or ISO 8601, or"
        " --date-format)",
        "row 9: created_at '1899-12-31' is before 1900",
        "Error: 7 of 8 rows in bad.csv rejected; nothing imported (fix them, or use"
        " --skip-invalid to import the other 1)"]
    assert db_state(sales) == before


def test_stage_column_says_where_the_prospect_is_now(invoke, sales, tmp_path):
    text = ("email,created_at,contacted_at,won_at,stage,lost_reason\n"
            "re@example.com,2025-01-01,2025-01-02,2025-01-03,contacted,\n"
            "l@example.com,2025-01-01,,,lost,gone quiet\n"
            "same@example.com,2025-01-01,2025-01-02,,contacted,\n")
    result = invoke("prospects", "import", write(tmp_path, "s.csv", text))
    ok(result)
    re_ = history(sales, "re@example.com")
    assert [(f, t, note) for f, t, _, _, _, _, note, _ in re_] == [
        (None, "lead", "created"), ("lead", "contacted", "import"),
        ("contacted", "won", "import"), ("won", "contacted", "import")]
    now = prospect(sales, "re@example.com")
    assert now["stage"] == "contacted" and now["stage_entered_at"] == re_[-1][2] > "2026"
    assert [(f, t, reason) for f, t, _, _, _, _, _, reason in history(sales, "l@example.com")] \
        == [(None, "lost", "gone quiet")]  # no stage dates: created in that stage
    assert len(history(sales, "same@example.com")) == 2  # no move to where it already is


def test_custom_stages_and_json_history(invoke, sales, tmp_path):
    ok(invoke("stages", "add", "demo"))
    rows = [{"email": "j@example.com", "created_at": "2025-01-01", "Demo_At": "2025-01-04",
             "lost_at": "2025-01-09", "lost_reason": "no budget"}]
    ok(invoke("prospects", "import", write(tmp_path, "h.json", json.dumps(rows))))
    assert [(f, t, r) for f, t, _, _, _, _, _, r in history(sales, "j@example.com")] == [
        (None, "lead", None), ("lead", "demo", None), ("demo", "lost", "no budget")]
    bad = [{"email": "k@example.com", "created_at": 20250101}]
    lines = invoke("prospects", "import", write(tmp_path, "b.json", json.dumps(bad))).stderr
    assert lines.startswith("row 1: created_at 20250101 must be a date written as text")


def test_history_of_a_prospect_already_there_is_left_alone(invoke, three, tmp_path):
    """Past dates are not written into a recorded history; the stage they end in is
    where the prospect is now, a move like a stage column's."""
    before = history(three, "ada@example.com")
    text = "email,company,created_at,won_at\nada@example.com,New Co,2020-01-01,2020-02-01\n"
    out = ok(invoke("prospects", "import", write(tmp_path, "u.csv", text),
                    "--on-duplicate", "update"))
    assert out == "u.csv: 1 rows, 0 inserted, 1 updated\n"
    after = history(three, "ada@example.com")
    assert after[:-1] == before and after[-1][:2] == ("lead", "won") and after[-1][2] > "2026"
    ada = prospect(three, "ada@example.com")
    assert (ada["company"], ada["stage"]) == ("New Co", "won")
    assert ada["created_at"] > "2026"


# ------------------------------------------------------------------ issue 17


def test_update_with_the_same_stage_keeps_the_time_in_stage(invoke, three, tmp_path):
    """--on-duplicate update of a row naming the stage the prospect is in already: the
    other fields change, but it did not move, so its time in stage goes on."""
    ok(invoke("prospects", "move", "ada@example.com", "meeting"))
    conn = db.open_write(three)
    conn.execute("UPDATE prospects SET stage_entered_at = '2024-03-01T00:00:00Z'"
                 " WHERE email = 'ada@example.com'")
    conn.close()
    moves = scalar(three, "SELECT count(*) FROM stage_changes")
    text = "email,stage,company\nada@example.com,Meeting,Other Co\n"
    out = ok(invoke("prospects", "import", write(tmp_path, "u.csv", text),
                    "--on-duplicate", "update"))
    assert out == "u.csv: 1 rows, 0 inserted, 1 updated\n"
    ada = prospect(three, "ada@example.com")
    assert (ada["company"], ada["stage"], ada["stage_entered_at"]) == \
        ("Other Co", "meeting", "2024-03-01T00:00:00Z")
    assert scalar(three, "SELECT count(*) FROM stage_changes") == moves
    # a real move does restart it
    ok(invoke("prospects", "import", write(tmp_path, "v.csv", text.replace("Meeting", "won")),
              "--on-duplicate", "update"))
    ada = prospect(three, "ada@example.com")
    assert ada["stage"] == "won" and ada["stage_entered_at"] > "2026"
    assert scalar(three, "SELECT count(*) FROM stage_changes") == moves + 1


@pytest.mark.parametrize("name, text", [
    ("n.json", '[{"email": "a@example.com"}, {"email": null, "name": "Nobody"}]'),
    ("n.jsonl", '{"email": "a@example.com"}\n{"email": null, "name": "Nobody"}\n'),
])
@pytest.mark.parametrize("options", [[], ["--on-duplicate", "update"], ["--on-duplicate", "skip"],
                                     ["--dry-run"]])
def test_json_email_null_is_a_rejected_row(invoke, three, tmp_path, name, text, options):
    before = db_state(three)
    result = invoke("prospects", "import", write(tmp_path, name, text), *options)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.splitlines()[0] == "row 2: email '' is required"
    assert db_state(three) == before
    out = ok(invoke("prospects", "import", write(tmp_path, name, text), "--skip-invalid",
                    *options))
    assert out.endswith("1 rejected\n")


def test_a_dry_run_update_never_takes_the_write_lock(invoke, three, tmp_path):
    """Another process holds the write lock: a dry run still checks and counts."""
    import sqlite3

    holder = sqlite3.connect(three, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        text = "email,stage,company\nada@example.com,won,X\nnew@example.com,,Y\n"
        out = ok(invoke("prospects", "import", write(tmp_path, "d.csv", text),
                        "--on-duplicate", "update", "--dry-run",
                        env={"SALESCLI_BUSY_TIMEOUT_MS": "200"}))
        assert out == "dry run, nothing written: d.csv: 2 rows, 1 to insert, 1 to update\n"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_lost_reasons_are_kept_exactly_in_every_batch(invoke, sales, tmp_path, monkeypatch):
    """Each lost reason goes to its own row's change into lost, whatever its characters
    and however often it recurs, in every batch of the file."""
    from salescli.pipeline import import_read

    monkeypatch.setattr(import_read, "_FIRST", 2)
    monkeypatch.setattr(import_read, "_BATCH", 3)
    reasons = ['zu "teuer"', "Budget – nächstes Jahr", 'zu "teuer"', "", "a\\b", "price",
               "Budget – nächstes Jahr", "price"]
    text = "email,created_at,lost_at,won_at,lost_reason\n" + "".join(
        f'r{i}@example.com,2025-01-01,{"" if r == "" else "2025-02-01"},'
        f'{"2025-02-01" if r == "" else ""},"{r.replace(chr(34), chr(34) * 2)}"\n'
        for i, r in enumerate(reasons))
    ok(invoke("prospects", "import", write(tmp_path, "r.csv", text)))
    for i, r in enumerate(reasons):
        changes = history(sales, f"r{i}@example.com")
        assert [(t, reason) for _, t, _, _, _, _, _, reason in changes] == \
            [("lead", None), ("won", None) if r == "" else ("lost", r)]
