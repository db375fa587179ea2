"""The web application's session cookie on the HTTP side: who is signed in, sign-in
redirects, the cookie's attributes, and cross-site request forgery checks.

For a page or a route of another face (the OHIF viewer at ``/viewer/``)::

    who = await signed_in(request)          # the Principal, or None
    if who is None:
        return sign_in_redirect(request)    # 303 to /signin?next=<this path and query>

The cookie (``openpacs_session``, see :mod:`openpacs.services.sessions`) is HttpOnly,
SameSite=Lax, ``Path=/``, and Secure when the public URL is https, the request came over
https, or a trusted proxy (``OPENPACS_TRUST_PROXY``) says so in ``X-Forwarded-Proto``.
:class:`WebSessionMiddleware` checks its signature and times on every request (no I/O)
and re-issues it when its "last seen" time is a minute old, so that only an idle browser
is signed out; :func:`signed_in` then reads the user (one short query).

CSRF: every state-changing request authenticated by the cookie must carry the session's
synchronizer token (form field ``csrf_token`` or header ``X-CSRF-Token``, from
:func:`csrf_token`) and must not come from another origin (``Origin``, or
``Sec-Fetch-Site: cross-site`` when a browser sends no Origin): :func:`csrf_refusal`.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, urlsplit

import anyio
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpacs.services.principal import Principal
from openpacs.services.sessions import COOKIE_NAME, SessionKeeper, SessionToken
from openpacs.settings import Settings

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "SESSION_ENDED",
    "SIGN_IN_PATH",
    "WebSessionMiddleware",
    "clear_session_cookie",
    "csrf_refusal",
    "csrf_token",
    "keeper",
    "referring_path",
    "safe_next",
    "set_session_cookie",
    "sign_in_redirect",
    "signed_in",
]

SIGN_IN_PATH = "/signin"
#: The 401 of a call made with a session cookie that no longer works (no Basic challenge).
SESSION_ENDED = "your session has ended; sign in again"
CSRF_HEADER = "x-csrf-token"
_STATE_TOKEN = "web_session"  # noqa: S105 - a state key, not a secret
_STATE_PRINCIPAL = "web_principal"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def keeper(conn: HTTPConnection) -> SessionKeeper:
    sessions: SessionKeeper = conn.app.state.sessions
    return sessions


def _settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.ctx.settings
    return settings


# -- reading the cookie ---------------------------------------------------------------------


def cookie_values(headers: list[tuple[bytes, bytes]]) -> list[str]:
    """Every value of our cookie in raw ASGI headers (a browser may send more than one)."""
    values: list[str] = []
    for name, raw in headers:
        if name != b"cookie":
            continue
        for item in raw.decode("latin-1").split(";"):
            key, sep, value = item.strip().partition("=")
            if sep and key == COOKIE_NAME:
                values.append(value.strip().strip('"'))
    return values


def session_token(conn: HTTPConnection) -> SessionToken | None:
    """The request's valid session token (checked by :class:`WebSessionMiddleware`)."""
    token: SessionToken | None = conn.scope.get("state", {}).get(_STATE_TOKEN)
    return token


async def signed_in(conn: HTTPConnection) -> Principal | None:
    """The signed-in user of this request (cookie), or None. Reads the user row once
    per request: a disabled user or a changed password ends the session at once."""
    state = conn.scope.setdefault("state", {})
    if _STATE_PRINCIPAL in state:
        cached: Principal | None = state[_STATE_PRINCIPAL]
        return cached
    token = session_token(conn)
    who: Principal | None = None
    if token is not None:
        found = await anyio.to_thread.run_sync(keeper(conn).principal, token)
        if found is not None:
            who = replace(found[0], client=conn.client.host if conn.client else "")
    state[_STATE_PRINCIPAL] = who
    return who


def csrf_token(conn: HTTPConnection) -> str:
    """The synchronizer token of this request's session ("" without one)."""
    token = session_token(conn)
    return "" if token is None else keeper(conn).csrf_token(token)


# -- redirects ------------------------------------------------------------------------------


def safe_next(value: str) -> str:
    """``value`` if it is a same-site relative path (``/orders?page=2``), else ""."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return ""
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return ""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return ""
    return value


def sign_in_redirect(conn: HTTPConnection) -> RedirectResponse:
    """303 to the sign-in page, which comes back here (path and query) afterwards."""
    here = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
    target = SIGN_IN_PATH
    if safe_next(here) and here not in ("/", SIGN_IN_PATH):
        target += "?next=" + quote(here, safe="/")
    return RedirectResponse(url_path(conn, target), status_code=303)


def url_path(conn: HTTPConnection, path: str) -> str:
    """A path of this server as the browser sees it (behind a proxy under a prefix)."""
    prefix = urlsplit(_settings(conn).effective_public_url).path.rstrip("/")
    return prefix + path


# -- writing the cookie ---------------------------------------------------------------------


def is_secure(scope: Scope, settings: Settings) -> bool:
    """Whether the browser reached us over https (as far as we may believe)."""
    if settings.effective_public_url.startswith("https:") or scope.get("scheme") == "https":
        return True
    if settings.trust_proxy:
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-proto":
                proto = str(value.decode("latin-1")).split(",")[0].strip().lower()
                return proto == "https"
    return False


def _cookie_header(value: str, max_age: int, secure: bool) -> str:
    parts = [f"{COOKIE_NAME}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def set_session_cookie(response: Response, conn: HTTPConnection, value: str) -> None:
    max_age = keeper(conn).max_seconds
    header = _cookie_header(value, max_age, is_secure(conn.scope, _settings(conn)))
    response.raw_headers.append((b"set-cookie", header.encode("latin-1")))


def clear_session_cookie(response: Response, conn: HTTPConnection) -> None:
    header = _cookie_header("", 0, is_secure(conn.scope, _settings(conn)))
    response.raw_headers.append((b"set-cookie", header.encode("latin-1")))


class WebSessionMiddleware:
    """Checks the session cookie of every HTTP request (signature and times, no I/O),
    keeps the token in the request state, and renews the cookie's "last seen" once a
    minute on the way out (unless the response sets the cookie itself)."""

    def __init__(self, app: ASGIApp, sessions: SessionKeeper, settings: Settings) -> None:
        self.app = app
        self.sessions = sessions
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = None
        for value in cookie_values(scope["headers"]):
            token = self.sessions.decode(value)
            if token is not None:
                break
        state = scope.setdefault("state", {})
        state[_STATE_TOKEN] = token
        renewed = self.sessions.refreshed(token) if token is not None else None
        if renewed is None:
            await self.app(scope, receive, send)
            return
        header = _cookie_header(
            self.sessions.encode(renewed),
            self.sessions.max_seconds - (renewed.seen - renewed.issued),
            is_secure(scope, self.settings),
        ).encode("latin-1")

        async def send_renewed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                sets_own = any(
                    name.lower() == b"set-cookie" and value.startswith(COOKIE_NAME.encode() + b"=")
                    for name, value in headers
                )
                if not sets_own and message.get("status", 200) < 400:
                    headers.append((b"set-cookie", header))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_renewed)


# -- cross-site request forgery -------------------------------------------------------------


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def cross_site(scope: Scope, settings: Settings) -> bool:
    """True when the browser says the request comes from a page of another origin."""
    origin = _header(scope, b"origin")
    if origin is None:
        return (_header(scope, b"sec-fetch-site") or "").lower() == "cross-site"
    return origin.strip().lower() not in _own_origins(scope, settings)


def _own_origins(scope: Scope, settings: Settings) -> set[str]:
    """The origins that are this server: the public URL's and the Host the browser used."""
    allowed = {_origin_of(settings.effective_public_url)}
    host = _header(scope, b"host")
    if host:
        scheme = "https" if is_secure(scope, settings) else scope.get("scheme", "http")
        allowed.add(f"{scheme}://{host.strip().lower()}")
        allowed.add(f"http://{host.strip().lower()}")  # a proxy that terminates TLS
    return allowed


def referring_path(conn: HTTPConnection) -> str:
    """The path and query of the page of ours that sent this request (its ``Referer``),
    or "" when there is none or it is another site's: a link back that can never lead
    elsewhere (no open redirect)."""
    referer = _header(conn.scope, b"referer") or ""
    if _origin_of(referer) not in _own_origins(conn.scope, _settings(conn)):
        return ""
    parts = urlsplit(referer)
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def csrf_refusal(
    scope: Scope, sessions: SessionKeeper, settings: Settings, token: SessionToken, given: str
) -> str:
    """Why a state-changing request made with the session cookie is refused ("" if not)."""
    if cross_site(scope, settings):
        return "a request from another site may not act with your session (CSRF)"
    if not sessions.csrf_ok(token, given):
        return "the form or request lacks this session's CSRF token; reload the page and try again"
    return ""


def csrf_header(scope: Scope) -> str:
    return _header(scope, CSRF_HEADER.encode()) or ""
