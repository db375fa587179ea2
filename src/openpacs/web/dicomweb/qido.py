"""QIDO-RS handlers (PS3.18 10.6): parse the query, search in a worker thread, answer JSON.

Empty results: a search that matches nothing answers ``204 No Content`` with an empty
body, as PS3.18 8.3.4.4.1 (current edition) requires for a Search Transaction with no
matches (dicomweb-client, for one, reads an empty body as "no results"). We do not vary
this by Accept header or by a private query parameter: one rule, the published one.
CP-2473 (in progress) proposes ``200`` with an empty payload instead; if it is adopted,
only :func:`empty_response` changes. A page that ends exactly at the last match is not
empty and answers 200; an ``offset`` past the end answers 204.

Other answers: 200 with a JSON array of DICOM JSON objects (``application/dicom+json``,
the default, or ``application/json`` when that is what the client asked for), or with
``multipart/related; type="application/dicom+xml"``, one Native DICOM Model document per
result (PS3.19; also for a bare ``application/dicom+xml``, which has no single-part form
for a list); plus ``Warning: 299 {service}: "There are additional results that can be
requested"`` when more matches exist than this page holds (beyond ``limit``, or beyond
the server's maximum). 400 for an invalid value of a query parameter (bad date range,
bad UID, bad limit/offset: unknown parameters are ignored, see protocol/qido.py), 406
when the Accept header allows none of these.

Route order: the PostDICOM forms ``/studies/series`` and ``/studies/series/instances``
come before every route with a ``{study}`` (or ``{series}``) parameter, here and in the
WADO/STOW/DELETE tables, or they would be read as a study UID ``series``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openpacs.protocol.accept import (
    BadAccept,
    Choice,
    NotAcceptable,
    Offer,
    negotiate,
    parse_accept,
)
from openpacs.protocol.dicom_xml import xml_parts
from openpacs.protocol.media_types import DICOM_JSON, DICOM_XML
from openpacs.protocol.multipart import closing_delimiter, multipart_content_type, new_boundary
from openpacs.protocol.qido import Level, QidoError, is_valid_uid, parse_qido
from openpacs.services.search import SearchResult, search
from openpacs.web.context import context, dicomweb_base, principal
from openpacs.web.errors import HttpError

__all__ = [
    "QIDO_ROUTES",
    "QIDO_TABLE",
    "empty_response",
    "more_results_warning",
    "search_instances",
    "search_series",
    "search_studies",
]

_OFFERS = (
    Offer(DICOM_JSON),
    Offer("application/json"),
    Offer("multipart/related", DICOM_XML),
    Offer(DICOM_XML),  # answered as the multipart form: a list has no single-part XML
)
MORE_RESULTS_TEXT = "There are additional results that can be requested"


async def search_studies(request: Request) -> Response:
    """GET /studies"""
    return await _search(request, Level.STUDY)


async def search_series(request: Request) -> Response:
    """GET /series, /studies/{study}/series and the PostDICOM /studies/series."""
    return await _search(request, Level.SERIES)


async def search_instances(request: Request) -> Response:
    """GET /instances, /studies/{study}/instances, /studies/{study}/series/{series}/instances
    and the PostDICOM /studies/series/instances."""
    return await _search(request, Level.INSTANCE)


# (path relative to the DICOMweb root, endpoint, methods), in the order required: the
# literal PostDICOM paths before the ones with a {study} parameter.
QIDO_TABLE: list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]] = [
    ("/studies", search_studies, ["GET"]),
    ("/series", search_series, ["GET"]),
    ("/instances", search_instances, ["GET"]),
    ("/studies/series", search_series, ["GET"]),  # PostDICOM: ?0020000D=...
    ("/studies/series/instances", search_instances, ["GET"]),  # PostDICOM: ?0020000E=...
    ("/studies/{study}/series", search_series, ["GET"]),
    ("/studies/{study}/instances", search_instances, ["GET"]),
    ("/studies/{study}/series/{series}/instances", search_instances, ["GET"]),
]
QIDO_ROUTES: list[Route] = [
    Route(path, endpoint, methods=methods) for path, endpoint, methods in QIDO_TABLE
]


def _representation(request: Request) -> Choice:
    """The negotiated answer; a missing Accept means application/dicom+json."""
    try:
        ranges = parse_accept(
            request.headers.getlist("accept"), request.query_params.getlist("accept")
        )
    except BadAccept as exc:
        raise HttpError(400, str(exc)) from None
    try:
        return negotiate(ranges, _OFFERS)
    except NotAcceptable as exc:
        raise HttpError(406, str(exc)) from None


def _path_uid(request: Request, name: str) -> str | None:
    uid = request.path_params.get(name)
    if uid is None:
        return None
    text = str(uid)
    if not is_valid_uid(text):
        raise HttpError(400, f"the {name} UID in the path is not a valid UID: {text[:80]!r}")
    return text


async def _search(request: Request, level: Level) -> Response:
    choice = _representation(request)
    study_uid = _path_uid(request, "study")
    series_uid = _path_uid(request, "series")
    try:
        query = parse_qido(request.query_params.multi_items(), level)
    except QidoError as exc:
        raise HttpError(400, str(exc)) from None

    ctx = context(request)
    who = principal(request)
    base = dicomweb_base(request).rstrip("/")
    settings = ctx.settings

    def work() -> SearchResult:
        with ctx.db.session() as session:
            return search(
                session,
                who,
                query,
                base,
                study_uid=study_uid,
                series_uid=series_uid,
                default_limit=settings.qido_default_limit,
                max_limit=settings.qido_max_limit,
            )

    try:
        result = await run_in_threadpool(work)
    except QidoError as exc:
        raise HttpError(400, str(exc)) from None
    if not result.items:
        return empty_response()
    headers = {"Warning": more_results_warning(base)} if result.more else None
    if DICOM_XML in (choice.media_type, choice.part_type):
        boundary = new_boundary()
        parts = await run_in_threadpool(xml_parts, result.items, boundary, first=True)
        body = parts + closing_delimiter(boundary)
        media_type = multipart_content_type(boundary, DICOM_XML)
        return Response(body, media_type=media_type, headers=headers)
    return Response(orjson.dumps(result.items), media_type=choice.media_type, headers=headers)


def empty_response() -> Response:
    """No matches (see the module docstring): the one place to change if CP-2473 lands."""
    return Response(status_code=204)


def more_results_warning(service: str) -> str:
    """The PS3.18 8.3.4.4 Warning header value for a result cut short."""
    return f'299 {service}: "{MORE_RESULTS_TEXT}"'
