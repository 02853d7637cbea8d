"""The small closed vocabularies of the domain, as StrEnums."""

from __future__ import annotations

from enum import StrEnum


class StageKind(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class EmailStatus(StrEnum):
    OK = "ok"
    BOUNCED_SOFT = "bounced_soft"
    BOUNCED_HARD = "bounced_hard"


class InteractionKind(StrEnum):
    EMAIL_OUT = "email_out"
    EMAIL_IN = "email_in"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    CALL = "call"
    MEETING = "meeting"
    NOTE = "note"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    ANALYST = "analyst"
    OPERATOR = "operator"


class JobStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


DEFAULT_STAGES: list[tuple[str, StageKind]] = [
    ("lead", StageKind.OPEN),
    ("contacted", StageKind.OPEN),
    ("replied", StageKind.OPEN),
    ("meeting", StageKind.OPEN),
    ("proposal", StageKind.OPEN),
    ("won", StageKind.WON),
    ("lost", StageKind.LOST),
]


def sql_in(enum: type[StrEnum]) -> str:
    """Render an enum as the body of a SQL ``IN (…)`` for CHECK constraints."""
    return ", ".join(f"'{m.value}'" for m in enum)


class Rule(StrEnum):
    """Why a notification exists."""

    REPLY = "reply"
    BOUNCE = "bounce"
    STALE = "stale"
    MORNING = "morning"  # an owner's daily digest of tasks and sequence replies


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class NotifyState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


class OnDuplicate(StrEnum):
    """What an import does with a row whose email already exists (in the file or the DB)."""

    ERROR = "error"
    SKIP = "skip"
    UPDATE = "update"


class TaskKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    TODO = "todo"


class SuppressionSource(StrEnum):
    """Why an address is on the do-not-contact list."""

    MANUAL = "manual"
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"


class EnrollmentState(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"
    REPLIED = "replied"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    STOPPED = "stopped"


class SendState(StrEnum):
    """A row of the never-twice ledger: written ``pending`` before SMTP."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
