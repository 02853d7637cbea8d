"""A copy of each sequence mail in the Sent folder of the owner's mailbox (IMAP APPEND,
flagged ``\\Seen``), so the owner sees the conversation in their mail program.

Which mailbox: the IMAP account a ``[[senders]]`` table names with ``imap_account``
(``""``: none), else the configured account whose login is the sender's address; a
sender without one gets no copy. Which folder: the one flagged ``\\Sent``, else the first
with a Sent-like name (as the scanner picks it).

The copy is filed after the mail is recorded as sent, and is best effort: a failure is
logged and counted, never a reason to send again. The copy carries our Message-ID, so
the scanner finds it in the Sent folder as the ``email_out`` already recorded, not as a
second one. ``send`` receives an instance as a plain callable (``sequences`` does not
import ``mail``); the CLI wires it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from salescli.core.errors import InvalidValue
from salescli.mail.config import Account

log = logging.getLogger("salescli.send")


class SentCopies:
    """``copies(sender, data, when)`` files one sent mail: True when filed, False when the
    sender has no mailbox; SentCopyFailed when filing failed."""

    def __init__(self, accounts: list[Account], routes: Mapping[str, str]):
        by_name = {a.name: a for a in accounts}
        self.accounts: dict[str, Account | None] = {}
        for address, name in routes.items():
            if name and name not in by_name:
                raise InvalidValue(f"senders.{address}.imap_account", name,
                                   "is not a configured IMAP account (accounts: "
                                   + ", ".join(sorted(by_name)) + ")")
            self.accounts[address.lower()] = by_name[name] if name else None
        for a in accounts:
            if "@" in a.user:
                self.accounts.setdefault(a.user.strip().lower(), a)
        self._sources: dict[str, Any] = {}
        self._folders: dict[str, str | None] = {}
        self._broken: dict[str, str] = {}  # account → why: not tried again this run

    def account_for(self, sender: str) -> Account | None:
        """The account whose Sent folder gets ``sender``'s mail, or None."""
        return self.accounts.get(sender.lower())

    def _source(self, account: Account) -> Any:
        from salescli.mail.sources import ImapSource

        if account.name not in self._sources:
            self._sources[account.name] = ImapSource(account)
        return self._sources[account.name]

    def _folder(self, account: Account) -> str | None:
        from salescli.mail.sources import is_sent_name

        if account.name not in self._folders:
            # The mailbox's own Sent folder, whatever the scan's ``folders`` setting says.
            listing = self._source(account).call("LIST", lambda c: c.list_folders())
            sent = [n for flags, _sep, n in listing if b"\\Sent" in flags] or \
                [n for _flags, _sep, n in listing if is_sent_name(n)]
            self._folders[account.name] = sent[0] if sent else None
            if not sent:
                log.warning("account %s has no Sent folder: sequence mail is not filed",
                            account.name)
        return self._folders[account.name]

    def __call__(self, sender: str, data: bytes, when: datetime) -> bool:
        account = self.account_for(sender)
        if account is None:
            return False
        if account.name in self._broken:  # one failing mailbox does not slow every mail
            raise SentCopyFailed(self._broken[account.name])  # pragma: no mutate: only counted
        try:
            folder = self._folder(account)
            if folder is None:
                return False
            self._source(account).call(f"APPEND {folder}", lambda c: c.append(
                folder, data, flags=(b"\\Seen",), msg_time=when))
        except Exception as exc:  # best effort: the mail went out and is recorded
            log.warning("sent mail of %s not filed in account %s (no more tries this run):"
                        " %s", sender, account.name, str(exc)[:300])
            self._broken[account.name] = str(exc)[:300]
            raise SentCopyFailed(str(exc)) from None
        return True

    def close(self) -> None:
        """Log out of every account used."""
        for source in self._sources.values():
            source.close()
        self._sources.clear()


class SentCopyFailed(Exception):
    """A copy could not be filed (the send counts it; nothing else happens)."""


def from_environment(routes: Mapping[str, str], env: Mapping[str, str] | None = None
                     ) -> SentCopies | None:
    """The filer for the configured IMAP accounts (a sender none of them matches is not
    filed), or None when no IMAP account is configured (``SALESCLI_CONFIG`` or
    ``SALESCLI_IMAP_HOST``)."""
    import os

    from salescli.mail.config import load_accounts

    env = os.environ if env is None else env
    path = env.get("SALESCLI_CONFIG", "").strip()
    if path:
        import tomllib
        from pathlib import Path

        try:
            if "accounts" not in tomllib.loads(Path(path).read_text()):
                return None  # senders only: load_accounts names any other problem
        except (OSError, tomllib.TOMLDecodeError):
            pass
    elif not env.get("SALESCLI_IMAP_HOST"):
        return None
    return SentCopies(load_accounts(env), routes)
