"""`db cleanup` deletes only what retention allows; `db optimize` keeps the file lean."""

from __future__ import annotations

import json

from salescli.pipeline import interactions, prospects, stages
from tests.ops.helpers import add_run, ago


def count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def notification(conn, key: str, created: str, *, sent: str | None = None,
                 next_attempt: str | None = None, error: str | None = None) -> None:
    conn.execute(
        "INSERT INTO notifications(event_key, rule, recipient, channel, created_at, sent_at,"
        " attempts, next_attempt_at, last_error) VALUES (?, 'reply', 'a@b.c', 'email', ?, ?,"
        " 1, ?, ?)", (key, created, sent, next_attempt, error))


def test_cleanup_deletes_only_what_retention_allows(invoke, ops_conn):
    c = ops_conn
    old, new = ago(days=40), ago(days=5)
    # Domain history far older than the retention: never touched.
    p = prospects.add(c, "tester", "old@example.com", at=ago(days=400))
    stages.move(c, "tester", p["id"], "contacted")
    interactions.log(c, "tester", p["id"], "call", body="long ago", at=ago(days=300))
    c.execute("UPDATE stage_changes SET at = ?", (ago(days=390),))
    c.execute("UPDATE activities SET at = ?", (ago(days=390),))
    domain = {t: count(c, t) for t in ("prospects", "interactions", "stage_changes",
                                       "activities")}

    ids = {
        "scan_old_ok": add_run(c, "scan", "ok", started=old),
        "scan_old_failed": add_run(c, "scan", "failed", started=ago(days=39), error="x"),
        "scan_new_ok": add_run(c, "scan", "ok", started=new),
        # Only ever ran long ago: its last run and last success stay for health.
        "report_old_ok": add_run(c, "report", "ok", started=ago(days=60)),
        "report_old_failed": add_run(c, "report", "failed", started=old, error="smtp"),
        "rollup_running": add_run(c, "rollup", "running", started=old),
    }
    notification(c, "sent-old", old, sent=old)
    notification(c, "sent-new", new, sent=new)
    notification(c, "pending-old", old, next_attempt=ago(days=1))
    notification(c, "failed-old", old, error="550 mailbox unavailable")
    notification(c, "suppressed-old", old, error="suppressed: storm guard")
    notification(c, "failed-new", new, error="550 mailbox unavailable")
    for uid, when in ((1, old), (2, new)):
        c.execute("INSERT INTO mail_quarantine(account, folder, uid, reason, created_at)"
                  " VALUES ('work', 'INBOX', ?, 'bad', ?)", (uid, when))

    dry = invoke("db", "cleanup", "--older-than", "30", "--dry-run", "--format", "json")
    assert json.loads(dry.stdout) == [{"table": "job_runs", "would_delete": 2},
                                      {"table": "notifications", "would_delete": 3},
                                      {"table": "mail_quarantine", "would_delete": 1}]
    assert count(c, "notifications") == 6

    result = invoke("db", "cleanup", "--older-than", "30", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"table": "job_runs", "deleted": 2},
                                         {"table": "notifications", "deleted": 3},
                                         {"table": "mail_quarantine", "deleted": 1}]
    left = {r[0] for r in c.execute("SELECT id FROM job_runs WHERE job != 'cleanup'")}
    assert left == {ids["scan_new_ok"], ids["report_old_ok"], ids["report_old_failed"],
                    ids["rollup_running"]}
    keys = {r[0] for r in c.execute("SELECT event_key FROM notifications")}
    assert keys == {"sent-new", "pending-old", "failed-new"}
    assert [r[0] for r in c.execute("SELECT uid FROM mail_quarantine")] == [2]
    assert {t: count(c, t) for t in domain} == domain
    # The cleanup itself is a job run with its counts.
    run = c.execute("SELECT status, counts FROM job_runs WHERE job = 'cleanup'").fetchone()
    assert run[0] == "ok" and json.loads(run[1])["notifications"] == 3


def test_cleanup_retention_from_environment_and_bad_values(invoke, ops_conn, monkeypatch):
    add_run(ops_conn, "scan", "ok", started=ago(days=20))
    add_run(ops_conn, "scan", "ok", started=ago(days=1))
    monkeypatch.setenv("SALESCLI_RETENTION_DAYS", "10")
    result = invoke("db", "cleanup", "--format", "json")
    assert json.loads(result.stdout)[0] == {"table": "job_runs", "deleted": 1}
    bad = invoke("db", "cleanup", "--older-than", "-3")
    assert bad.exit_code == 1
    assert "Error: --older-than -3 must be zero or more days" in bad.output
    monkeypatch.setenv("SALESCLI_RETENTION_DAYS", "ninety")
    bad = invoke("db", "cleanup")
    assert bad.exit_code == 1 and "SALESCLI_RETENTION_DAYS 'ninety'" in bad.output


def test_optimize_vacuums_only_when_worthwhile(invoke, ops_conn, db_file):
    c = ops_conn
    prospects.add(c, "tester", "ada@example.com", name="Ada Lovelace", notes="engines")
    c.execute("BEGIN")
    for i in range(6000):
        c.execute("INSERT INTO job_runs(job, started_at, status, error) VALUES"
                  " ('import', ?, 'failed', ?)", (ago(days=200, seconds=i), "e" * 1500))
    c.execute("COMMIT")
    first = invoke("db", "optimize")
    assert first.exit_code == 0 and "vacuumed" not in first.stdout  # nothing to give back
    assert invoke("db", "cleanup", "--older-than", "30").exit_code == 0
    big = db_file.stat().st_size

    result = invoke("db", "optimize")
    assert result.exit_code == 0, result.output
    assert "vacuumed" in result.stdout
    assert db_file.stat().st_size < big / 3
    wal = db_file.with_name("sales.db-wal")
    assert wal.stat().st_size < 64 * 1024  # not a second copy of the database
    # The search index and the statistics are in order afterwards.
    found = invoke("prospects", "list", "--search", "lovelace", "--format", "json")
    if found.exit_code == 0:  # the prospects command belongs to another part
        assert "ada@example.com" in found.stdout
    assert c.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
    runs = [r[0] for r in c.execute("SELECT counts FROM job_runs WHERE job = 'optimize'"
                                    " ORDER BY id")]
    assert [json.loads(r)["vacuumed"] for r in runs] == [False, True]


def test_the_optimize_run_says_in_jobs_history_what_it_did(invoke, ops_conn):
    assert invoke("db", "optimize", "--no-vacuum").exit_code == 0
    shown = invoke("jobs", "history", "--job", "optimize", "--format", "json")
    (run,) = json.loads(shown.stdout)
    assert run["status"] == "ok"
    assert {k: run["counts"][k] for k in ("analyzed", "fts_optimized", "vacuumed")} == {
        "analyzed": True, "fts_optimized": True, "vacuumed": False}


def test_a_small_file_is_not_vacuumed_however_much_of_it_is_free(invoke, ops_conn, db_file):
    """VACUUM rewrites the whole file: worth it only when a fifth of it AND 4 MB are free.
    Here most of a small file is free, but under 4 MB: optimize leaves it as it is."""
    c = ops_conn
    c.execute("BEGIN")
    for i in range(1500):
        c.execute("INSERT INTO job_runs(job, started_at, status, error) VALUES"
                  " ('import', ?, 'failed', ?)", (ago(days=200, seconds=i), "e" * 1500))
    c.execute("COMMIT")
    assert invoke("db", "cleanup", "--older-than", "30").exit_code == 0
    page_size, pages, free = c.execute(
        "SELECT * FROM pragma_page_size(), pragma_page_count(), pragma_freelist_count()"
    ).fetchone()
    assert free / pages > 0.5 and free * page_size < 4 * 1024**2
    result = invoke("db", "optimize")
    assert result.exit_code == 0 and "vacuumed" not in result.stdout
    assert c.execute("SELECT * FROM pragma_page_count()").fetchone()[0] >= pages  # no shrink
