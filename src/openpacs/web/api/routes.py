"""Every custom-API URL in one table (DESIGN: one routes table per face).

Each endpoint of ``protocol.custom_params.ENDPOINTS`` answers ``GET`` (parameters in its
header) and ``POST`` (parameters as the JSON body) at ``{DICOMweb root}{path}``; one
generic endpoint parses the request with the spec and calls the handler registered in
``HANDLERS``. To serve another endpoint, write a handler ``(ApiCall) -> dataclass`` and
add it to ``HANDLERS``; until then its path answers 501.

The paths are literal, so they never shadow the DICOMweb routes (``/studies`` ...).

``RULES`` says, per endpoint, which permission its service checks
(:mod:`openpacs.services.permissions`) and the audit action of the endpoint. The checks
themselves are in the services, so the command line and other faces get the same; this
table is what the OpenAPI document states and what the tests walk, role by endpoint: an
endpoint without a row fails them. A call the service refuses (403) or answers "not
found" (404, also for what the caller's read scope hides) is recorded in the audit trail
as a failure of that action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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
from openpacs.services.audit import FAILURE, Event
from openpacs.services.errors import ServiceError
from openpacs.services.permissions import Action
from openpacs.services.principal import Principal
from openpacs.web.api import assignments, audit, directory, folders, orders, shares, tokens
from openpacs.web.api.call import ApiCall, ApiHandler
from openpacs.web.api.wire import to_wire
from openpacs.web.context import context, dicomweb_base, principal
from openpacs.web.errors import HttpError, ascii_reason, status_of

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
    "/createapitoken": tokens.create_api_token,
    "/getapitokenlist": tokens.get_api_token_list,
    "/revokeapitoken": tokens.revoke_api_token,
    "/getauditlog": audit.get_audit_log,
}


@dataclass(frozen=True)
class Rule:
    """The permission an endpoint's service requires, and the endpoint's audit action."""

    action: Action
    audit: str


_READ, _WRITE = Action.READ, Action.WRITE
RULES: dict[str, Rule] = {
    "/createpatientorder": Rule(_WRITE, "order.create"),
    "/getpatientorderproperties": Rule(_READ, "order.read"),
    "/getpatientorderlist": Rule(_READ, "order.search"),
    "/deleteorder": Rule(Action.DELETE, "order.delete"),
    "/getdicomtagcontent": Rule(_READ, "order.tags"),
    "/getinstitutionlist": Rule(_READ, "directory.read"),
    "/getuserlist": Rule(_READ, "directory.read"),
    "/getusergrouplist": Rule(_READ, "directory.read"),
    "/getequipmentlist": Rule(_READ, "directory.read"),
    "/createfolder": Rule(_WRITE, "folder.create"),
    "/searchfolder": Rule(_READ, "folder.search"),
    "/addordertofolder": Rule(_WRITE, "folder.add_order"),
    "/assignordertouser": Rule(_WRITE, "order.assign"),
    "/assignordertousergroup": Rule(_WRITE, "order.assign"),
    "/createsharelink": Rule(_WRITE, "share.create"),
    "/sharepatientorderwithurl": Rule(_WRITE, "share.create"),
    "/sharefolderwithurl": Rule(_WRITE, "share.create"),
    "/getsharelist": Rule(Action.REVOKE_SHARE, "share.list"),
    "/deleteshare": Rule(Action.REVOKE_SHARE, "share.delete"),
    "/createapitoken": Rule(Action.OWN_TOKENS, "token.create"),
    "/getapitokenlist": Rule(Action.OWN_TOKENS, "token.list"),
    "/revokeapitoken": Rule(Action.OWN_TOKENS, "token.revoke"),
    "/getauditlog": Rule(Action.READ_AUDIT, "audit.read"),
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
    ctx = context(request)
    call = ApiCall(ctx, who, params, dicomweb_base(request))
    try:
        result = await anyio.to_thread.run_sync(handler, call)
    except (ServiceError, HttpError) as exc:
        status = status_of(exc) if isinstance(exc, ServiceError) else exc.status
        rule = RULES.get(spec.path)
        if status in (403, 404) and rule is not None:
            event = _refusal(who, rule.audit, status, exc.reason)
            await anyio.to_thread.run_sync(ctx.audit.record_durably, event)
        raise
    return Response(orjson.dumps(to_wire(result)), media_type="application/json")


def _refusal(who: Principal, action: str, status: int, reason: str) -> Event:
    return Event.by(who, action, outcome=FAILURE, detail=f"{status} {ascii_reason(reason)}")


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
