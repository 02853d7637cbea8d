"""``salescli tokens``: API tokens (JWT) for the dashboard's JSON and CSV API."""

from __future__ import annotations

import click

from salescli.cli.common import emit, format_option, settings
from salescli.core.errors import InvalidValue

COLUMNS = ["jti", "username", "role", "status", "issued_at", "expires_at", "revoked_at",
           "revoked_by"]


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens (needs SALESCLI_SECRET)."""


@tokens.command("create")
@click.argument("name")
@click.option("--expires", default="7d", show_default=True, metavar="DURATION",
              help="Lifetime: 30m, 12h, 7d, 2w (at most 366d).")
def create(name: str, expires: str) -> None:
    """Mint a token for user NAME with their current role; prints the token alone.

    \b
    Example:
      TOKEN=$(salescli tokens create alice --expires 30d)
      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8001/sales/prospects.json
    """
    from salescli.core.timeutil import parse_duration
    from salescli.web import tokens as token_store

    lifetime = parse_duration(expires, "--expires")
    try:
        token, _ = token_store.create_token(settings().db, name, lifetime, settings().actor)
    except InvalidValue as exc:  # name the lifetime as the user wrote it, not as 0:00:00
        if exc.field != "--expires":
            raise
        raise InvalidValue(exc.field, expires, exc.reason) from None
    click.echo(token)


@tokens.command("list")
@click.option("--sessions", is_flag=True, help="Also list browser sign-in sessions.")
@format_option()
def list_(sessions: bool, fmt: str) -> None:
    """Issued tokens, newest first, with their status (active, expired, revoked)."""
    from salescli.web import tokens as token_store

    emit(token_store.list_tokens(settings().db, include_sessions=sessions), fmt, columns=COLUMNS)


@tokens.command("revoke")
@click.argument("jti")
def revoke(jti: str) -> None:
    """Revoke the token (or session) JTI: refused from the next request on."""
    from salescli.web import tokens as token_store

    record = token_store.revoke_token(settings().db, jti, settings().actor)
    click.echo(f"revoked {record['jti']} ({record['username']})", err=True)
