"""Library exceptions: the CLI turns them into one ``Error: …`` line and exit 1."""

from __future__ import annotations


class SalescliError(Exception):
    """Base class for every error a user can cause and fix."""


class InvalidValue(SalescliError):
    """A field has a value we cannot accept; the message names both."""

    def __init__(self, field: str, value: object, reason: str = "is not valid"):
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field} {value!r} {reason}")


class NotFound(SalescliError):
    """Something named on the command line does not exist."""

    def __init__(self, what: str, key: object):
        super().__init__(f"{what} {key!r} not found")


class Conflict(SalescliError):
    """The change would break a rule of the data (duplicate, stage in use, …)."""


class SchemaError(SalescliError):
    """The database file cannot be used by this version of salescli."""


class JobLocked(SalescliError):
    """Another run of the same job holds the lock."""
