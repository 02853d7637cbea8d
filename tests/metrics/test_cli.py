"""``salescli rollup`` and ``salescli metrics`` end to end: job bookkeeping, the lock,
output formats, one-line errors, and a rollup interrupted half-way."""

from __future__ import annotations

import csv
import io
import json

import pytest

from salescli.core import db
from salescli.metrics import rollup
from salescli.ops import runner
from tests.metrics.conftest import table


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def error_line(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    line = next(x for x in lines if x.startswith("Error: "))
    if code == 1:
        assert len(lines) == 1 and result.stdout == "", result.output
    return line


def runs(conn) -> list[dict]:
    return runner.history(conn, "rollup")


def test_rollup_records_a_job_run_and_fills_the_tables(history, invoke):
    ok(invoke("rollup"))
    run = runs(history.conn)[0]
    assert run["status"] == "ok" and run["error"] is None
    assert run["counts"]["mode"] == "full" and run["counts"]["from"] == history.day(10)
    assert run["counts"]["pipeline_rows"] == len(table(history.conn, "metrics_pipeline")) > 0
    ok(invoke("rollup", "--since", history.day(3)))
    run = runs(history.conn)[0]
    assert (run["counts"]["mode"], run["counts"]["days"]) == ("backfill", 4)
    assert rollup.rollup_status(history.conn)["first_day"] == history.day(10)


def test_a_second_rollup_while_one_runs_exits_0_and_does_nothing(history, invoke, db_file):
    with runner.job_lock(db_file, "rollup"):
        result = invoke("rollup")
    assert result.exit_code == 0 and result.stdout == ""
    assert "rollup is already running" in result.stderr
    assert runs(history.conn) == [] and rollup.rollup_status(history.conn) is None


def test_an_interrupted_rollup_leaves_the_previous_rows(history):
    rollup.rollup(history.conn, today=history.today)
    before = table(history.conn, "metrics_pipeline"), rollup.rollup_status(history.conn)
    history.move("c", "replied", 1, "09:00")

    def stop(step: int) -> None:
        if step == 4:  # half-way: old rows deleted, only some new ones written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rollup.rollup(history.conn, today=history.today, progress=stop)
    assert (table(history.conn, "metrics_pipeline"),
            rollup.rollup_status(history.conn)) == before
    assert rollup.rollup(history.conn, today=history.today)["from"] == history.day(1)


@pytest.mark.parametrize("args, message", [
    (["--since", "last tuesday"], "Error: --since 'last tuesday' is not a date (use YYYY-MM-DD)"),
    (["--since", "2999-01-01"], "Error: --since '2999-01-01' is after today"),
])
def test_rollup_bad_input_is_one_line_and_writes_nothing(conn, invoke, args, message):
    assert error_line(invoke("rollup", *args)).startswith(message)
    assert runs(conn) == [] and rollup.rollup_status(conn) is None


def test_unknown_time_zone_is_one_line(conn, invoke, monkeypatch):
    monkeypatch.setenv("SALESCLI_TZ", "Atlantis/Central")
    assert error_line(invoke("rollup")) == ("Error: SALESCLI_TZ 'Atlantis/Central' is not a known"
                                            " time zone (e.g. UTC, Europe/Berlin)")
    assert error_line(invoke("metrics")).startswith("Error: SALESCLI_TZ 'Atlantis/Central'")


def test_metrics_table(history, invoke):
    out = ok(invoke("metrics", "--days", "11"))
    assert out.startswith(f"Pipeline {history.day(10)} to {history.day(0)} (11 days, "
                          "America/New_York), all owners\n")
    lines = out.splitlines()
    lead = next(x for x in lines if x.startswith("lead "))
    assert lead.split() == ["lead", "open", "0", "0.00", "5", "5", "4", "1", "80.0%", "2.0"]
    assert any(x.startswith("win rate") and x.endswith(" 50.0%") for x in lines)
    assert any(x.startswith("won value") and x.endswith("1,000.00 USD") for x in lines)


def test_metrics_json_csv_and_nl(history, invoke):
    data = json.loads(ok(invoke("metrics", "--days", "11", "--owner", "ben",
                                "--format", "json")))
    assert [r["stage"] for r in data["funnel"]][:2] == ["lead", "contacted"]
    assert data["kpis"]["owner"] == "ben" and data["kpis"]["emails_sent"] == 2
    rows = list(csv.DictReader(io.StringIO(ok(invoke("metrics", "--days", "11",
                                                     "--format", "csv")))))
    assert {"section": "funnel", "stage": "lead", "metric": "entered", "value": "5"} in rows
    assert {"section": "kpis", "stage": "", "metric": "win_rate", "value": "0.5"} in rows
    lines = [json.loads(x) for x in ok(invoke("metrics", "--format", "nl")).splitlines()]
    assert [x["section"] for x in lines] == ["funnel"] * 7 + ["kpis"]


@pytest.mark.parametrize("args, message, code", [
    (["--owner", "zed"], "Error: --owner 'zed' owns no prospects and has no history", 1),
    (["--days", "0"], "Error: Invalid value for '--days'", 2),
    (["--format", "xml"], "Error: Invalid value for '--format'", 2),
])
def test_metrics_bad_input(history, invoke, args, message, code):
    assert error_line(invoke("metrics", *args), code).startswith(message)


def test_metrics_without_a_database_says_how_to_make_one(invoke, db_file):
    line = error_line(invoke("metrics"))
    assert "does not exist; run: salescli init" in line and not db_file.exists()


def test_metrics_reads_without_writing(history, invoke, db_file):
    history.conn.close()
    before = db.connect(db_file).execute("PRAGMA data_version").fetchone()[0]
    ok(invoke("metrics"))
    check = db.connect(db_file)
    assert check.execute("SELECT count(*) FROM job_runs").fetchone()[0] == 0
    assert check.execute("PRAGMA data_version").fetchone()[0] == before
