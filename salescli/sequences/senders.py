"""Sending accounts: SMTP settings, daily cap and minimum gap for each sender address.

A ``[[senders]]`` table per address in the TOML file named by ``SALESCLI_CONFIG`` (the
file of the IMAP accounts) sets ``smtp_host``, ``smtp_port``, ``smtp_ssl``, ``smtp_user``,
``smtp_password_env`` (the *name* of the variable holding the password), ``smtp_ca``,
``daily_cap``, ``min_gap`` and ``imap_account`` (the ``[[accounts]]`` name whose Sent
folder gets a copy of each mail; ``""`` for none); any other sender uses
``SALESCLI_SMTP_*``.
``SALESCLI_SEND_DAILY_CAP`` and ``SALESCLI_SEND_MIN_GAP`` override the limits; 0 lifts one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salescli.core.errors import InvalidValue
from salescli.notify import smtp

DEFAULT_DAILY_CAP = 200
DEFAULT_MIN_GAP = 30.0  # seconds between two mails of one sender
_KEYS = {"address", "smtp_host", "smtp_port", "smtp_ssl", "smtp_user", "smtp_password_env",
         "smtp_ca", "daily_cap", "min_gap", "imap_account"}


@dataclass(frozen=True)
class Sender:
    """How one address sends."""

    address: str
    settings: smtp.SmtpSettings | None
    daily_cap: int
    min_gap: float


def _number(name: str, raw: Any, cast: type) -> Any:
    try:
        value = cast(str(raw).strip())
    except ValueError:
        raise InvalidValue(name, raw, "is not a number") from None
    if value < 0:
        raise InvalidValue(name, raw, "must be 0 (no limit) or more")
    return value


def _tables(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    path = env.get("SALESCLI_CONFIG", "").strip()
    if not path:
        return {}
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidValue("SALESCLI_CONFIG", path, f"cannot be read ({exc})") from None
    out = {}
    for i, raw in enumerate(data.get("senders") or []):
        where = f"senders[{i}]"
        if not isinstance(raw, dict) or not str(raw.get("address") or "").strip():
            raise InvalidValue(f"{where}.address", raw, "is required")
        unknown = set(raw) - _KEYS
        if unknown:
            raise InvalidValue(f"{where} key", sorted(unknown)[0], "is not a sender setting ("
                               + ", ".join(sorted(_KEYS)) + ")")
        out[str(raw["address"]).strip().lower()] = raw
    return out


def sent_routes(config: dict[str, Any]) -> dict[str, str]:
    """Sender address → the IMAP account named by its ``imap_account`` key ("" = no Sent
    copy), for the senders that set one; the others file into the account whose login is
    their address, if any (``salescli.mail.sent_copy``)."""
    return {address: str(table["imap_account"]).strip()
            for address, table in config["tables"].items() if "imap_account" in table}


def load(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Read and check the configuration once per run (the limits in the environment and
    the ``[[senders]]`` tables): ``for_address`` then builds each sender."""
    env = dict(os.environ if env is None else env)
    limits = {name: _number(name, env[name], cast)
              for name, cast in (("SALESCLI_SEND_DAILY_CAP", int), ("SALESCLI_SEND_MIN_GAP", float))
              if env.get(name, "").strip()}
    return {"env": env, "tables": _tables(env), "limits": limits}


def for_address(config: dict[str, Any], address: str) -> Sender:
    """The sender for ``address``: its ``[[senders]]`` table, else ``SALESCLI_SMTP_*``."""
    env, table = config["env"], config["tables"].get(address.lower())
    if table is not None:
        where = f"senders.{address}"
        if not table.get("smtp_host"):
            raise InvalidValue(f"{where}.smtp_host", None, "is required")
        secret_var = table.get("smtp_password_env")
        user = str(table.get("smtp_user", ""))
        password = env.get(str(secret_var), "") if secret_var else ""
        if user and not password:  # name the table's setting, not SALESCLI_SMTP_PASSWORD
            if not secret_var:
                raise InvalidValue(f"{where}.smtp_password_env", None,
                                   f"is required to log in as smtp_user {user!r}")
            raise InvalidValue(str(secret_var), "", f"is not set ({where}.smtp_password_env"
                                                    f" names it, to log in as {user!r})")
        values = {"SALESCLI_SMTP_HOST": str(table["smtp_host"]),
                  "SALESCLI_SMTP_PORT": str(table.get("smtp_port", "")),
                  "SALESCLI_SMTP_SSL": str(table.get("smtp_ssl", "starttls")),
                  "SALESCLI_SMTP_USER": user,
                  "SALESCLI_SMTP_PASSWORD": password,
                  "SALESCLI_SMTP_CA": str(table.get("smtp_ca", "")),
                  "SALESCLI_SMTP_TIMEOUT": env.get("SALESCLI_SMTP_TIMEOUT", "")}
        settings = smtp.settings_from_env(values)
        cap = _number(f"{where}.daily_cap", table.get("daily_cap", DEFAULT_DAILY_CAP), int)
        gap = _number(f"{where}.min_gap", table.get("min_gap", DEFAULT_MIN_GAP), float)
    else:
        settings = smtp.settings_from_env(env)
        cap, gap = DEFAULT_DAILY_CAP, DEFAULT_MIN_GAP
    # The environment's limits (read and checked once, by load) override every sender's.
    cap = config["limits"].get("SALESCLI_SEND_DAILY_CAP", cap)
    gap = config["limits"].get("SALESCLI_SEND_MIN_GAP", gap)
    return Sender(address=address.lower(), settings=settings, daily_cap=cap, min_gap=gap)
