"""Typed results of the access calls: API tokens and the audit trail.

Read tolerantly like every SDK result (:mod:`openpacs.client.results`): unknown keys are
ignored, missing ones are empty, and the answer is kept in ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openpacs.client.results import _flag, _int, _text, list_in

__all__ = ["ApiToken", "AuditEvent", "AuditEventList"]


@dataclass(frozen=True)
class ApiToken:
    """A personal API token. ``token`` (the secret) is set only in the answer of
    :meth:`~openpacs.client.PacsClient.create_api_token`: keep it, it is never shown again."""

    api_token_uuid: str
    token_name: str = ""
    scope: str = ""  # "read" or "read-write"
    prefix: str = ""  # the token's first characters
    expire_date: str = ""  # the last day it works
    created_at: str = ""
    last_used_at: str = ""
    revoked: bool = False
    expired: bool = False
    token: str = field(default="", repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ApiToken:
        return cls(
            api_token_uuid=_text(raw, "ApiTokenUuid"),
            token_name=_text(raw, "TokenName"),
            scope=_text(raw, "Scope"),
            prefix=_text(raw, "Prefix"),
            expire_date=_text(raw, "ExpireDate"),
            created_at=_text(raw, "CreatedAt"),
            last_used_at=_text(raw, "LastUsedAt"),
            revoked=bool(_flag(raw, "Revoked")),
            expired=bool(_flag(raw, "Expired")),
            token=_text(raw, "Token"),
            raw=raw,
        )

    @property
    def active(self) -> bool:
        return not (self.revoked or self.expired)


@dataclass(frozen=True)
class AuditEvent:
    """Who did what, when, from where, to which patient and study, and how it ended."""

    event_time: str
    action: str
    outcome: str = ""  # "success" or "failure"
    user_email: str = ""
    user_uuid: str = ""
    api_token_uuid: str = ""
    share_uuid: str = ""
    client_address: str = ""
    patient_id: str = ""
    study_instance_uid: str = ""
    detail: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> AuditEvent:
        return cls(
            event_time=_text(raw, "EventTime"),
            action=_text(raw, "Action"),
            outcome=_text(raw, "Outcome"),
            user_email=_text(raw, "UserEmail"),
            user_uuid=_text(raw, "UserUuid"),
            api_token_uuid=_text(raw, "ApiTokenUuid"),
            share_uuid=_text(raw, "ShareUuid"),
            client_address=_text(raw, "ClientAddress"),
            patient_id=_text(raw, "PatientId"),
            study_instance_uid=_text(raw, "StudyInstanceUID"),
            detail=_text(raw, "Detail"),
            raw=raw,
        )


class AuditEventList(list[AuditEvent]):
    """One page of events (newest first); ``more`` is True when another page exists
    (ask again with ``offset=page.offset + len(page)``)."""

    def __init__(
        self, events: list[AuditEvent], *, more: bool = False, offset: int = 0, raw: Any = None
    ) -> None:
        super().__init__(events)
        self.more = more
        self.offset = offset
        self.raw = raw

    @classmethod
    def from_json(cls, raw: Any) -> AuditEventList:
        meta = raw if isinstance(raw, dict) else {}
        return cls(
            [AuditEvent.from_json(item) for item in list_in(raw, "AuditEventList")],
            more=bool(_flag(meta, "More")),
            offset=_int(meta, "Offset") or 0,
            raw=raw,
        )
