"""Every custom-API URL in one table (DESIGN: one routes table per face).

Each endpoint of ``protocol.custom_params.ENDPOINTS`` answers ``GET`` (parameters in its
header) and ``POST`` (parameters as the JSON body) at ``{DICOMweb root}{path}``; one
generic endpoint parses the request with the spec and calls the handler registered in
``HANDLERS``. To serve another endpoint, write a handler ``(ApiCall) -> dataclass`` and
add it to ``HANDLERS``; until then its path answers 501.

The paths are literal, so they never shadow the DICOMweb routes (``/studies`` ...).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from openpacs.protocol.custom_params import (
    ENDPOINTS,
    MAX_BODY_BYTES,
    EndpointSpec,
    ParameterError,
    Params,
    decode_header_value,
    parse_body,
    parse_header,
)
from openpacs.web.api import assignments, directory, folders, orders, shares
from openpacs.web.api.call import ApiCall, ApiHandler
from openpacs.web.api.wire import to_wire
from openpacs.web.context import context, dicomweb_base, principal
from openpacs.web.errors import HttpError

HANDLERS: dict[str, ApiHandler] = {
    "/createpatientorder": orders.create_patient_order,
    "/getpatientorderproperties": orders.get_patient_order_properties,
    "/getpatientorderlist": orders.get_patient_order_list,
    "/deleteorder": orders.delete_order,
    "/getdicomtagcontent": orders.get_dicom_tag_content,
    "/getinstitutionlist": directory.get_institution_list,
    "/getuserlist": directory.get_user_list,
    "/getusergrouplist": directory.get_user_group_list,
    "/getequipmentlist": directory.get_equipment_list,
    "/createfolder": folders.create_folder,
    "/searchfolder": folders.search_folder,
    "/addordertofolder": folders.add_order_to_folder,
    "/assignordertouser": assignments.assign_order_to_user,
    "/assignordertousergroup": assignments.assign_order_to_user_group,
    "/createsharelink": shares.create_share_link,
    "/sharepatientorderwithurl": shares.share_patient_order_with_url,
    "/sharefolderwithurl": shares.share_folder_with_url,
    "/getsharelist": shares.get_share_list,
    "/deleteshare": shares.delete_share,
}


def api_routes(prefix: str) -> list[BaseRoute]:
    return [
        Route(prefix + spec.path, _endpoint(spec), methods=["GET", "POST"], name=spec.path[1:])
        for spec in ENDPOINTS
    ]


def _endpoint(spec: EndpointSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await dispatch(request, spec, HANDLERS.get(spec.path))

    return endpoint


async def dispatch(request: Request, spec: EndpointSpec, handler: ApiHandler | None) -> Response:
    who = principal(request)
    if who.read_only:
        raise HttpError(403, "a share link cannot use the management API")
    if handler is None:
        raise HttpError(501, f"{spec.path} is not available on this server yet")
    params = await read_params(request, spec)
    call = ApiCall(context(request), who, params, dicomweb_base(request))
    result = await anyio.to_thread.run_sync(handler, call)
    return Response(orjson.dumps(to_wire(result)), media_type="application/json")


async def read_params(request: Request, spec: EndpointSpec) -> Params:
    """POST: the JSON body (or, when the body is empty, the header); GET: the header.

    The request's Content-Type is never looked at (the Node sample sends
    ``application/json`` on bodiless GETs, the C# sample a stray ``ContentType``).
    """
    try:
        if request.method == "POST":
            body = await _read_body(request, spec)
            if body.strip():
                return parse_body(spec, body)
        raw = request.headers.get(spec.header) if spec.header else None
        if raw is None and any(key.required for key in spec.keys):
            raise ParameterError(
                spec.header or "parameters",
                "missing: send the parameters as this header (GET) or as a JSON body (POST)",
            )
        text = decode_header_value(spec.header, raw) if spec.header and raw is not None else None
        return parse_header(spec, text)
    except ParameterError as exc:
        raise HttpError(400, exc.reason) from None


async def _read_body(request: Request, spec: EndpointSpec) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ParameterError(
                spec.header or "body", f"the body is larger than {MAX_BODY_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)
