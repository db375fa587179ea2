"""The ASGI application: built from settings, no import-time state (DESIGN point 9)."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpacs.index.db import Database
from openpacs.protocol.custom_params import ENDPOINTS
from openpacs.services.audit import AuditTrail
from openpacs.services.auth import Authenticator
from openpacs.services.errors import ServiceError
from openpacs.services.gc import Sweeper
from openpacs.services.planner_stats import PlannerStatistics
from openpacs.services.ratelimit import FailureLimiter
from openpacs.services.sessions import SessionKeeper
from openpacs.services.store import StoreService
from openpacs.services.stow import ClientGone
from openpacs.settings import Settings
from openpacs.storage.factory import blob_store_for
from openpacs.web.api.openapi import openapi_json
from openpacs.web.api.routes import api_routes
from openpacs.web.attachment import Attachment, attached_in_background
from openpacs.web.audit import AuditMiddleware
from openpacs.web.context import AppContext
from openpacs.web.dicomweb.routes import dicomweb_routes
from openpacs.web.dicomweb.stow import CLIENT_CLOSED
from openpacs.web.errors import HttpError, error_response, service_error_response
from openpacs.web.middleware import (
    AccessLogMiddleware,
    BasicAuthMiddleware,
    NormalisePathMiddleware,
)
from openpacs.web.ohif.loader import load_viewer
from openpacs.web.ohif.routes import ohif_routes
from openpacs.web.session_auth import WebSessionMiddleware
from openpacs.web.share.routes import share_routes
from openpacs.web.ui.not_found import unknown_address
from openpacs.web.ui.routes import ui_routes
from openpacs.web.warm_up import warm_up

log = logging.getLogger("openpacs")

DICOMWEB_PREFIX = "/dicomweb"
# Headers a browser viewer or the sample clients send; all allowed through CORS.
CORS_ALLOWED_HEADERS = ["Authorization", "Accept", "Content-Type", "ContentType", "*"]
CORS_EXPOSED_HEADERS = [
    "X-Error-Reason",
    "Warning",
    "Content-Type",
    "Content-Length",
    "Content-Disposition",
    "Content-Encoding",
]


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    return error_response(exc.status, exc.reason, exc.headers)


async def _service_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return service_error_response(exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    if _client_left(exc):
        # Not an error of ours: one line, no traceback, and no one to answer.
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error; see the server log")


def _client_left(exc: BaseException) -> bool:
    """A disconnect seen while reading the body (alone, or all a task group raised)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_client_left(inner) for inner in exc.exceptions)
    return isinstance(exc, ClientDisconnect | ClientGone)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"Status": "ok"})


#: The cyclic garbage collector's thresholds while serving: parsing one upload allocates
#: thousands of short-lived objects (pydicom elements), which at Python's default (a
#: young-generation pass every 700 allocations) cost about 0.3 ms of collections per
#: instance; reference counting frees nearly all of them anyway.
GC_THRESHOLDS = (20_000, 20, 20)


def settle_memory() -> None:
    """Before serving: what is loaded now lives as long as the process, so keep it out of
    the collector's way (``gc.freeze``), and collect young objects less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(
    settings: Settings, *, db: Database | None = None, attach: Attachment | None = None
) -> Starlette:
    database = db or Database(settings.effective_database_url)
    blobs = blob_store_for(settings)
    ctx = AppContext(
        settings=settings,
        db=database,
        blobs=blobs,
        store=StoreService(database, blobs, coerce_missing_uids=settings.coerce_missing_uids),
        audit=AuditTrail(database, settings.data_dir / "audit", sync=settings.audit_sync),
    )
    authenticator = Authenticator(database, settings.auth_cache_seconds)
    # One limit on guessing passwords, shared by HTTP Basic and the sign-in page.
    limiter = FailureLimiter()
    sessions = SessionKeeper(
        database,
        settings.data_dir,
        idle_seconds=settings.session_idle_minutes * 60,
        max_seconds=settings.session_max_hours * 3600,
        authenticator=authenticator,
        limiter=limiter,
        audit=ctx.audit,
    )

    sweeper = Sweeper(database, blobs)
    statistics = PlannerStatistics(database)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        sweeper.start()  # what a crash left is released in the background, not at start
        statistics.start()
        with attached_in_background(attach, ctx, then=warm_up):
            yield
        sweeper.close()
        statistics.close()
        ctx.store.close()
        ctx.audit.close()
        database.dispose()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        *dicomweb_routes(DICOMWEB_PREFIX),
        # After the DICOMweb routes; /openapi.json is public (it holds no data).
        *api_routes(DICOMWEB_PREFIX),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        # The recipients of share links: pages and a read-only DICOMweb root per share.
        *share_routes(),
        # The OHIF viewer (its files, and its pages for users and share recipients).
        *ohif_routes(),
        # The web application for the account's own users (sign-in at /).
        *ui_routes(),
    ]
    middleware = [
        Middleware(AccessLogMiddleware, log_requests=settings.access_log),
        Middleware(NormalisePathMiddleware),
        Middleware(AuditMiddleware, audit=ctx.audit),
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=CORS_ALLOWED_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=True,
        ),
        Middleware(WebSessionMiddleware, sessions=sessions, settings=settings),
        Middleware(
            BasicAuthMiddleware,
            authenticator=authenticator,
            prefix=DICOMWEB_PREFIX,
            limiter=limiter,
            audit=ctx.audit,
            sessions=sessions,
            settings=settings,
            csrf_paths=frozenset(DICOMWEB_PREFIX + spec.path for spec in ENDPOINTS),
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            # Unknown URLs: a page for people, the plain text for programs.
            HTTPException: unknown_address,
            HttpError: _http_error,
            ServiceError: _service_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.authenticator = authenticator
    app.state.sessions = sessions
    app.state.ohif = load_viewer(settings)
    return app
