"""Helpers for the email monitor tests: mailboxes on Dovecot, running salescli, snapshots."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from salescli.core import db
from salescli.pipeline import prospects
from tests.support.dovecot import Dovecot

ROOT = Path(__file__).resolve().parents[2]
ME = "me@ours.example"
CREATED = "2020-01-01T00:00:00Z"
_users = itertools.count(1)


@dataclass
class Mailbox:
    """One IMAP user: append mail, know the environment that points salescli at it."""

    server: Dovecot
    user: str

    def append(self, folder: str, raw: bytes, when: datetime | None = None,
               seen: bool = False) -> int | None:
        return self.server.append(self.user, folder, raw, when,
                                  flags=(b"\\Seen",) if seen else ())

    def append_many(self, folder: str, messages: list[tuple[bytes, datetime]]) -> None:
        self.server.bulk_append(self.user, folder, messages)

    def client(self):
        return self.server.client(self.user)

    def env(self, **extra: str) -> dict[str, str]:
        env = {"SALESCLI_IMAP_HOST": self.server.host,
               "SALESCLI_IMAP_PORT": str(self.server.port),
               "SALESCLI_IMAP_USER": self.user,
               "SALESCLI_IMAP_PASSWORD": self.server.password(self.user),
               "SALESCLI_IMAP_SSL": "none",
               "SALESCLI_IMAP_RETRIES": "3",
               "SALESCLI_IMAP_BACKOFF": "0.05",
               "SALESCLI_IMAP_TIMEOUT": "10",
               "SALESCLI_MY_ADDRESSES": ME}
        env.update(extra)
        return env


def new_mailbox(server: Dovecot, monkeypatch=None) -> Mailbox:
    user = server.add_user(f"user{next(_users)}", f"pw-{os.urandom(4).hex()}")
    box = Mailbox(server, user)
    if monkeypatch is not None:
        for key, value in box.env().items():
            monkeypatch.setenv(key, value)
    return box


def ago(days: float = 0, hours: float = 0) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days, hours=hours)).replace(microsecond=0)


def state(conn, email: str) -> dict:
    """A prospect's stage and mail fields."""
    p = prospects.find_by_email(conn, email)
    return {k: p[k] for k in ("stage", "email_status", "bounce_reason", "last_reply_at")}


def kinds(conn, email: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT i.kind FROM interactions i JOIN prospects p ON p.id = i.prospect_id"
        " WHERE p.email = ? ORDER BY i.occurred_at, i.id", (email,))]


def last_run(conn) -> dict:
    row = conn.execute("SELECT * FROM job_runs WHERE job = 'scan' ORDER BY id DESC LIMIT 1"
                       ).fetchone()
    out = dict(row)
    out["counts"] = json.loads(row["counts"]) if row["counts"] else {}
    return out


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> \
        subprocess.CompletedProcess:
    """``salescli ARGS`` as a real process (same environment as the test)."""
    return subprocess.run([sys.executable, "-m", "salescli", *map(str, args)],
                          capture_output=True, text=True, env=env or cli_env(),
                          timeout=timeout, cwd=ROOT)


def start_cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "salescli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env or cli_env(), cwd=ROOT)


def snapshot(db_file) -> dict:
    """Everything the monitor writes, minus ids and wall-clock stamps: two databases
    with equal snapshots hold the same facts."""
    c = db.connect(db_file)
    try:
        q = lambda sql: sorted((tuple(r) for r in c.execute(sql)),  # noqa: E731
                               key=lambda row: tuple((v is not None, v if isinstance(v, str)
                                                      else str(v)) for v in row))
        return {
            "prospects": q("SELECT p.email, s.name, p.email_status, p.bounce_reason,"
                           " p.last_reply_at, p.last_contacted_at, p.last_interaction_at,"
                           " p.stage_entered_at FROM prospects p"
                           " JOIN stages s ON s.id = p.stage_id"),
            "interactions": q("SELECT p.email, i.kind, i.occurred_at, i.subject, i.message_id,"
                              " i.thread_key, i.account, i.folder, i.uid, i.detail, i.actor"
                              " FROM interactions i JOIN prospects p ON p.id = i.prospect_id"),
            "stage_changes": q("SELECT p.email, f.name, t.name, c.at, c.actor, c.note"
                               " FROM stage_changes c JOIN prospects p ON p.id = c.prospect_id"
                               " LEFT JOIN stages f ON f.id = c.from_stage_id"
                               " JOIN stages t ON t.id = c.to_stage_id"),
            "activities": q("SELECT a.actor, a.action, a.entity, p.email, a.before, a.after"
                            " FROM activities a LEFT JOIN prospects p ON p.id = a.prospect_id"),
            "messages": q("SELECT message_key, sent_at, kind, outcome FROM mail_messages"),
            "checkpoints": q("SELECT account, folder, uidvalidity, last_uid"
                             " FROM mail_checkpoints"),
            "quarantine": q("SELECT folder, uid, message_id, reason, location"
                            " FROM mail_quarantine"),
        }
    finally:
        c.close()
