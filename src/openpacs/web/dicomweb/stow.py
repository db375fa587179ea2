"""STOW-RS (PS3.18 10.5): POST /studies[/{study}], and the PostDICOM form POST {root}/.

The body streams into :class:`~openpacs.services.stow.StowDriver` (parts are spooled,
stored and audited there); this handler checks the Content-Type and encodes the result:
200 all stored, 202 some failed or warned, 409 none stored (with the dataset), 400 a
malformed body, 413 past a limit (closing the connection), 415 another media type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from openpacs.protocol.multipart import MultipartError
from openpacs.protocol.stow_request import UnsupportedMediaType, request_boundary
from openpacs.protocol.stow_response import StowResult
from openpacs.services.errors import TooLarge
from openpacs.services.stow import ClientGone, StowRequest
from openpacs.web.context import context, dicomweb_base, principal
from openpacs.web.errors import HttpError, ascii_reason, error_response

DICOM_JSON = "application/dicom+json"
CLOSE = {"Connection": "close"}
#: The access log's status of a request whose client left before the answer (nginx's).
CLIENT_CLOSED = 499


async def store_instances(request: Request) -> Response:
    job = StowRequest(
        principal(request),
        _boundary(request),
        dicomweb_base(request),
        request.path_params.get("study"),
        request.client.host if request.client else "",
        _content_length(request),
    )
    try:
        result = await context(request).stow.run(job, _body(request))
    except TooLarge as exc:
        # The rest of the body is never read: close rather than drain gigabytes.
        return error_response(413, exc.reason, CLOSE)
    except ClientGone:
        return Response(status_code=CLIENT_CLOSED)  # for the access log: no one reads it
    return _response(result)


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body; a client that goes away mid-body is `ClientGone`, not an error."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise ClientGone from None


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _boundary(request: Request) -> str:
    headers = request.headers
    try:
        return request_boundary(headers.get("content-type") or headers.get("contenttype") or "")
    except UnsupportedMediaType as exc:
        raise HttpError(415, str(exc)) from None
    except MultipartError as exc:
        raise HttpError(400, str(exc)) from None


def _response(result: StowResult) -> Response:
    """The STOW response dataset with the status it implies; a failure's reason also in
    ``X-Error-Reason`` (a 409 still carries the dataset, not the JSON error shape)."""
    code = result.http_status()
    reason = result.first_failure()
    headers = {"X-Error-Reason": ascii_reason(reason)} if reason and code != 200 else {}
    if result.over_limit is not None:
        headers.update(CLOSE)
    body = orjson.dumps(result.to_json())
    return Response(body, status_code=code, media_type=DICOM_JSON, headers=headers)
