"""Mail accounts: one from ``SALESCLI_IMAP_*`` variables, or several from a TOML file.

Secrets never live in the file: each account names the environment variable that
holds its password, or a command that prints an OAuth2 access token (like mbsync's
``PassCmd``). Nothing here connects anywhere; ``sources`` does.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salescli.core.errors import InvalidValue, SalescliError
from salescli.core.log import add_secret

SSL_MODES = ("ssl", "starttls", "none")
DEFAULT_ACCOUNT = "default"
_KEYS = {"name", "host", "port", "user", "password_env", "token_cmd", "ssl", "ca", "folders",
         "my_addresses", "timeout", "rate_limit", "retries", "backoff", "fetch_batch"}


class MailError(SalescliError):
    """A mailbox could not be reached or read (after retries); the message says why."""


@dataclass
class Account:
    """One IMAP account; ``secret()`` reads the password or runs the token command."""

    name: str
    host: str
    user: str
    port: int = 993
    ssl: str = "ssl"
    password_env: str | None = None
    token_cmd: str | None = None
    ca: str | None = None
    folders: list[str] | None = None
    my_addresses: frozenset[str] = frozenset()
    timeout: float = 30.0
    rate_limit: float = 0.0
    retries: int = 5
    backoff: float = 1.0
    fetch_batch: int = 500
    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)

    @property
    def auth(self) -> str:
        """``xoauth2`` when a token command is configured, else ``password``."""
        return "xoauth2" if self.token_cmd else "password"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def secret(self) -> str:
        """The password (from the named variable) or a fresh access token (from the command)."""
        if self.token_cmd:
            try:
                done = subprocess.run(self.token_cmd, shell=True, capture_output=True,
                                      text=True, timeout=max(self.timeout, 30), env=dict(self.env))
            except subprocess.TimeoutExpired:
                raise MailError(f"account {self.name!r}: token command timed out") from None
            token = done.stdout.strip()
            if done.returncode != 0:  # what a failing command printed is not trusted
                raise MailError(f"account {self.name!r}: token command exited "
                                f"{done.returncode}")
            if not token:
                raise MailError(f"account {self.name!r}: token command printed no token")
            token = token.splitlines()[0].strip()
            add_secret(token)
            return token
        var = self.password_env or ""
        value = self.env.get(var)
        if not value:
            raise InvalidValue(var or "password_env", "", f"is not set (the password of mail "
                               f"account {self.name!r})")
        add_secret(value)
        return value


def _split(value: str | list | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def normalise_addresses(values: list[str], field_name: str) -> frozenset[str]:
    """Our own addresses, lower-cased; ``@domain`` stands for every address there."""
    out = set()
    for v in values:
        v = v.strip().lower()
        if "@" not in v or " " in v or v.endswith("@") or v.count("@") > 1:
            raise InvalidValue(field_name, v, "is not an email address or @domain")
        out.add(v)
    return frozenset(out)


def _number(value: Any, field_name: str, kind: type = float, minimum: float = 0) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise InvalidValue(field_name, value, "is not a number") from None
    if number < minimum:
        raise InvalidValue(field_name, value, f"must be ≥ {minimum}")
    return number


def build_account(raw: dict[str, Any], *, where: str, env: Mapping[str, str],
                  shared_addresses: frozenset[str] = frozenset()) -> Account:
    """Validate one account's settings (``where`` prefixes field names in errors)."""
    unknown = set(raw) - _KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise InvalidValue(f"{where}{key}", raw[key], "is not a known setting (settings: "
                           + ", ".join(sorted(_KEYS)) + ")")
    host = str(raw.get("host") or "").strip()
    if not host:
        raise InvalidValue(f"{where}host", host, "must be set")
    user = str(raw.get("user") or "").strip()
    if not user:
        raise InvalidValue(f"{where}user", user, "must be set")
    ssl = str(raw.get("ssl") or SSL_MODES[0]).strip().lower()  # the first mode is the default
    if ssl not in SSL_MODES:
        raise InvalidValue(f"{where}ssl", ssl, "must be one of " + ", ".join(SSL_MODES))
    port = raw.get("port")  # None: not set (port = 0 in the file is refused, not ignored)
    if port is None:
        port = 993 if ssl == "ssl" else 143
    port = _number(port, f"{where}port", int, 1)
    ca = raw.get("ca") or None
    if ca and not Path(ca).is_file():
        raise InvalidValue(f"{where}ca", ca, "is not a readable file")
    token_cmd = (raw.get("token_cmd") or "").strip() or None
    password_env = (raw.get("password_env") or "").strip() or None
    if not token_cmd and not password_env:
        raise InvalidValue(f"{where}password_env", "", "or token_cmd must be set")
    if not token_cmd and not env.get(password_env):
        raise InvalidValue(password_env, "", f"is not set (the password of mail account "
                           f"{str(raw.get('name') or DEFAULT_ACCOUNT)!r})")
    folders = _split(raw.get("folders")) or None
    mine = normalise_addresses(_split(raw.get("my_addresses")), f"{where}my_addresses")
    if "@" in user:
        mine |= {user.lower()}
    return Account(
        name=str(raw.get("name") or DEFAULT_ACCOUNT).strip(), host=host, user=user, port=port,
        ssl=ssl, password_env=password_env, token_cmd=token_cmd, ca=ca, folders=folders,
        my_addresses=frozenset(mine | shared_addresses),
        timeout=_number(raw.get("timeout", 30), f"{where}timeout", float, 1),
        rate_limit=_number(raw.get("rate_limit", 0), f"{where}rate_limit"),
        retries=_number(raw.get("retries", 5), f"{where}retries", int),
        backoff=_number(raw.get("backoff", 1.0), f"{where}backoff"),
        fetch_batch=_number(raw.get("fetch_batch", 500), f"{where}fetch_batch", int, 1),
        env=env,
    )


def my_addresses(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """``SALESCLI_MY_ADDRESSES`` (comma-separated)."""
    env = os.environ if env is None else env
    return normalise_addresses(_split(env.get("SALESCLI_MY_ADDRESSES")), "SALESCLI_MY_ADDRESSES")


def load_accounts(env: Mapping[str, str] | None = None) -> list[Account]:
    """Accounts from ``SALESCLI_CONFIG`` (TOML) if set, else from ``SALESCLI_IMAP_*``."""
    env = os.environ if env is None else env
    shared = my_addresses(env)
    path = env.get("SALESCLI_CONFIG")
    if path:
        return _from_toml(Path(path), env, shared)
    if not env.get("SALESCLI_IMAP_HOST"):
        raise InvalidValue("SALESCLI_IMAP_HOST", "", "is not set (or name a TOML file with "
                           "several accounts in SALESCLI_CONFIG; see docs/email-monitor.md)")
    raw = {
        "name": env.get("SALESCLI_IMAP_NAME") or DEFAULT_ACCOUNT,
        "host": env.get("SALESCLI_IMAP_HOST"),
        "port": env.get("SALESCLI_IMAP_PORT") or None,
        "user": env.get("SALESCLI_IMAP_USER"),
        "ssl": env.get("SALESCLI_IMAP_SSL"),
        "ca": env.get("SALESCLI_IMAP_CA") or None,
        "folders": env.get("SALESCLI_IMAP_FOLDERS") or None,
        "token_cmd": env.get("SALESCLI_IMAP_TOKEN_CMD") or None,
        "password_env": "SALESCLI_IMAP_PASSWORD",  # (unread when the token command is set)
    }
    for key, var in (("timeout", "TIMEOUT"), ("rate_limit", "RATE_LIMIT"),
                     ("retries", "RETRIES"), ("backoff", "BACKOFF"),
                     ("fetch_batch", "FETCH_BATCH")):
        if env.get(f"SALESCLI_IMAP_{var}"):
            raw[key] = env[f"SALESCLI_IMAP_{var}"]
    try:
        return [build_account(raw, where="", env=env, shared_addresses=shared)]
    except InvalidValue as exc:
        # Name the variable, not the internal key. (Every key read from a variable is
        # named after it; password_env is always set here.)
        if exc.field in _KEYS:
            raise InvalidValue(f"SALESCLI_IMAP_{exc.field.upper()}", exc.value,
                               exc.reason) from None
        raise


def _from_toml(path: Path, env: Mapping[str, str], shared: frozenset[str]) -> list[Account]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InvalidValue("SALESCLI_CONFIG", str(path), f"cannot be read ({exc.strerror})") \
            from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue("SALESCLI_CONFIG", str(path), f"is not valid TOML ({exc})") from None
    shared = shared | normalise_addresses(_split(data.get("my_addresses")), "my_addresses")
    tables = data.get("accounts")
    if not isinstance(tables, list) or not tables:
        raise InvalidValue("SALESCLI_CONFIG", str(path), "has no [[accounts]] table")
    accounts, names = [], set()
    for i, raw in enumerate(tables):
        if not isinstance(raw, dict):
            raise InvalidValue(f"accounts[{i}]", raw, "must be a table")
        raw.setdefault("name", raw.get("user"))  # (no user: refused below, whatever the name)
        account = build_account(raw, where=f"accounts[{i}].", env=env, shared_addresses=shared)
        if account.name in names:
            raise InvalidValue(f"accounts[{i}].name", account.name, "is used twice")
        names.add(account.name)
        accounts.append(account)
    return accounts


def select(accounts: list[Account], name: str | None) -> list[Account]:
    """All accounts, or the one called ``name`` (``--account``)."""
    if not name:
        return accounts
    chosen = [a for a in accounts if a.name == name]
    if not chosen:
        raise InvalidValue("--account", name, "is not a configured account (accounts: "
                           + ", ".join(a.name for a in accounts) + ")")
    return chosen
