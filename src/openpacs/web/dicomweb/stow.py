"""STOW-RS (PS3.18 10.5): POST /studies[/{study}], and the PostDICOM form POST {root}/.

The body streams into :class:`~openpacs.services.stow.StowDriver` (parts are spooled,
stored and audited there); this handler checks the Content-Type and encodes the result:
200 all stored, 202 some failed or warned, 409 none stored (with the dataset), 400 a
malformed body, 415 another media type.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from openpacs.protocol.multipart import MultipartError
from openpacs.protocol.stow_request import UnsupportedMediaType, request_boundary
from openpacs.protocol.stow_response import StowResult
from openpacs.services.stow import StowRequest
from openpacs.web.context import context, dicomweb_base, principal
from openpacs.web.errors import HttpError, ascii_reason

DICOM_JSON = "application/dicom+json"


async def store_instances(request: Request) -> Response:
    job = StowRequest(
        principal(request),
        _boundary(request),
        dicomweb_base(request),
        request.path_params.get("study"),
        request.client.host if request.client else "",
    )
    result = await context(request).stow.run(job, request.stream())
    return _response(result)


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
    headers = {"X-Error-Reason": ascii_reason(reason)} if reason and code != 200 else None
    body = orjson.dumps(result.to_json())
    return Response(body, status_code=code, media_type=DICOM_JSON, headers=headers)
