"""ASGI middleware: path tolerance, authentication, access logs."""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from typing import Any

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpacs.services.auth import Authenticator
from openpacs.services.ratelimit import FailureLimiter, retry_after_header
from openpacs.web.errors import error_response

_SLASHES = re.compile(r"/{2,}")
access_log = logging.getLogger("openpacs.access")


class NormalisePathMiddleware:
    """Collapse ``//`` and drop a trailing slash in place: never redirect (SPEC section 4).

    .NET drops the Authorization header on redirects and turns a POST into a GET, so
    ``{WebAddress}/`` and ``{WebAddress}//studies`` must be answered where they are.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = _SLASHES.sub("/", scope["path"])
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/") or "/"
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def _basic_credentials(scope: Scope) -> tuple[str, str] | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, sep, password = decoded.partition(":")
            return (user, password) if sep else None
    return None


class BasicAuthMiddleware:
    """Every request under the protected prefix carries valid Basic credentials.

    Wrong passwords are limited per user name (:mod:`openpacs.services.ratelimit`): after
    10 failures within 15 minutes that name gets 429 with ``Retry-After`` without a
    password check, except for credentials verified successfully in the last minute (the
    authenticator's cache), so a client that is already working is not locked out by
    someone guessing its password.
    """

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        prefix: str,
        limiter: FailureLimiter | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.prefix = prefix
        self.limiter = limiter or FailureLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (
            scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/")
        ):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        credentials = _basic_credentials(scope)
        if credentials is None:
            await self._deny(scope, receive, send, 401, "authentication required (HTTP Basic)")
            return
        result = self.authenticator.cached(*credentials)
        if result is None:
            user_key = credentials[0].strip().lower()
            wait = self.limiter.blocked(user_key)
            if wait is not None:
                reason = "too many failed logins for this user name; try again later"
                response = error_response(429, reason, retry_after_header(wait))
                await response(scope, receive, send)
                return
            result = await anyio.to_thread.run_sync(self.authenticator.authenticate, *credentials)
            if result.principal is None:
                self.limiter.failure(user_key)
                await self._deny(scope, receive, send, 401, "wrong e-mail or password")
                return
            self.limiter.success(user_key)
        if not result.dicomweb_enabled:
            await self._deny(
                scope, receive, send, 403, "DICOMweb access is disabled for this account"
            )
            return
        scope.setdefault("state", {})["principal"] = result.principal
        await self.app(scope, receive, send)

    async def _deny(
        self, scope: Scope, receive: Receive, send: Send, code: int, reason: str
    ) -> None:
        headers = {"WWW-Authenticate": 'Basic realm="openpacs"'} if code == 401 else None
        response = error_response(code, reason, headers)
        await response(scope, receive, send)


class AccessLogMiddleware:
    """One structured (JSON) line per request: who, what, status, bytes, time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                principal = scope.get("state", {}).get("principal")
                client = scope.get("client")
                record = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "query": scope.get("query_string", b"").decode("latin-1")[:200],
                    "status": info["status"],
                    "bytes": info["bytes"],
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "user": getattr(principal, "email", None),
                    "share": getattr(principal, "share_id", None),
                    "client": client[0] if client else None,
                }
                access_log.info(orjson.dumps(record).decode())
