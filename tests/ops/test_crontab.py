"""Every command line of crontab.example, run as cron would, against the demo and a real Dovecot.

The crontab's variables are kept except those that point at the machine (paths,
the virtualenv), which move into tmp. Each command runs through ``/bin/sh -c``
with only the crontab's environment plus HOME and LOGNAME, as cron does, and
must succeed without printing anything (cron would mail any output).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salescli.mail import sample
from tests.support.dovecot import Dovecot
from tests.support.smtpd import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
CRONTAB = ROOT / "crontab.example"
ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
FIELDS = r"(\*|[\d,\-/*]+)"
JOB = re.compile(rf"^{FIELDS}\s+{FIELDS}\s+{FIELDS}\s+{FIELDS}\s+{FIELDS}\s+(.+)$")
ME = "sales@salescli.example"
IMAP_PASSWORD = "imap-Pa55-for-cron-test"
SMTP_PASSWORD = "smtp-Pa55-for-cron-test"


def parse_crontab(text: str) -> tuple[dict[str, str], list[str]]:
    """(variables, commands) of a crontab, checking each schedule is well-formed."""
    variables, commands = {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if m := ASSIGN.match(line):
            variables[m.group(1)] = m.group(2)
            continue
        m = JOB.match(line)
        assert m, f"not a cron line: {line!r}"
        minute, hour, dom, month, dow = m.groups()[:5]
        for value, low, high in ((minute, 0, 59), (hour, 0, 23), (dom, 1, 31),
                                 (month, 1, 12), (dow, 0, 7)):
            for number in re.findall(r"\d+", value.split("/")[0]):
                assert low <= int(number) <= high, f"{value!r} out of range in {line!r}"
        commands.append(m.group(6))
    return variables, commands


@pytest.fixture
def demo(tmp_path):
    """The demo's database: its prospects, users (a manager with an address) and history."""
    from salescli.demo import seed as lib
    from salescli.web import credentials

    db = lib.build(tmp_path / "demo")
    conn = credentials.open_credentials(db)  # the manager signs in to the web too
    credentials.set_password(conn, "demo-manager", "correct horse battery staple")
    conn.close()
    return db


@pytest.fixture
def mailbox(demo):
    """A real Dovecot holding our mail to a demo prospect and their reply."""
    conn = sqlite3.connect(demo)
    row = conn.execute("SELECT email, name, company FROM prospects ORDER BY id LIMIT 1").fetchone()
    person = dict(zip(("email", "name", "company"), row, strict=True))
    conn.close()
    now = datetime.now(UTC).replace(microsecond=0)
    server = Dovecot(sent_folders=("Sent",))
    server.start()
    try:
        server.add_user("sales", IMAP_PASSWORD)
        out, out_id = sample.outbound(ME, person, now - timedelta(hours=3), "Pipeline review")
        back, back_id = sample.reply(person, ME, now - timedelta(hours=1), "Pipeline review",
                                     out_id)
        server.append("sales", "Sent", out, when=now - timedelta(hours=3))
        server.append("sales", "INBOX", back, when=now - timedelta(hours=1))
        yield server, person, back_id
    finally:
        server.close()


@pytest.fixture
def smtp():
    with SmtpServer(users={"cron": SMTP_PASSWORD}) as server:
        yield server


def sandbox(tmp_path, demo, imap: Dovecot, smtp: SmtpServer) -> dict[str, str]:
    """The crontab's variables with paths moved into tmp, and an env file with the secrets."""
    env_file = tmp_path / "etc" / "salescli.env"
    env_file.parent.mkdir()
    settings = {
        "SALESCLI_IMAP_HOST": imap.host, "SALESCLI_IMAP_PORT": str(imap.port),
        "SALESCLI_IMAP_SSL": "none", "SALESCLI_IMAP_USER": "sales",
        "SALESCLI_IMAP_PASSWORD": IMAP_PASSWORD, "SALESCLI_MY_ADDRESSES": ME,
        **smtp.env(), "SALESCLI_SMTP_USER": "cron", "SALESCLI_SMTP_PASSWORD": SMTP_PASSWORD,
        "SALESCLI_SECRET": "a-long-random-jwt-secret-for-the-cron-test-0123456789",
    }
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    env_file.chmod(0o600)
    return {
        "VENV": sys.prefix,
        "SALESCLI_DB": str(demo),
        "SALESCLI_ENV_FILE": str(env_file),
        "SALESCLI_LOG_FILE": str(tmp_path / "log" / "salescli.log"),
        "SALESCLI_BACKUP_DIR": str(tmp_path / "backups"),
    }


def cron_environment(variables: dict[str, str], tmp_path) -> dict[str, str]:
    """What cron gives a command: its own few variables plus the crontab's."""
    (tmp_path / "log").mkdir(exist_ok=True)
    return {"HOME": str(tmp_path), "LOGNAME": "salescli", **variables}


def run_line(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", "-c", command], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def job_status(db: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(db)
    try:
        out: dict[str, list[str]] = {}
        for job, status in conn.execute("SELECT job, status FROM job_runs ORDER BY id"):
            out.setdefault(job, []).append(status)
        return out
    finally:
        conn.close()


def test_crontab_schedules_every_job():
    variables, commands = parse_crontab(CRONTAB.read_text())
    jobs = [re.search(r"salescli\.jobs\.(\w+)", c).group(1) for c in commands]
    assert sorted(set(jobs)) == ["backup", "health", "maintenance", "notify", "report",
                                 "rollup", "scan", "send"]
    assert all((ROOT / "jobs" / f"{j}.py").exists() for j in jobs)
    assert commands[jobs.index("scan")].startswith("$VENV/bin/python -m ")
    assert {"MAILTO", "SALESCLI_DB", "SALESCLI_LOG_FILE", "SALESCLI_BACKUP_DIR"} <= set(variables)


def test_every_crontab_line_runs_quietly_end_to_end(tmp_path, demo, mailbox, smtp):
    imap, person, reply_id = mailbox
    variables, commands = parse_crontab(CRONTAB.read_text())
    moved = sandbox(tmp_path, demo, imap, smtp)
    machine_specific = {"VENV", "SALESCLI_DB", "SALESCLI_ENV_FILE", "SALESCLI_LOG_FILE",
                        "SALESCLI_BACKUP_DIR"}
    assert set(variables) - machine_specific <= {"SHELL", "PATH", "MAILTO",
                                                 "SALESCLI_REPORT_TO"}, \
        "a new crontab variable: decide here whether the sandbox must move it"
    env = cron_environment({**variables, **moved}, tmp_path)

    for command in commands:
        r = run_line(command, env, tmp_path)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), (command, r)

    status = job_status(demo)
    for job in ("scan", "notify", "send", "rollup", "backup", "cleanup", "optimize",
                "report"):
        assert status.get(job, [])[-1:] == ["ok"], (job, status)

    # The scan read the real mailbox: the reply is on the prospect's timeline.
    conn = sqlite3.connect(demo)
    assert conn.execute("SELECT count(*) FROM interactions WHERE message_id = ?",
                        (reply_id,)).fetchone()[0] == 1
    conn.close()
    # The weekly report reached the demo's manager through the real SMTP server.
    report = [m for m in smtp.messages if "manager@salescli.example" in m.rcpt_tos]
    assert report and smtp.logins and all(ok for _, ok in smtp.logins)
    # Backups of both databases, private.
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "backups").iterdir())
    assert names == ["credentials", "sales"]
    # One summary line per job in the log, and no secret in it.
    log_text = Path(moved["SALESCLI_LOG_FILE"]).read_text()
    for job in ("scan", "notify", "rollup", "backup", "maintenance", "report"):
        assert re.search(rf"Z INFO \[{job}\] \w+ ok in ", log_text), (job, log_text)
    for secret in (IMAP_PASSWORD, SMTP_PASSWORD, "a-long-random-jwt-secret"):
        assert secret not in log_text

    # Run again at once: nothing new, still quiet, and health is satisfied.
    for command in commands:
        r = run_line(command, env, tmp_path)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), (command, r)
    health = subprocess.run([sys.executable, "-m", "salescli", "health", "--format", "json"],
                            env={**env, "SALESCLI_DB": str(demo)}, capture_output=True,
                            text=True, timeout=60)
    assert json.loads(health.stdout)["problems"] == []


def test_imap_login_failure_is_mailed_without_the_password(tmp_path, demo, mailbox, smtp):
    imap, _, _ = mailbox
    variables, commands = parse_crontab(CRONTAB.read_text())
    moved = sandbox(tmp_path, demo, imap, smtp)
    env = cron_environment({**variables, **moved}, tmp_path)
    # The password was changed at the provider, not in the env file.
    env_file = Path(moved["SALESCLI_ENV_FILE"])
    stale = "the-old-Pa55word-still-here"
    env_file.write_text(env_file.read_text().replace(IMAP_PASSWORD, stale))
    scan = next(c for c in commands if "jobs.scan" in c)
    r = run_line(scan, env, tmp_path)
    assert r.returncode == 1
    assert "login as 'sales'" in r.stderr and stale not in r.stderr
    assert job_status(demo)["scan"][-1] == "failed"
    # With every debug line of the IMAP library in the log file: still no password.
    r = subprocess.run(["/bin/sh", "-c", "$VENV/bin/salescli -vv scan"],
                       env={**env, **{k: v for k, v in (
                           line.split("=", 1) for line in
                           Path(moved["SALESCLI_ENV_FILE"]).read_text().splitlines())}},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    log_text = Path(moved["SALESCLI_LOG_FILE"]).read_text()
    assert "DEBUG" in log_text
    assert stale not in log_text + r.stderr
    health = next(c for c in commands if "jobs.health" in c)
    r = run_line(health, env, tmp_path)
    assert r.returncode == 1 and "job scan failed" in r.stdout
