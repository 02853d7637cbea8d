"""Notifications: an outbox of events (reply, hard bounce, stale prospect) sent by mail or webhook.

``enqueue`` writes rows inside the caller's transaction; ``deliver`` sends due rows, each
marked sent in its own transaction right after the server accepted it. Delivery is at most
once per event, except after a crash between acceptance and our commit: then the row is sent
once more with the same Message-ID / Idempotency-Key so that receivers can drop it.

Row states, without a status column (``notifications`` in migration m001):
pending = ``sent_at`` NULL and ``next_attempt_at`` set (due once it is ≤ now);
sent = ``sent_at`` set; suppressed (storm guard) = ``last_error`` starting ``suppressed:``;
failed (gave up) = ``sent_at`` and ``next_attempt_at`` NULL, any other ``last_error``.
Composing mails and POSTing webhooks is in ``salescli.notify.send``; the notification enums
are in ``salescli.core.enums``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from salescli.core.db import transaction
from salescli.core.enums import Channel, NotifyState, Rule
from salescli.core.env import number
from salescli.core.errors import InvalidValue, JobLocked, SalescliError
from salescli.core.timeutil import iso
from salescli.notify.send import digest_message, event_message, post_webhook

log = logging.getLogger("salescli.notify")

SUPPRESSED = "suppressed: "
DEFAULT_MAX_PER_HOUR = 5
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_MAX_AGE_DAYS = 7
DEFAULT_RETRY_BASE = 60.0  # seconds before the first retry; doubles each attempt
MAX_RETRY_DELAY = 6 * 3600.0


# ---------------------------------------------------------------- settings


def max_per_hour() -> int:
    """The storm cap: notifications per prospect per hour (``SALESCLI_NOTIFY_MAX_PER_HOUR``)."""
    return number("SALESCLI_NOTIFY_MAX_PER_HOUR", DEFAULT_MAX_PER_HOUR)


def max_attempts() -> int:
    """Attempts before a notification is given up (``SALESCLI_NOTIFY_MAX_ATTEMPTS``)."""
    return number("SALESCLI_NOTIFY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, minimum=1)


def digest_mode() -> bool:
    """``SALESCLI_NOTIFY_DIGEST=1``: one mail per recipient per run."""
    return os.environ.get("SALESCLI_NOTIFY_DIGEST", "").strip().lower() in ("1", "true", "yes")


def smtp_configured() -> bool:
    """Mail notifications are queued only when ``SALESCLI_SMTP_HOST`` is set."""
    return bool(os.environ.get("SALESCLI_SMTP_HOST", "").strip())


def webhook_url() -> str | None:
    """``SALESCLI_WEBHOOK_URL`` (http or https), read when needed: it may hold a secret."""
    url = os.environ.get("SALESCLI_WEBHOOK_URL", "").strip()
    if not url:
        return None
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise InvalidValue("SALESCLI_WEBHOOK_URL", redact_url(url), "is not an http(s) URL")
    return url


def redact_url(url: str) -> str:
    """Scheme and host only: webhook paths and queries often carry tokens."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…" if parts.scheme else "…"


def _utc(now: datetime | str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    return now if now.tzinfo else now.replace(tzinfo=UTC)  # naive means UTC, parsed or given


# ---------------------------------------------------------------- enqueue


def _owner_email(conn: sqlite3.Connection, owner: str | None) -> str | None:
    """The owner's address: their user's email, else the owner itself if it is an address."""
    if owner:
        row = conn.execute(
            "SELECT email FROM users"
            " WHERE (username = ? OR email = lower(?)) AND disabled = 0"
            " AND email IS NOT NULL ORDER BY username = ? DESC LIMIT 1",
            (owner, owner, owner)).fetchone()
        if row:
            return row[0]
        # An address is used as given only when it is nobody's: a disabled user's address,
        # like their name, falls through to the team address.
        if "@" in owner and conn.execute(
                "SELECT 1 FROM users WHERE username = ? OR lower(email) = lower(?)",
                (owner, owner.strip())).fetchone() is None:
            return owner.strip().lower()
    return os.environ.get("SALESCLI_NOTIFY_TO", "").strip() or None


def _subject(rule: str, prospect: dict[str, Any], payload: dict) -> str:
    who = f"{prospect['name']} <{prospect['email']}>" if prospect["name"] else prospect["email"]
    days, subject = payload.get("days"), payload.get("subject")
    text = {
        Rule.REPLY: f"Reply from {who}" + (f": {subject}" if subject else ""),
        Rule.BOUNCE: f"Hard bounce for {who}",
        Rule.STALE: f"{who} has gone stale" + (f" ({days} days without contact)" if days else ""),
    }.get(rule, f"{rule} for {who}")
    return " ".join(f"[salescli] {text}".split())[:200]


def enqueue(conn: sqlite3.Connection, *, rule: str, prospect_id: int, event_key: str,
            payload: dict) -> int | None:
    """Queue one event for the prospect's owner (email) and the webhook, in the caller's
    transaction. Returns the number of rows queued (0: no recipient, or ``payload``'s
    ``occurred_at`` is too old to be news); None when the event was queued before."""
    if not event_key:
        raise InvalidValue("event_key", event_key, "must not be empty")
    keys = {ch: row_key(event_key, ch) for ch in Channel}
    if _too_old(payload.get("occurred_at")):
        return 0
    with transaction(conn):
        if conn.execute("SELECT 1 FROM notifications WHERE event_key IN (?, ?)",
                        (keys[Channel.EMAIL], keys[Channel.WEBHOOK])).fetchone():
            return None
        prospect = conn.execute(
            "SELECT p.id, p.email, p.name, p.company, p.owner, s.name AS stage"
            " FROM prospects p JOIN stages s ON s.id = p.stage_id WHERE p.id = ?",
            (prospect_id,)).fetchone()
        if prospect is None:
            raise InvalidValue("prospect_id", prospect_id, "does not exist")
        prospect = dict(prospect)  # a dict, unlike sqlite3.Row, refuses a key in the wrong case
        targets: list[tuple[Channel, str]] = []
        email = _owner_email(conn, prospect["owner"]) if smtp_configured() else None
        if email:
            targets.append((Channel.EMAIL, email))
        url = webhook_url()
        if url:
            targets.append((Channel.WEBHOOK, redact_url(url)))
        if not targets:
            log.debug("notification %s for prospect %s has no recipient", event_key, prospect_id)
            return 0
        body = {
            **payload,
            "event_key": event_key,
            "prospect": {k: prospect[k] for k in ("id", "email", "name", "company", "owner",
                                                  "stage")},
        }
        subject = _subject(str(rule), prospect, payload)
        now = datetime.now(UTC)
        ts = iso(now)
        since = iso(now - timedelta(hours=1))
        cap = max_per_hour()
        for channel, recipient in targets:
            recent = conn.execute(
                "SELECT count(*) FROM notifications"  # pragma: no mutate: count(*) read by place
                " WHERE prospect_id = ? AND channel = ?"
                " AND created_at > ? AND (last_error IS NULL OR last_error NOT LIKE ?)",
                (prospect_id, channel.value, since, SUPPRESSED + "%")).fetchone()[0]
            if recent >= cap:
                state = (None, f"{SUPPRESSED}more than {cap} notifications for this prospect"
                         " in an hour (SALESCLI_NOTIFY_MAX_PER_HOUR)")
            else:
                state = (ts, None)
            conn.execute(
                "INSERT INTO notifications(event_key, rule, prospect_id, recipient, channel,"
                " subject, payload, created_at, next_attempt_at, last_error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (keys[channel], str(rule), prospect_id, recipient, channel.value, subject,
                 json.dumps(body, default=str, sort_keys=True), ts, *state))
    return len(targets)


def enqueue_mail(conn: sqlite3.Connection, *, rule: str, event_key: str, recipient: str,
                 subject: str, text: str) -> bool:
    """Queue one composed mail to a person (not about one prospect, e.g. an owner's morning
    digest); False when this event was queued before. Needs ``SALESCLI_SMTP_HOST``."""
    for name, value in (("event_key", event_key), ("recipient", recipient)):
        if not value:
            raise InvalidValue(name, value, "must not be empty")
    key = row_key(event_key, Channel.EMAIL)
    with transaction(conn):
        if conn.execute("SELECT 1 FROM notifications WHERE event_key = ?", (key,)).fetchone():
            return False
        ts = iso(datetime.now(UTC))
        conn.execute(
            "INSERT INTO notifications(event_key, rule, prospect_id, recipient, channel,"
            " subject, payload, created_at, next_attempt_at) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?)",
            (key, str(rule), recipient, Channel.EMAIL.value, subject[:200],
             json.dumps({"text": text}), ts, ts))
    return True


def _too_old(occurred_at: Any) -> bool:
    """Events older than ``SALESCLI_NOTIFY_MAX_AGE_DAYS`` (default 7; 0 = no limit) are not
    news: a first scan of years of mail must not notify every old reply."""
    days = number("SALESCLI_NOTIFY_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS)
    if not days or not occurred_at:
        return False
    try:
        when = _utc(str(occurred_at))
    except ValueError:
        return False
    return when < datetime.now(UTC) - timedelta(days=days)


def row_key(event_key: str, channel: Channel | str) -> str:
    """The stored (unique) key of one row: the event key and its channel."""
    return f"{event_key}|{channel}"


def stale_candidates(conn: sqlite3.Connection, *, days: int,
                     today: str | None = None) -> list[dict[str, Any]]:
    """Open, unarchived prospects whose last interaction (or creation) is ``days`` days old."""
    if days < 1:
        raise InvalidValue("--stale-days", days, "must be at least 1")
    today = today or datetime.now(UTC).date().isoformat()
    cutoff = iso(datetime.fromisoformat(today) - timedelta(days=days))  # iso: naive is UTC
    return [dict(r) for r in conn.execute(
        "SELECT p.id, p.email, p.owner, coalesce(p.last_interaction_at, p.created_at) AS last"
        " FROM prospects p JOIN stages s ON s.id = p.stage_id"
        " WHERE s.kind = 'open' AND p.archived_at IS NULL"
        " AND coalesce(p.last_interaction_at, p.created_at) < ? ORDER BY p.id", (cutoff,))]


def enqueue_stale(conn: sqlite3.Connection, *, days: int, today: str | None = None) -> int:
    """Queue a ``stale`` event for each open prospect with no interaction for ``days`` days;
    at most one per prospect per day (UTC). Returns the number of events newly queued."""
    today = today or datetime.now(UTC).date().isoformat()
    n = 0
    with transaction(conn):
        for row in stale_candidates(conn, days=days, today=today):
            added = enqueue(conn, rule=Rule.STALE, prospect_id=row["id"],
                            event_key=f"stale:{row['id']}:{today}",
                            payload={"days": days, "last_interaction_at": row["last"]})
            if added:
                n += 1
    return n


# ---------------------------------------------------------------- listing


def state_of(row: dict[str, Any] | sqlite3.Row) -> NotifyState:
    """Which of the four states a notifications row is in."""
    if row["sent_at"]:
        return NotifyState.SENT
    if (row["last_error"] or "").startswith(SUPPRESSED):
        return NotifyState.SUPPRESSED
    if row["next_attempt_at"]:
        return NotifyState.PENDING
    return NotifyState.FAILED


def list_notifications(conn: sqlite3.Connection, *, states: tuple[str, ...] = ("pending",
                       "failed")) -> Iterator[dict[str, Any]]:
    """Outbox rows in the given states, oldest first."""
    # (sqlite3 names a result column as the table declares it, whatever the case here)
    sql = ("SELECT id, event_key, rule, prospect_id, channel, recipient, subject,"
           " created_at, sent_at, attempts, next_attempt_at, last_error FROM notifications"
           + ("" if "sent" in states else " WHERE sent_at IS NULL")
           + " ORDER BY created_at, id"
           )
    for r in conn.execute(sql):
        row = {**dict(r), "state": state_of(r).value}
        if row["state"] in states:
            yield row


# ---------------------------------------------------------------- deliver


def due_rows(conn: sqlite3.Connection, *, now: datetime | str | None = None
             ) -> list[dict[str, Any]]:
    """Pending rows whose next attempt is due, oldest first (as dicts: unlike sqlite3.Row,
    a dict refuses a column name in the wrong case)."""
    return [dict(r) for r in conn.execute(
        "SELECT * FROM notifications WHERE sent_at IS NULL AND next_attempt_at <= ?"
        " ORDER BY created_at, id",
        (iso(_utc(now)),))]


def _backoff(attempts: int) -> timedelta:
    """Exponential backoff with full jitter around the base: base·2^(n-1)·[0.5, 1.5)."""
    base = number("SALESCLI_NOTIFY_RETRY_BASE", DEFAULT_RETRY_BASE, float)
    delay = min(base * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    return timedelta(seconds=delay * random.uniform(0.5, 1.5))


@contextmanager
def _deliver_lock(conn: sqlite3.Connection) -> Iterator[None]:
    """One deliverer at a time per database, whichever job calls ``deliver``."""
    from salescli.ops.runner import job_lock

    row = conn.execute("PRAGMA database_list").fetchone()
    path = row["file"] if row else ""
    if not path:
        yield
        return
    with job_lock(Path(path), "notify-deliver"):
        yield


def deliver(conn: sqlite3.Connection, *, now: datetime | str | None = None) -> dict:
    """Send every due pending notification; failures are retried on later runs with backoff.
    Returns counts: sent, failed (attempts that failed), gave_up, suppressed, pending."""
    if conn.in_transaction:
        raise SalescliError("notify.deliver must run outside a transaction "
                            "(each send is committed on its own)")
    moment = _utc(now)
    result = {"sent": 0, "failed": 0, "gave_up": 0, "suppressed": 0, "pending": 0}
    try:
        with _deliver_lock(conn):
            due = due_rows(conn, now=moment)
            emails = _drop_disabled_recipients(
                conn, [r for r in due if r["channel"] == Channel.EMAIL])
            hooks = [r for r in due if r["channel"] == Channel.WEBHOOK]
            if emails:
                _deliver_email(conn, emails, moment, result)
            for row in hooks:
                _deliver_webhook(conn, row, moment, result)
    except JobLocked:
        log.info("notifications are being delivered by another run; skipped")
        result["busy"] = 1
    window = iso(moment - timedelta(hours=24))
    result["suppressed"] = conn.execute(
        "SELECT count(*) FROM notifications WHERE sent_at IS NULL AND last_error LIKE ?"
        " AND created_at > ?", (SUPPRESSED + "%", window)).fetchone()[0]
    result["pending"] = conn.execute(
        "SELECT count(*) FROM notifications"  # pragma: no mutate: count(*) read by place
        " WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL"
    ).fetchone()[0]
    return result


def _drop_disabled_recipients(conn: sqlite3.Connection, rows: list[dict[str, Any]]
                              ) -> list[dict[str, Any]]:
    """The rows still to mail: a row queued for an owner who has since been disabled is
    suppressed, not sent (their address may now reach someone who left)."""
    if not rows:
        return rows
    disabled = {r[0] for r in conn.execute(
        "SELECT lower(email) FROM users WHERE disabled = 1 AND email IS NOT NULL"
        " EXCEPT SELECT lower(email) FROM users WHERE disabled = 0 AND email IS NOT NULL")}
    gone = [r for r in rows if r["recipient"].lower() in disabled]
    if gone:
        with transaction(conn):
            conn.executemany(
                "UPDATE notifications SET next_attempt_at = NULL, last_error = ?"
                " WHERE id = ? AND sent_at IS NULL",
                [(SUPPRESSED + "the recipient's user is disabled", r["id"]) for r in gone])
    return [r for r in rows if r["recipient"].lower() not in disabled]


def _mark_sent(conn: sqlite3.Connection, ids: list[int]) -> None:
    with transaction(conn):
        conn.executemany(
            "UPDATE notifications SET sent_at = ?, attempts = attempts + 1,"
            " next_attempt_at = NULL, last_error = NULL WHERE id = ?",
            [(iso(datetime.now(UTC)), i) for i in ids])


def _mark_failed(conn: sqlite3.Connection, rows: list[dict[str, Any]], moment: datetime,
                 error: str, result: dict, *, permanent: bool = False) -> None:
    limit = max_attempts()
    with transaction(conn):
        for row in rows:
            attempts = row["attempts"] + 1
            if permanent or attempts >= limit:
                conn.execute(
                    "UPDATE notifications SET attempts = ?, next_attempt_at = NULL,"
                    " last_error = ? WHERE id = ? AND sent_at IS NULL",
                    (attempts, f"gave up after {attempts} attempt(s): {error}"[:1000], row["id"]))
                result["gave_up"] += 1
                log.error("notification %s to %s given up: %s", row["id"], row["recipient"],
                          error)
            else:
                conn.execute(
                    "UPDATE notifications SET attempts = ?, next_attempt_at = ?, last_error = ?"
                    " WHERE id = ? AND sent_at IS NULL",
                    (attempts, iso(moment + _backoff(attempts)), error[:1000], row["id"]))
            result["failed"] += 1


def _deliver_email(conn: sqlite3.Connection, rows: list[dict[str, Any]], moment: datetime,
                   result: dict) -> None:
    from salescli.notify import smtp

    try:
        settings = smtp.settings_from_env()
    except InvalidValue as exc:
        _mark_failed(conn, rows, moment, str(exc), result)
        log.error("notifications by mail cannot be sent: %s", exc)
        return
    batches: list[list[dict[str, Any]]]
    if digest_mode():
        by_recipient: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_recipient.setdefault(row["recipient"], []).append(row)
        batches = list(by_recipient.values())
    else:
        batches = [[row] for row in rows]
    stack = ExitStack()
    session = None
    try:
        for i, batch in enumerate(batches):
            if session is None:
                try:
                    session = stack.enter_context(smtp.session(settings))
                except SalescliError as exc:
                    # The server is unreachable or refuses us: every remaining batch waits.
                    log.warning("notification mail not sent: %s", exc)
                    _mark_failed(conn, [r for b in batches[i:] for r in b], moment, str(exc),
                                 result)
                    return
            msg = digest_message(batch, settings.sender) if digest_mode() \
                else event_message(batch[0], settings.sender)
            try:
                session.send(msg)
            except smtp.SmtpError as exc:
                log.warning("notification mail to %s failed: %s", batch[0]["recipient"], exc)
                _mark_failed(conn, batch, moment, str(exc), result, permanent=exc.permanent)
                if not exc.permanent:  # the connection may be gone: reconnect for the next
                    _close_quietly(stack)
                    stack, session = ExitStack(), None
                continue
            _mark_sent(conn, [r["id"] for r in batch])
            result["sent"] += len(batch)
    finally:
        _close_quietly(stack)


def _close_quietly(stack: Any) -> None:
    try:
        stack.close()
    except (SalescliError, OSError):
        pass


def _deliver_webhook(conn: sqlite3.Connection, row: dict[str, Any], moment: datetime,
                     result: dict) -> None:
    try:
        url = webhook_url()
    except InvalidValue as exc:
        _mark_failed(conn, [row], moment, str(exc), result)
        return
    if url is None:
        _mark_failed(conn, [row], moment, "SALESCLI_WEBHOOK_URL is not set", result)
        return
    failure = post_webhook(url, redact_url(url), row)
    if failure is None:
        _mark_sent(conn, [row["id"]])
        result["sent"] += 1
        return
    error, permanent = failure
    log.warning("notification %s: %s", row["id"], error)
    _mark_failed(conn, [row], moment, error, result, permanent=permanent)
