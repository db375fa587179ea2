"""ASGI middleware: path tolerance, authentication, access logs."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpacs.protocol.basic_auth import basic_credentials
from openpacs.services.audit import AuditTrail, Event
from openpacs.services.auth import Authenticator
from openpacs.services.ratelimit import FailureLimiter, retry_after_header
from openpacs.web.errors import error_response

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


def _basic_credentials(scope: Scope) -> tuple[str, str] | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return basic_credentials(value.decode("latin-1"))
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


# Reads of a study through a DICOMweb root (the account's or a share's), for the audit trail.
_STUDY_READ = re.compile(r"^(?:/share/[^/]+)?/dicomweb/studies/(?!series(?:/|$))([^/]+)(?:/(.*))?$")


def study_read_action(path: str) -> tuple[str, str] | None:
    """(action, StudyInstanceUID) for a GET of study content, else None."""
    match = _STUDY_READ.match(path)
    if match is None:
        return None
    rest = match.group(2) or ""
    if rest.endswith("metadata"):
        return "study.metadata", match.group(1)
    if any(part in rest for part in ("rendered", "thumbnail", "frames", "bulkdata")):
        return "study.view", match.group(1)
    if rest.endswith("series") or rest.endswith("instances"):
        return None  # a QIDO search inside the study
    return "study.retrieve", match.group(1)


class AccessLogMiddleware:
    """One structured (JSON) line per request: who, what, status, bytes, time; and an
    audit event for every successful read of a study's content."""

    def __init__(
        self, app: ASGIApp, audit: AuditTrail | None = None, *, log_requests: bool = True
    ) -> None:
        self.app = app
        self.audit = audit
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
            if self.audit is not None and principal is not None and info["status"] < 300:
                path = _SLASHES.sub("/", scope["path"])
                read = study_read_action(path) if scope["method"] == "GET" else None
                if read is not None:
                    self.audit.record(
                        Event(
                            account_id=principal.account_id,
                            action=read[0],
                            study_instance_uid=read[1],
                            user_id=principal.user_id,
                            share_id=principal.share_id,
                            detail=_SHARE_TOKEN.sub(r"\1...", scope["path"])[:500],
                            client=client[0] if client else "",
                        )
                    )
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
