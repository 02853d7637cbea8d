"""The salescli Datasette plugin: sign-in, roles and guards for Datasette 0.65.

The only module that imports Datasette. Hooks stay thin; every decision is a
plain function in ``salescli.web.auth``. An ASGI wrapper authenticates each request
once, turns away anonymous requests, write methods and CSV for roles without
export, and adds security headers; ``actor_from_request`` hands its result on.
"""

from __future__ import annotations

import asyncio
import codecs
import html
import json
import secrets
import time
import types
import urllib.parse
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils import baseconv
from datasette.utils.asgi import Response
from itsdangerous import BadSignature

from salescli.core.enums import Role
from salescli.core.errors import SalescliError
from salescli.web import auth, csvguard, facets, sqlguard, tokens, unsubscribe_page
from salescli.web.auth import Action
from salescli.web.database import ReadOnlyDatabase, sales_datasette
from salescli.web.redirects import browser_normalised, safe_next
from salescli.web.tokens import SigninEvent, TokenRejected

SCOPE_KEY = "salescli.actor"
DEFAULT_PERMISSIONS = "datasette.default_permissions"
MARKDOWN_PLUGIN = "render_markdown"
COOKIE = "ds_actor"
PUBLIC_PATHS = frozenset({"/-/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/-/static/", "/-/static-plugins/")
FORM_PATHS = frozenset({"/-/login", "/-/logout"})
MAX_FORM_BYTES = 16 * 1024
MAX_TOKEN_CHARS = 8192
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", b"frame-ancestors 'self'; object-src 'none'; base-uri 'self'"),
]

LOGIN_TEMPLATE = """{% extends "base.html" %}
{% block title %}Sign in{% endblock %}
{% block content %}
<h1>Sign in</h1>
{% if error %}<p class="message-error">{{ error }}</p>{% endif %}
{% if actor %}<p>Signed in as <strong>{{ actor.id }}</strong> ({{ actor.role }}).</p>{% endif %}
<form class="core" action="{{ urls.path('-/login') }}" method="post">
  <input type="hidden" name="csrftoken" value="{{ csrftoken() }}">
  <input type="hidden" name="next" value="{{ next }}">
  <p><label for="username">Username</label>
     <input id="username" name="username" autocomplete="username" value="{{ username }}"
            required autofocus></p>
  <p><label for="password">Password</label>
     <input id="password" name="password" type="password" autocomplete="current-password"
            required></p>
  <p><input type="submit" value="Sign in"></p>
</form>
{% endblock %}"""

LOGOUT_TEMPLATE = """{% extends "base.html" %}
{% block title %}Sign out{% endblock %}
{% block content %}
<h1>Sign out</h1>
<p>Signed in as <strong>{{ actor.id }}</strong> ({{ actor.role }}).</p>
<form class="core" action="{{ urls.path('-/logout') }}" method="post">
  <input type="hidden" name="csrftoken" value="{{ csrftoken() }}">
  <input type="submit" value="Sign out">
</form>
{% endblock %}"""


def make_datasette(db_file: str | Path, *, metadata: dict, settings: dict, secret: bytes
                   ) -> Any:
    """A Datasette serving ``db_file`` read-only as /sales, its signing key derived from
    ``secret`` (so cookies survive a restart), with our authenticator attached."""
    path = Path(db_file).resolve()
    ds = sales_datasette()(files=[], metadata=metadata, settings=settings,
                   secret=auth.derived_secret(secret))
    for name in [n for n in ds.databases if n != "_internal"]:
        ds.remove_database(name)
    ds.add_database(ReadOnlyDatabase(ds, path=str(path), is_mutable=True),
                    name=auth.SERVED_DATABASE, route=auth.SERVED_DATABASE)
    ds._salescli_auth = auth.WebAuth(path, secret)
    ds.jinja_env.auto_reload = False  # templates ship with the code: no stat per page
    _drop_costly_hooks()
    return ds


def _drop_costly_hooks() -> None:
    """Unregister Datasette's default ``permission_allowed``: ours runs last and always
    answers, so its answer never counts, yet it deep-copies the whole metadata (canned
    queries, dashboards) on every table check — dozens per page, most of a page's CPU.
    Keep datasette-render-markdown (datasette-dashboards' templates use it) without its
    ``render_cell``: it looks the metadata up for every cell of every page (~12% of the
    CPU of a 50-row prospects page) to convert ``*_markdown`` columns, and we have none."""
    import sys

    from datasette.plugins import pm

    if not pm.is_registered(sys.modules[__name__]):
        return
    if pm.has_plugin(DEFAULT_PERMISSIONS):
        pm.unregister(name=DEFAULT_PERMISSIONS)
    if pm.has_plugin(facets.BUILTIN_FACETS):  # ours asks for every column at once
        pm.unregister(name=facets.BUILTIN_FACETS)
        pm.register(facets, name="salescli.facets")
    markdown = pm.get_plugin(MARKDOWN_PLUGIN)
    if markdown is not None:
        pm.unregister(markdown)
        templates = types.ModuleType(markdown.__name__ + "_templates")  # Datasette lists modules
        templates.extra_template_vars = markdown.extra_template_vars
        templates.prepare_jinja2_environment = markdown.prepare_jinja2_environment
        pm.register(templates, name=MARKDOWN_PLUGIN + "-templates")


def _web_auth(datasette: Any) -> auth.WebAuth | None:
    """The authenticator; built on first use for a plain ``datasette`` run. None = fail closed."""
    web_auth = getattr(datasette, "_salescli_auth", None)
    if web_auth is None:
        db = datasette.databases.get(auth.SERVED_DATABASE)
        try:
            if db is None or not db.path:
                return None
            web_auth = auth.WebAuth(db.path, tokens.load_secret())
        except SalescliError:
            return None
        datasette._salescli_auth = web_auth
    return web_auth


# --- the refused-credential log, bounded per remote address --------------------------

_refusals: dict[str, list[float]] = {}
REFUSALS_PER_MINUTE = 30


def _log_refusal(web_auth: auth.WebAuth, event: SigninEvent, username: str | None,
                 remote: str | None, reason: str) -> None:
    """Log a refused token or session, at most 30 rows a minute per address (the rest are
    counted into the next row) so that a flood of junk tokens cannot fill the disk."""
    key = remote or "-"
    window = _refusals.setdefault(key, [time.monotonic(), 0, 0])
    if time.monotonic() - window[0] > 60:
        window[:] = [time.monotonic(), 0, window[2]]
    window[1] += 1
    if window[1] > REFUSALS_PER_MINUTE:
        window[2] += 1
        return
    detail = {"reason": reason}
    if window[2]:
        detail["suppressed_before"] = window[2]
        window[2] = 0
    if len(_refusals) > 10_000:
        _refusals.clear()
    task = asyncio.get_running_loop().run_in_executor(
        None, web_auth.log, event, username, remote, detail)
    _pending.add(task)
    task.add_done_callback(_pending.discard)


_pending: set = set()


# --- request authentication -------------------------------------------------------------


def _text(raw: bytes) -> str:
    """Bytes of a request or response head as text, a character a byte (latin-1, as ASGI
    servers read them). Through ``codecs``, not ``.decode("latin-1")``: a codec's name may be
    spelt in any case, so that spelling's mutants would be equivalent."""
    return codecs.latin_1_decode(raw)[0]


def _raw(text: str) -> bytes:
    """The inverse of ``_text``."""
    return codecs.latin_1_encode(text)[0]


def _headers(scope: dict) -> dict[str, str]:
    return {_text(k).lower(): _text(v) for k, v in scope["headers"]}


def _remote(scope: dict) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {k: v.value for k, v in jar.items()}


def _session_from_cookie(datasette: Any, value: str) -> Any:
    """The session dict inside a signed, unexpired ``ds_actor`` cookie, or TokenRejected."""
    try:
        decoded = datasette.unsign(value, "actor")
    except BadSignature:
        raise TokenRejected("bad cookie signature") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("e"), str):
        raise TokenRejected("malformed session")
    try:
        expires = int(baseconv.base62.decode(decoded["e"]))
    except (ValueError, IndexError):
        raise TokenRejected("malformed session") from None
    if time.time() > expires:
        raise TokenRejected("session expired")
    return decoded.get("a")


def authenticate(datasette: Any, scope: dict) -> tuple[dict | None, str | None]:
    """(actor, refusal reason) for a request: a bearer JWT if one is sent, else the login
    cookie, checked against the databases every time. Refusals are logged."""
    web_auth = _web_auth(datasette)
    if web_auth is None:
        return None, "not configured"
    headers = _headers(scope)
    remote = _remote(scope)
    if "authorization" in headers:
        scheme, _, token = headers["authorization"].strip().partition(" ")
        token = token.strip()
        try:
            if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
                raise TokenRejected("malformed authorization header")
            return web_auth.actor_for_token(token), None
        except TokenRejected as exc:
            _log_refusal(web_auth, SigninEvent.TOKEN_REFUSED,
                         tokens.unverified_subject(token) if len(token) <= MAX_TOKEN_CHARS
                         else None, remote, exc.reason)
            return None, exc.reason
    cookie = _cookies(headers.get("cookie", "")).get(COOKIE)
    if cookie:
        session = None
        try:
            session = _session_from_cookie(datasette, cookie)
            return web_auth.actor_for_session(session), None
        except TokenRejected as exc:
            user = session.get("id") if isinstance(session, dict) else None
            _log_refusal(web_auth, SigninEvent.SESSION_REFUSED,
                         user if isinstance(user, str) else None, remote, exc.reason)
            return None, exc.reason
    return None, None


# --- the ASGI guard ------------------------------------------------------------------------


def _route_path(scope: dict) -> str:
    raw = scope.get("raw_path")
    path = _text(raw) if raw else scope["path"]
    return path.partition("?")[0]


def is_csv_request(scope: dict) -> bool:
    """CSV output: a ``.csv`` path (raw or decoded) or a ``_stream``/``_format``/``_dl`` arg."""
    paths = (_route_path(scope), scope["path"])
    if any(p.rstrip("/").lower().endswith(".csv") for p in paths):
        return True
    query = urllib.parse.parse_qs(_text(scope.get("query_string", b"")),
                                  keep_blank_values=True)
    return any(k.lower() in ("_stream", "_format", "_dl") for k in query)


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _wants_html(scope: dict, path: str) -> bool:
    last = path.rsplit("/", 1)[-1].lower()
    if "." in last and not last.endswith(".html"):  # .json, .csv, any other extension
        return False
    return "text/html" in _headers(scope).get("accept", "")


def _strip_cookie(scope: dict, name: str) -> dict:
    """The scope without one cookie, so Datasette's own cookie hook never sees it."""
    out = []
    for key, value in scope["headers"]:
        if key.lower() == b"cookie":
            kept = [c for c in _text(value).split(";")
                    if c.strip().partition("=")[0] != name]
            value = _raw(";".join(kept))
        out.append((key, value))
    return {**scope, "headers": out}


async def _reply(send, status: int, body: bytes, content_type: str,
                 extra: list[tuple[bytes, bytes]] = ()) -> None:
    headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store"),
               (b"content-length", str(len(body)).encode()), *extra, *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _deny(send, status: int, message: str, extra: list = ()) -> None:
    body = json.dumps({"ok": False, "error": message, "status": status}).encode()
    await _reply(send, status, body, "application/json; charset=utf-8", list(extra))


def _same_site_location(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """A Location that a browser would read as ``//host`` (Datasette's trailing-slash
    redirect turns ``/\\evil.example/`` into ``/\\evil.example``) goes to ``/`` instead."""
    name, value = header
    if name.lower() == b"location" and browser_normalised(_text(value)).startswith("//"):
        return name, b"/"
    return header


def guard(datasette: Any, app: Any) -> Any:
    """The ASGI app in front of Datasette (see the module docstring)."""

    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        path = _route_path(scope)
        method = scope["method"]

        async def secure_send(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*map(_same_site_location,
                                                       message.get("headers", [])),
                                                  *SECURITY_HEADERS]}
            await send(message)

        if path.startswith(unsubscribe_page.PREFIX):  # public: the link in our mail
            web_auth = _web_auth(datasette)
            if web_auth is None:
                return await _deny(send, 503, "salescli web is not configured")
            return await unsubscribe_page.serve(scope, receive, send, web_auth.sales_db,
                                                web_auth.secret)
        if method not in ("GET", "HEAD") and not (method == "POST" and path in FORM_PATHS):
            return await _deny(send, 405, "the web server is read-only",
                               [(b"allow", b"GET, HEAD")])
        if method == "POST":  # forms are small and always say how small
            length = _headers(scope).get("content-length", "")
            if not length.isdigit():
                return await _deny(send, 411, "Content-Length required")
            if int(length) > MAX_FORM_BYTES:
                return await _deny(send, 413, "form too large")
        actor, refused = authenticate(datasette, scope)
        if refused == "not configured":
            return await _deny(send, 503, "salescli web sign-in is not configured:"
                               " serve with salescli serve and SALESCLI_SECRET")
        if actor is None and refused and COOKIE in _cookies(_headers(scope).get("cookie", "")):
            scope = _strip_cookie(scope, COOKIE)
        scope = {**scope, SCOPE_KEY: actor}
        if actor is None and not _is_public(path):
            if refused is None and _wants_html(scope, path):
                target = path + ("?" + _text(scope["query_string"])
                                 if scope.get("query_string") else "")
                location = "/-/login?" + urllib.parse.urlencode({"next": target})
                return await _reply(send, 302, b"", "text/plain",
                                    [(b"location", _raw(location))])
            challenge = b'Bearer realm="salescli"'
            if refused:
                challenge += b', error="invalid_token"'
            return await _deny(send, 401, "sign in or send Authorization: Bearer <token>",
                               [(b"www-authenticate", challenge)])
        if auth.is_admin_page(path) or auth.is_admin_page(scope["path"]):
            if auth.actor_role(actor) != Role.ADMIN:
                return await _deny(send, 403, "this page is for admins only")
        if is_csv_request(scope):
            if not auth.is_allowed(actor, Action.EXPORT_CSV):
                return await _deny(send, 403, f"CSV export is not allowed for the role "
                                   f"{auth.actor_role(actor) or 'anonymous'}")
            raw, scope = csvguard.wants_raw(scope)
            if not raw:
                return await app(scope, receive, csvguard.guarding_send(secure_send))
        return await app(facets.without_default_facets(scope, path), receive, secure_send)

    return guarded


# --- hooks ---------------------------------------------------------------------------------


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: guard(datasette, app)


@hookimpl(tryfirst=True)
def actor_from_request(datasette, request):
    """The actor the guard authenticated (first, so Datasette's cookie hook never decides)."""
    if SCOPE_KEY in request.scope:
        return request.scope[SCOPE_KEY]
    return authenticate(datasette, request.scope)[0]


@hookimpl(trylast=True)
def permission_allowed(datasette, actor, action, resource):
    """Always an answer, and the last one, so it wins over any table-level ``allow``."""
    return auth.is_allowed(actor, action, resource)


@hookimpl
def prepare_connection(conn, database, datasette):
    """``html_escape(text)`` for dashboard table charts (they insert cells as HTML),
    ``local_today()`` (today in ``SALESCLI_TZ``, for due days), a read-only guard and the
    SQL authorizer (``sqlguard``) on the sales database."""
    if database == auth.SERVED_DATABASE:
        conn.create_function("html_escape", 1, _html_escape, deterministic=True)
        conn.create_function("local_today", 0, lambda: _local_today(datasette))
        conn.execute("PRAGMA query_only = 1")
        sqlguard.restrict(conn)


def _local_today(datasette: Any) -> str:
    """Today's date in ``SALESCLI_TZ`` by the authenticator's clock (tests set it)."""
    from datetime import UTC, datetime

    from salescli.core.timeutil import zone

    web_auth = getattr(datasette, "_salescli_auth", None)
    moment = web_auth.clock() if web_auth is not None else datetime.now(UTC)
    return moment.astimezone(zone()).date().isoformat()


def _html_escape(value: Any) -> Any:
    return html.escape(value, quote=True) if isinstance(value, str) else value


@hookimpl
def register_routes():
    return [(r"^/-/login$", login_view), (r"^/-/logout$", logout_view)]


# --- login and logout pages --------------------------------------------------------------


def _csrf_ok(request, form: dict[str, str]) -> bool:
    """asgi-csrf lets a POST without cookies through; we insist on the cookie+field pair."""
    cookie = request.cookies.get("ds_csrftoken", "")
    return bool(cookie) and secrets.compare_digest(form.get("csrftoken", ""), cookie)


async def _page(datasette, request, source: str, context: dict, status: int = 200):
    template = datasette.jinja_env.from_string(source)
    body = await datasette.render_template(template, context, request=request)
    return Response.html(body, status=status)


async def login_view(request, datasette):
    web_auth = _web_auth(datasette)
    context = {"error": "", "username": "", "next": safe_next(request.args.get("next")),
               "actor": request.actor if auth.actor_role(request.actor) else None}
    if request.method != "POST":
        return await _page(datasette, request, LOGIN_TEMPLATE, context)
    form = await request.post_vars()
    context.update(username=form.get("username", "")[:64], next=safe_next(form.get("next")))
    if not _csrf_ok(request, form):
        context["error"] = "The form expired. Please try again."
        return await _page(datasette, request, LOGIN_TEMPLATE, context, status=403)
    result = await asyncio.to_thread(web_auth.login, form.get("username", ""),
                                     form.get("password", ""), _remote(request.scope))
    if not result.ok:
        context["error"] = result.message
        page = await _page(datasette, request, LOGIN_TEMPLATE, context, status=result.status)
        if result.retry_after:
            page.headers["Retry-After"] = str(result.retry_after)
        return page
    response = Response.redirect(context["next"] or auth.landing_page(result.role))
    cookie = datasette.sign({"a": result.session, "e": baseconv.base62.encode(result.expires)},
                            "actor")
    response.set_cookie(COOKIE, cookie, max_age=int(result.expires - time.time()),
                        httponly=True, secure=request.scheme == "https", samesite="lax")
    return response


async def logout_view(request, datasette):
    actor = request.actor
    if request.method != "POST":
        return await _page(datasette, request, LOGOUT_TEMPLATE, {"actor": actor})
    form = await request.post_vars()
    if not _csrf_ok(request, form):
        return await _page(datasette, request, LOGOUT_TEMPLATE, {"actor": actor}, status=403)
    await asyncio.to_thread(_web_auth(datasette).logout, actor, _remote(request.scope))
    response = Response.redirect("/-/login")
    response.set_cookie(COOKIE, "", max_age=0, expires=0, httponly=True)
    return response
