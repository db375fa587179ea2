"""The OpenAPI 3.1 document of the custom API, generated from the endpoint specs.

Served publicly at ``GET /openapi.json`` (it holds no data, and a client generator or
a browser can fetch it without credentials); the server URL in it is the DICOMweb root.
Each endpoint has a GET operation (the parameters as one JSON object of strings in the
named header, as PostDICOM's sample clients send them) and a POST operation (the same
object as a JSON body, real lists and booleans allowed). The 200 schemas come from the
handlers' declared return types.
"""

from __future__ import annotations

import typing
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from openpacs.protocol.custom_params import ENDPOINTS, EndpointSpec, Key, Kind
from openpacs.services.permissions import ROLE_TABLE, Action
from openpacs.web.api.routes import HANDLERS, RULES
from openpacs.web.api.wire import json_schema
from openpacs.web.context import context

_ERRORS = {
    "400": "A parameter is missing or malformed (the reason names it).",
    "401": "No or wrong credentials (HTTP Basic, or an expired, revoked or unknown API token).",
    "403": "The caller's role or API token scope does not allow this (see the "
    "description), the user is disabled, or DICOMweb access is disabled for the account.",
    "404": "The object does not exist in the caller's account.",
    "409": "The request conflicts with existing data.",
    "501": "The endpoint is not available on this server.",
}

# Patterns allow "" (not given), which every key accepts.
_DATE_PATTERN = r"^(\d{4}-\d{2}-\d{2})?$"
_DATETIME_PATTERN = r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?)?$"
_UID_PATTERN = r"^([0-9]+(\.[0-9]+)*)?$"
_ORDER_INFO = {
    "type": "object",
    "properties": {"PatientOrderUuid": {"type": "string", "format": "uuid"}},
    "required": ["PatientOrderUuid"],
}
_HEADER_FORMS = {
    Kind.BOOL: 'Boolean as text: "True", "False" (any case); "" is false.',
    Kind.INT: "Integer as text.",
    Kind.TEXT_LIST: 'JSON list as text, e.g. "[\\"MR\\",\\"CT\\"]" ("[\\"\\"]" is empty).',
    Kind.UUID_LIST: 'JSON list of UUIDs as text, e.g. "[\\"<uuid>\\"]".',
    Kind.ORDER_INFO_LIST: "JSON list of JSON strings, as text: "
    '"[\\"{\\\\\\"PatientOrderUuid\\\\\\":\\\\\\"<uuid>\\\\\\"}\\"]".',
}


def _value_schema(key: Key) -> dict[str, Any]:
    kind = key.kind
    if kind is Kind.TEXT:
        schema: dict[str, Any] = {"type": "string"}
        if key.max_length is not None:
            schema["maxLength"] = key.max_length
        if key.choices:  # matched ignoring case
            schema["enum"] = sorted({*key.choices, *(c.lower() for c in key.choices), ""})
        return schema
    if kind is Kind.DATE:
        return {"type": "string", "pattern": _DATE_PATTERN, "examples": ["2025-03-01"]}
    if kind is Kind.DATETIME:
        return {"type": "string", "pattern": _DATETIME_PATTERN, "examples": ["2025-03-01 14:30"]}
    if kind is Kind.UUID:
        return {"type": "string", "format": "uuid"}
    if kind is Kind.UID:
        return {"type": "string", "maxLength": 64, "pattern": _UID_PATTERN}
    if kind is Kind.BOOL:
        return {"type": ["boolean", "string"]}
    if kind is Kind.INT:
        schema = {"type": ["integer", "string"]}
        if key.minimum is not None:
            schema["minimum"] = key.minimum
        if key.maximum is not None:
            schema["maximum"] = key.maximum
        return schema
    if kind is Kind.TEXT_LIST:
        return {"type": ["array", "string"], "items": {"type": "string"}}
    if kind is Kind.UUID_LIST:
        return {"type": ["array", "string"], "items": {"type": "string", "format": "uuid"}}
    # ORDER_INFO_LIST: objects, or JSON strings of them.
    return {"type": ["array", "string"], "items": {"anyOf": [_ORDER_INFO, {"type": "string"}]}}


def _description(key: Key, *, header_form: bool) -> str:
    parts = [key.description] if key.description else []
    if header_form and key.kind in _HEADER_FORMS:
        parts.append(_HEADER_FORMS[key.kind])
    if key.required:
        parts.append('Required ("" counts as missing).')
    else:
        parts.append('Optional ("" means not given).')
    if key.extension:
        parts.append("openpacs extension.")
    return " ".join(parts)


def _object_schema(spec: EndpointSpec, *, header_form: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for key in spec.keys:
        schema = {"type": "string"} if header_form else _value_schema(key)
        properties[key.name] = {**schema, "description": _description(key, header_form=header_form)}
        if key.extension:
            properties[key.name]["x-openpacs-extension"] = True
    return {
        "type": "object",
        "properties": properties,
        "required": [key.name for key in spec.keys if key.required],
        "additionalProperties": False,
    }


def _schema_name(spec: EndpointSpec) -> str:
    return spec.header or spec.path.strip("/").title() + "Parameters"


def _operations(spec: EndpointSpec, schemas: dict[str, Any]) -> dict[str, Any]:
    handler = HANDLERS.get(spec.path)
    response: dict[str, Any] = {"type": "object"}
    if handler is not None:
        returned = typing.get_type_hints(handler).get("return")
        if returned is not None:
            response = json_schema(returned, schemas)
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": response}}},
        **{code: {"$ref": f"#/components/responses/Error{code}"} for code in _ERRORS},
    }
    name = spec.path.strip("/")
    base: dict[str, Any] = {"summary": spec.summary, "tags": [spec.group]}
    rule = RULES.get(spec.path)
    if rule is not None:
        base["description"] = _who_may(rule.action)
        base["x-openpacs-permission"] = rule.action.value
    if spec.extension:
        base["x-openpacs-extension"] = True
    get: dict[str, Any] = {**base, "operationId": f"{name}_get", "responses": responses}
    post: dict[str, Any] = {**base, "operationId": f"{name}_post", "responses": responses}
    if spec.keys:
        schema_name = _schema_name(spec)
        schemas[schema_name] = _object_schema(spec, header_form=False)
        schemas[schema_name + "Header"] = _object_schema(spec, header_form=True)
        get["parameters"] = [
            {
                "name": spec.header,
                "in": "header",
                "required": any(key.required for key in spec.keys),
                "description": "The parameters as one JSON object of string values.",
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{schema_name}Header"}
                    }
                },
            }
        ]
        post["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
            },
        }
    return {"get": get, "post": post}


def _who_may(action: Action) -> str:
    """The role table's row of ``action``, in words (README: Roles and permissions)."""
    grants = ", ".join(f"{role.value}: {grant.value}" for role, grant in ROLE_TABLE[action].items())
    return f"Permission `{action.value}` ({grants})."


def build_openapi(server_url: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {"Error": {"type": "string"}, "Status": {"type": "integer"}},
            "required": ["Error", "Status"],
        }
    }
    components: dict[str, Any] = {
        "securitySchemes": {
            "basicAuth": {"type": "http", "scheme": "basic"},
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token."},
        },
        "responses": {
            f"Error{code}": {
                "description": text,
                "headers": {
                    "X-Error-Reason": {
                        "description": "The reason, one line of ASCII.",
                        "schema": {"type": "string"},
                    }
                },
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            for code, text in _ERRORS.items()
        },
        "schemas": schemas,
    }
    paths = {spec.path: _operations(spec, schemas) for spec in ENDPOINTS}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "openpacs custom API",
            "version": _version(),
            "description": (
                "The PostDICOM-compatible management API of openpacs. Every endpoint takes "
                "GET with its parameters as a JSON object of strings in the named request "
                "header, or POST with the same object as a JSON body. Responses are JSON "
                "in PascalCase; errors carry X-Error-Reason."
            ),
        },
        "servers": [{"url": server_url, "description": "The DICOMweb root"}],
        "security": [{"basicAuth": []}, {"bearerAuth": []}],
        "tags": [{"name": name} for name in sorted({spec.group for spec in ENDPOINTS})],
        "paths": paths,
        "components": components,
    }


def _version() -> str:
    try:
        return version("openpacs")
    except PackageNotFoundError:
        return "0"


@lru_cache(maxsize=8)
def _encoded(server_url: str) -> bytes:
    return orjson.dumps(build_openapi(server_url))


async def openapi_json(request: Request) -> Response:
    return Response(
        _encoded(context(request).settings.dicomweb_root), media_type="application/json"
    )
