"""ASGI middleware: path tolerance, authentication, access logs."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from typing import Any

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpacs.protocol.basic_auth import basic_credentials, bearer_token
from openpacs.services.audit import FAILURE, AuditTrail, Event
from openpacs.services.auth import Authenticator, AuthResult
from openpacs.services.ratelimit import FailureLimiter, retry_after_header
from openpacs.services.sessions import SessionKeeper, SessionToken
from openpacs.settings import Settings
from openpacs.web.errors import error_response
from openpacs.web.session_auth import (
    SAFE_METHODS,
    SESSION_ENDED,
    cookie_values,
    csrf_header,
    csrf_refusal,
)

_SLASHES = re.compile(r"/{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A share link's token is its secret: logs keep only enough of it to tell links apart.
_SHARE_TOKEN = re.compile(r"^(/share/[^/]{6})[^/]*")
access_log = logging.getLogger("openpacs.access")


class NormalisePathMiddleware:
    """Collapse ``//`` and drop a trailing slash in place: never redirect (SPEC section 4).

    .NET drops the Authorization header on redirects and turns a POST into a GET, so
    ``{WebAddress}/`` and ``{WebAddress}//studies`` must be answered where they are.
    A path with control characters (``%00``, ``%0A``...) names nothing that can exist
    here: it is refused with 400 before anything looks it up.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if _CONTROL.search(scope["path"]):
                reason = "the URL path contains control characters (such as %00 or %0A)"
                await error_response(400, reason)(scope, receive, send)
                return
            path = _SLASHES.sub("/", scope["path"])
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/") or "/"
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


class BasicAuthMiddleware:
    """Every request under the protected prefix carries valid credentials: HTTP Basic
    (e-mail and password, or e-mail and an API token as the password, so PostDICOM-style
    clients work unchanged with a token) or ``Authorization: Bearer <API token>``.

    Wrong passwords are limited per user name (:mod:`openpacs.services.ratelimit`): after
    10 failures within 15 minutes that name gets 429 with ``Retry-After`` without a
    password check, except for credentials verified successfully in the last minute (the
    authenticator's cache), so a client that is already working is not locked out by
    someone guessing its password. Before the cache is trusted, the login epoch is read
    when it is due (about once a second, in a worker thread), so a disabled user, a new
    password or a revoked token stops working within seconds on every process.
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        prefix: str,
        limiter: FailureLimiter | None = None,
        audit: AuditTrail | None = None,
        sessions: SessionKeeper | None = None,
        settings: Settings | None = None,
        csrf_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.prefix = prefix
        self.limiter = limiter or FailureLimiter()
        self.audit = audit
        # The web application's session cookie (services/sessions.py), for same-origin
        # browser calls without an Authorization header. ``csrf_paths`` are paths whose
        # every call changes or may change state (the custom API answers GET too): the
        # cookie needs the CSRF token there whatever the method.
        self.sessions = sessions
        self.settings = settings
        self.csrf_paths = csrf_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (
            scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/")
        ):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        header = _authorization(scope)
        if header is None and self.sessions is not None:
            token = scope.get("state", {}).get("web_session")
            if token is not None:
                await self._with_session(scope, receive, send, token)
                return
            if cookie_values(scope["headers"]):
                # A browser with an expired, revoked or altered session cookie: no Basic
                # challenge, or the browser would pop its own login dialog (inside OHIF).
                await error_response(401, SESSION_ENDED)(scope, receive, send)
                return
        credentials = basic_credentials(header) if header is not None else None
        token = bearer_token(header) if header is not None else None
        if credentials is None and token is None:
            await self._deny(
                scope, receive, send, 401, "authentication required (HTTP Basic or Bearer token)"
            )
            return
        if self.authenticator.epoch_due():
            await anyio.to_thread.run_sync(self.authenticator.check_epoch)
        result: AuthResult | None
        if token is not None:
            result = self.authenticator.cached_bearer(token)
            if result is None:
                result = await anyio.to_thread.run_sync(
                    self.authenticator.authenticate_bearer, token
                )
        else:
            assert credentials is not None
            result = await self._basic(scope, receive, send, credentials)
            if result is None:
                return
        if result.principal is None:
            await self._record_failure(scope, result)
            if result.refusal:
                await self._deny(scope, receive, send, 403, result.refusal)
            else:
                await self._deny(scope, receive, send, 401, result.reason)
            return
        if not result.dicomweb_enabled:
            await self._deny(
                scope, receive, send, 403, "DICOMweb access is disabled for this account"
            )
            return
        client = scope.get("client")
        address = client[0] if client else ""
        scope.setdefault("state", {})["principal"] = replace(result.principal, client=address)
        await self.app(scope, receive, send)

    async def _with_session(
        self, scope: Scope, receive: Receive, send: Send, token: SessionToken
    ) -> None:
        """A browser call with the web application's session cookie (no Authorization)."""
        assert self.sessions is not None and self.settings is not None
        if scope["method"] not in SAFE_METHODS or scope["path"] in self.csrf_paths:
            given = csrf_header(scope)
            refusal = csrf_refusal(scope, self.sessions, self.settings, token, given)
            if refusal:
                await error_response(403, refusal)(scope, receive, send)
                return
        found = await anyio.to_thread.run_sync(self.sessions.principal, token)
        if found is None:
            await error_response(401, SESSION_ENDED)(scope, receive, send)
            return
        who, dicomweb_enabled = found
        if not dicomweb_enabled:
            reason = "DICOMweb access is disabled for this account"
            await error_response(403, reason)(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else ""
        scope.setdefault("state", {})["principal"] = replace(who, client=address)
        await self.app(scope, receive, send)

    async def _basic(
        self, scope: Scope, receive: Receive, send: Send, credentials: tuple[str, str]
    ) -> AuthResult | None:
        """The result of Basic credentials; None when a 429 was already answered."""
        result = self.authenticator.cached(*credentials)
        if result is not None:
            return result
        user_key = credentials[0].strip().lower()
        wait = self.limiter.blocked(user_key)
        if wait is not None:
            reason = "too many failed logins for this user name; try again later"
            response = error_response(429, reason, retry_after_header(wait))
            await response(scope, receive, send)
            return None
        result = await anyio.to_thread.run_sync(self.authenticator.authenticate, *credentials)
        if result.principal is None and not result.refusal:
            self.limiter.failure(user_key)
        else:
            self.limiter.success(user_key)
        return result

    async def _record_failure(self, scope: Scope, result: AuthResult) -> None:
        """A refused sign-in of a known user goes into their account's audit trail (wrong
        passwords are bounded by the rate limit, so this cannot flood it)."""
        if self.audit is None or result.attempted is None:
            return
        client = scope.get("client")
        event = Event.by(
            result.attempted,
            "login",
            outcome=FAILURE,
            detail=result.refusal or result.reason,
            client=client[0] if client else "",
        )
        await anyio.to_thread.run_sync(self.audit.record_durably, event)

    async def _deny(
        self, scope: Scope, receive: Receive, send: Send, code: int, reason: str
    ) -> None:
        headers = {"WWW-Authenticate": 'Basic realm="openpacs"'} if code == 401 else None
        response = error_response(code, reason, headers)
        await response(scope, receive, send)


class AccessLogMiddleware:
    """One structured (JSON) line per request: who, what, status, bytes, time. (Audit
    events are written by :class:`openpacs.web.audit.AuditMiddleware`.)"""

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests  # OPENPACS_ACCESS_LOG

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        info: dict[str, Any] = {"status": 500, "bytes": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                info["status"] = message["status"]
            elif message["type"] == "http.response.body":
                info["bytes"] += len(message.get("body", b""))
            await send(message)

        # Inner layers copy the scope; a state dict made here is shared with them all.
        state = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            principal = state.get("principal")
            client = scope.get("client")
            if self.log_requests and access_log.isEnabledFor(logging.INFO):
                record = {
                    "method": scope["method"],
                    "path": _SHARE_TOKEN.sub(r"\1...", scope["path"]),
                    "query": scope.get("query_string", b"").decode("latin-1")[:200],
                    "status": info["status"],
                    "bytes": info["bytes"],
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "user": getattr(principal, "email", None),
                    "share": getattr(principal, "share_id", None),
                    "client": client[0] if client else None,
                }
                access_log.info(orjson.dumps(record).decode())
