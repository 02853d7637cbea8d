"""One-click unsubscribe (RFC 8058) on the dashboard: ``/unsubscribe/TOKEN``, no sign-in.

``POST`` (what a mail provider sends for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``,
and what our confirm button sends) suppresses the address and ends its enrollments,
audited, and answers 200 again on a repeat. ``GET`` only shows a page with a confirm
button: link scanners and previews fetch every URL in a mail, so a GET never unsubscribes.
A token that is malformed, forged or whose enrollment is gone gets a 404 page.

A plain ASGI handler that the plugin's guard calls before Datasette (so no sign-in, no
Datasette CSRF cookie a mail provider could not have); the write goes through its own
connection to the sales database (Datasette's are read-only).
"""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path
from typing import Any

from salescli.core.db import open_read
from salescli.pipeline import unsubscribe as unsub

PATH = re.compile(r"^/unsubscribe/([^/]{1,100})/?$")
PREFIX = "/unsubscribe/"
ACTOR = "unsubscribe-link"
MAX_BODY = 16 * 1024
_HEADERS = [(b"cache-control", b"no-store"), (b"x-robots-tag", b"noindex"),
            (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline';"
             b" form-action 'self'; frame-ancestors 'none'")]

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:34em;margin:3em auto;padding:0 1em}}
button{{font-size:1.1em;padding:.4em 1.2em}}</style></head>
<body><h1>{title}</h1>{content}</body></html>"""


def _page(title: str, content: str) -> bytes:
    return _PAGE.format(title=html.escape(title), content=content).encode("utf-8")


def _confirm(address: str) -> bytes:
    return _page("Unsubscribe", f"<p>Stop all mail from us to <strong>{html.escape(address)}"
                 "</strong>?</p><form method=\"post\"><button type=\"submit\" name="
                 "\"List-Unsubscribe\" value=\"One-Click\">Unsubscribe</button></form>")


def _done(address: str) -> bytes:
    return _page("Unsubscribed", f"<p>You will get no more mail from us at <strong>"
                 f"{html.escape(address)}</strong>.</p>")


_INVALID = _page("Link not valid", "<p>This unsubscribe link is not valid (it may be "
                 "incomplete). Reply to our mail with the word <em>unsubscribe</em> and we "
                 "will stop writing to you.</p>")


def _lookup(db_file: Path, key: bytes, token: str) -> dict[str, Any] | None:
    conn = open_read(db_file)
    try:
        return unsub.resolve(conn, key, token)
    finally:
        conn.close()


def _unsubscribe(db_file: Path, key: bytes, token: str) -> dict[str, Any] | None:
    conn = open_read(db_file)  # a normal connection: the write is ours, not Datasette's
    try:
        found = unsub.resolve(conn, key, token)
        if found is None:
            return None
        unsub.unsubscribe(conn, ACTOR, found["email"],
                          reason=f"one-click unsubscribe (sequence {found['sequence']})")
        return found
    finally:
        conn.close()


async def _reply(send: Any, status: int, body: bytes, extra: list = ()) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8"),
               (b"content-length", str(len(body)).encode()), *_HEADERS, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Any) -> bool:
    """Read (and drop) the request body; False when it is larger than ``MAX_BODY``."""
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return True
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return False
        if not message.get("more_body"):
            return True


async def serve(scope: dict, receive: Any, send: Any, db_file: Path, secret: bytes) -> None:
    """Answer one request under ``/unsubscribe/`` (see the module docstring)."""
    match = PATH.match(scope["path"])
    method = scope["method"]
    if method not in ("GET", "HEAD", "POST"):
        return await _reply(send, 405, _page("Method not allowed", ""),
                            [(b"allow", b"GET, HEAD, POST")])
    if match is None:
        return await _reply(send, 404, _INVALID)
    key = unsub.key_from_secret(secret)
    token = match.group(1)
    if method == "POST":
        if not await _drain(receive):
            return await _reply(send, 413, _page("Request too large", ""))
        found = await asyncio.to_thread(_unsubscribe, db_file, key, token)
    else:
        found = await asyncio.to_thread(_lookup, db_file, key, token)
    if found is None:
        return await _reply(send, 404, _INVALID)
    return await _reply(send, 200, _done(found["email"]) if method == "POST"
                        else _confirm(found["email"]))
