"""The access calls (openpacs additions in the custom API's form), as pure data:
personal API tokens and the audit trail."""

from __future__ import annotations

from openpacs.client.access_results import ApiToken, AuditEventList
from openpacs.client.requests._core import (
    Call,
    DateLike,
    Reply,
    _optional,
    _required,
    custom_request,
    format_date,
)
from openpacs.client.results import json_object, list_in

SCOPES = ("read", "read-write")


def create_api_token(token_name: str, expire_date: DateLike, scope: str = "read") -> Call[ApiToken]:
    """Create a personal API token (``/createapitoken``); ``.token`` is the secret, shown
    this once. ``scope``: ``"read"`` (only reads) or ``"read-write"`` (what your role
    allows). Needs the password: a token cannot create tokens."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    params = {
        "TokenName": _required(token_name, "TokenName"),
        "ExpireDate": _required(format_date(expire_date, "ExpireDate"), "ExpireDate"),
        "Scope": scope,
    }
    return Call(
        custom_request("createapitoken", "CreateApiTokenParameters", params),
        lambda reply: ApiToken.from_json(json_object(reply.json())),
    )


def list_api_tokens() -> Call[list[ApiToken]]:
    """Your API tokens (``/getapitokenlist``), revoked and expired ones marked."""

    def parse(reply: Reply) -> list[ApiToken]:
        return [ApiToken.from_json(item) for item in list_in(reply.json(), "ApiTokenList")]

    return Call(custom_request("getapitokenlist", "", {}), parse)


def revoke_api_token(api_token_uuid: str) -> Call[ApiToken]:
    """Revoke one of your API tokens (``/revokeapitoken``): refused within seconds."""
    params = {"ApiTokenUuid": _required(api_token_uuid, "ApiTokenUuid")}
    return Call(
        custom_request("revokeapitoken", "RevokeApiTokenParameters", params),
        lambda reply: ApiToken.from_json(json_object(reply.json())),
    )


def get_audit_log(
    user: str | None = None,
    patient_id: str | None = None,
    study_instance_uid: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    date_from: DateLike | None = None,
    date_to: DateLike | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> Call[AuditEventList]:
    """The account's audit trail, newest first (``/getauditlog``; admins only).

    ``user`` is an e-mail or a UserUuid; ``action`` exact or a prefix ending in ``*``
    (``"study.*"``); dates inclusive, in the server's time zone; a page of ``limit``
    events (default 1000, at most 10000), ``.more`` when another page exists."""
    params = {
        "User": _optional(user),
        "PatientId": _optional(patient_id),
        "StudyInstanceUID": _optional(study_instance_uid),
        "Action": _optional(action),
        "Outcome": _optional(outcome),
        "DateFrom": format_date(date_from, "DateFrom"),
        "DateTo": format_date(date_to, "DateTo"),
        "Limit": "" if limit is None else str(limit),
        "Offset": "" if offset is None else str(offset),
    }
    return Call(
        custom_request("getauditlog", "GetAuditLogParameters", params),
        lambda reply: AuditEventList.from_json(reply.json()),
    )
