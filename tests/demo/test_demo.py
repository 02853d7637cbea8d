"""``salescli demo --no-serve --dir DIR``: a sample pipeline that never touches SALESCLI_DB."""

from __future__ import annotations

import stat

from salescli.demo.seed import HISTORY
from tests.support.cli import ok, query, scalar


def test_demo_builds_its_own_database_and_prints_the_pipeline(invoke, tmp_path, db_file):
    where = tmp_path / "demo"
    out = ok(invoke("demo", "--no-serve", "--dir", where))
    assert "Pipeline:" in out
    table = out[out.index("Pipeline:"):].splitlines()
    assert table[1].split() == ["position", "name", "kind", "prospects", "value"]
    body = {line.split()[1]: line.split() for line in table[3:10]}
    assert list(body) == ["lead", "contacted", "replied", "meeting", "proposal", "won", "lost"]

    assert not db_file.exists(), "the demo must never touch SALESCLI_DB"
    demo_db = where / "sales.db"
    assert stat.S_IMODE(demo_db.stat().st_mode) == 0o600
    assert scalar(demo_db, "SELECT count(*) FROM prospects") == 36 + HISTORY
    in_stages = {r["name"]: r["n"] for r in query(
        demo_db, "SELECT s.name, count(p.id) AS n FROM stages s LEFT JOIN prospects p"
                 " ON p.stage_id = s.id GROUP BY s.id")}
    assert sum(1 for n in in_stages.values() if n) >= 4  # spread over the pipeline
    for name, n in in_stages.items():
        assert int(body[name][3]) == n
    moves = scalar(demo_db, "SELECT count(*) FROM stage_changes WHERE from_stage_id IS NOT NULL")
    assert moves > 20
    assert scalar(demo_db, "SELECT count(*) FROM interactions") > 20
    # every demo write went through the library: one create activity per prospect
    assert scalar(demo_db, "SELECT count(*) FROM activities WHERE action = 'create'"
                           " AND entity = 'prospect'") == 36 + HISTORY
    # won and lost moves carry a reason
    assert scalar(demo_db, """SELECT count(*) FROM stage_changes c JOIN stages s
                              ON s.id = c.to_stage_id WHERE s.kind != 'open'
                              AND coalesce(c.reason, '') = ''""") == 0
    assert f"--db {demo_db}" in out


def test_demo_twice_starts_afresh(invoke, tmp_path):
    where = tmp_path / "demo"
    ok(invoke("demo", "--no-serve", "--dir", where))
    ok(invoke("demo", "--no-serve", "--dir", where))
    assert scalar(where / "sales.db", "SELECT count(*) FROM prospects") == 36 + HISTORY
    assert scalar(where / "sales.db", "SELECT count(*) FROM users") == 3


def test_demo_default_dir_is_demo_in_the_current_directory(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(invoke("demo", "--no-serve"))
    assert (tmp_path / "demo" / "sales.db").exists()
    assert not (tmp_path / "sales.db").exists()


def test_demo_scans_its_sample_mailbox_rolls_up_and_writes_a_report(invoke, tmp_path):
    where = tmp_path / "demo"
    out = ok(invoke("demo", "--no-serve", "--dir", where))
    demo_db = where / "sales.db"
    # the sample mailbox went through the real scan: replies, bounces and auto-replies
    kinds = {r["kind"]: r["n"] for r in query(
        demo_db, "SELECT kind, count(*) AS n FROM interactions GROUP BY kind")}
    assert kinds.get("email_in", 0) >= 1 and kinds.get("bounce", 0) >= 1
    assert kinds.get("auto_reply", 0) >= 1
    assert scalar(demo_db, "SELECT count(*) FROM prospects WHERE email_status != 'ok'") >= 1
    assert "Scanned the sample mailbox" in out
    # scan and rollup ran as jobs, with job history
    jobs = {r["job"]: r["status"] for r in query(demo_db, "SELECT job, status FROM job_runs")}
    assert jobs == {"scan": "ok", "rollup": "ok", "forecast": "ok"}
    assert scalar(demo_db, "SELECT count(*) FROM metrics_pipeline") > 0
    report = where / "weekly-report.html"
    assert report.exists() and report.as_uri() in out
    html = report.read_text()
    assert "<svg" in html  # the self-contained HTML draws its charts inline


def test_demo_history_gives_a_learned_forecast_and_a_backtest(invoke, tmp_path):
    import json

    where = tmp_path / "demo"
    out = ok(invoke("demo", "--no-serve", "--dir", where))
    assert "learned model" in out
    db = where / "sales.db"
    fc = json.loads(ok(invoke("--db", db, "forecast", "--format", "json")))
    assert fc["model"]["kind"] == "learned"
    assert fc["rows"][-1]["deals"] > 10 and fc["rows"][-1]["expected_value"] > 0
    bt = json.loads(ok(invoke("--db", db, "forecast", "backtest", "--rolling",
                              "--format", "json")))
    assert len(bt["series"]) >= 6

