"""A share's read-only DICOMweb root: ``{ShareUrl}/dicomweb``.

The account's DICOMweb GET handlers, mounted under ``/share/{token}/dicomweb`` behind
:class:`ShareDicomweb`, which opens the share and authenticates the caller:

* unknown or deleted token: 404; expired: 410 (before anything else);
* methods other than GET/HEAD (STOW, DELETE, PUT...): 405 with ``Allow: GET, HEAD``,
  on the root itself too (:class:`ShareDicomwebRoot`: never a redirect);
* a share with a password: the recipient's session cookie (from the share page), or the
  share password as the HTTP Basic password (any user name); wrong passwords count
  against the rate limit (429 with ``Retry-After``); a share without password needs the
  token only;
* then ``request.state.principal`` is the share's read-only principal (only its orders)
  and ``request.state.dicomweb_base`` the share's root, so every URL in an answer
  (RetrieveURL, BulkDataURI, Content-Location) points back into the share.

What it allows: QIDO searches, metadata, frames, bulk data, rendered images and
thumbnails always (what a viewer needs). Retrieving Part-10 files (study, series or
instance retrieve, ``accept=application/zip``) is a download: only when the share allows
downloads, else 403 with the reason. A study or series retrieve is recorded as a
``share.download`` audit event.
"""

from __future__ import annotations

import anyio
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from openpacs.services.errors import ServiceError
from openpacs.services.ratelimit import retry_after_header
from openpacs.services.share_access import OpenShare, record_share_event
from openpacs.web.context import context
from openpacs.web.dicomweb import wado
from openpacs.web.dicomweb.routes import dicomweb_routes
from openpacs.web.dicomweb.wado_common import scope_of
from openpacs.web.errors import HttpError, error_response, service_error_response
from openpacs.web.share.auth import (
    basic_password,
    check_password,
    client_address,
    has_session,
    resolve,
    session_cookies,
    share_access,
    share_dicomweb_base,
)

_PREFIX = "/dicomweb"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_DOWNLOADABLE = (
    "this share link does not allow downloading studies; metadata, frames, rendered "
    "images and thumbnails are available"
)


async def retrieve_if_downloadable(request: Request) -> Response:
    """WADO-RS retrieve of Part-10 files (and zip), for downloadable shares only."""
    share: OpenShare = request.state.share
    if not share.downloadable:
        raise HttpError(403, NOT_DOWNLOADABLE)
    response = await wado.retrieve(request)
    scope = scope_of(request)
    if scope.level != "instance":
        db, client = context(request).db, client_address(request)
        await anyio.to_thread.run_sync(
            lambda: record_share_event(
                db,
                share,
                "share.download",
                study_uid=scope.study_uid or "",
                detail=f"DICOMweb retrieve of {scope.describe()}",
                client=client,
            )
        )
    return response


def share_dicomweb_routes() -> list[BaseRoute]:
    """The GET routes of the DICOMweb table, relative to the share's root."""
    routes: list[BaseRoute] = []
    for route in dicomweb_routes(_PREFIX):
        if not isinstance(route, Route) or not route.methods or "GET" not in route.methods:
            continue
        endpoint = route.endpoint
        if endpoint is wado.retrieve:
            endpoint = retrieve_if_downloadable
        routes.append(Route(route.path[len(_PREFIX) :], endpoint, methods=["GET"]))
    return routes


class ShareDicomweb:
    """ASGI app mounted at ``/share/{token}/dicomweb``; see the module docstring."""

    def __init__(self) -> None:
        self.router = Router(routes=share_dicomweb_routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        response = await self._authorise(scope)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.router(scope, receive, send)

    async def _authorise(self, scope: Scope) -> Response | None:
        """None when the request may go on (scope state set), else the refusal."""
        conn = HTTPConnection(scope)
        app = scope["app"]
        ctx = app.state.ctx
        token = str(scope.get("path_params", {}).get("token", ""))
        try:
            share = await resolve(ctx, token)
        except ServiceError as exc:
            return service_error_response(exc)
        if scope["method"] not in READ_METHODS:
            return error_response(
                405,
                "a share link is read-only: storing (STOW-RS) and deleting are not allowed",
                {"Allow": "GET, HEAD"},
            )
        access = share_access(app)
        if not has_session(conn, access, share):
            password = basic_password(conn)
            if password is None and session_cookies(conn):
                # A browser whose share session ended (OHIF on the share): no Basic
                # challenge, or the browser would ask for a password in its own dialog.
                return error_response(
                    401, "the share's session has ended; open the share link again"
                )
            if password is None:
                return error_response(
                    401,
                    "this share link needs its password (HTTP Basic, any user name)",
                    {"WWW-Authenticate": 'Basic realm="openpacs share"'},
                )
            check = await check_password(access, share, password, client_address(conn))
            if check.retry_after is not None:
                return error_response(
                    429,
                    "too many wrong passwords for this share link; try again later",
                    retry_after_header(check.retry_after),
                )
            if not check.ok:
                return error_response(
                    401,
                    "wrong password for this share link",
                    {"WWW-Authenticate": 'Basic realm="openpacs share"'},
                )
        state = scope.setdefault("state", {})
        state["principal"] = share.principal()
        state["dicomweb_base"] = share_dicomweb_base(ctx.settings, token)
        state["share"] = share
        return None


class ShareDicomwebRoot(ShareDicomweb):
    """``{ShareUrl}/dicomweb`` itself, without a path below it. Nothing is served there,
    but the root must answer as its children do (404/410 for the link, 405 for STOW and
    other writes) instead of being redirected to ``.../dicomweb/``: a redirected POST
    becomes a GET in many clients, and the client would never learn the link is read-only.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._authorise(scope) if scope["type"] == "http" else None
        if response is None:
            response = error_response(
                404, "nothing is served at the DICOMweb root itself; search with /studies"
            )
        await response(scope, receive, send)
