"""Reading the audit trail: who did what, when, from where, to which patient and study.

Admins only (:mod:`openpacs.services.permissions`), their own account only. Events come
newest first, a page at a time (``limit`` up to :data:`MAX_LIMIT`; ``more`` says whether
another page exists). Dates are whole days in the server's time zone
(``OPENPACS_TIMEZONE``), both ends included, as for share expiry dates. The SQL and its
indexes are in :mod:`openpacs.index.audit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpacs.index import directory_rows
from openpacs.index.audit import AuditFilter, AuditRow, events_page
from openpacs.index.db import Database
from openpacs.services.errors import BadRequest, NotFound
from openpacs.services.orders import _iso
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
OUTCOMES = ("success", "failure")


@dataclass(frozen=True)
class AuditQuery:
    user: str = ""  # an e-mail or a UserUuid of the account
    patient_id: str = ""
    study_instance_uid: str = ""
    action: str = ""  # exact, or a prefix ending in "*" ("study.*")
    outcome: str = ""  # "success" or "failure"
    date_from: date | None = None
    date_to: date | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0


@dataclass(frozen=True)
class AuditEventInfo:
    """One event: who (a user, with the API token used, or a share link), when, from
    which address, what, to which patient and study, and whether it succeeded."""

    event_time: str  # ISO 8601, UTC
    user_uuid: str
    user_email: str
    api_token_uuid: str  # "" when the user signed in with the password
    share_uuid: str  # set for share-link access
    client_address: str
    action: str
    outcome: str
    patient_id: str
    study_instance_uid: str
    detail: str


@dataclass(frozen=True)
class AuditEventPage:
    audit_event_list: tuple[AuditEventInfo, ...]
    limit: int
    offset: int
    more: bool


class AuditReadout:
    def __init__(self, db: Database, tz_name: str = "UTC") -> None:
        self._db = db
        self._tz = ZoneInfo(tz_name or "UTC")

    def events(self, who: Principal, query: AuditQuery) -> AuditEventPage:
        require(who, Action.READ_AUDIT)
        if not 1 <= query.limit <= MAX_LIMIT:
            raise BadRequest(f"Limit: must be between 1 and {MAX_LIMIT}")
        if query.outcome and query.outcome not in OUTCOMES:
            raise BadRequest(f"Outcome: must be one of {', '.join(OUTCOMES)}")
        if query.date_from and query.date_to and query.date_from > query.date_to:
            raise BadRequest("DateFrom: after DateTo")
        with self._db.session() as session:
            user_id = None
            if query.user:
                user_id = directory_rows.user_id(
                    session, who.account_id, query.user.lower(), email_too=True
                )
                if user_id is None:
                    raise NotFound(f"User: no user {query.user} in your account")
            where = AuditFilter(
                user_id=user_id,
                patient_id=query.patient_id,
                study_instance_uid=query.study_instance_uid,
                action=query.action,
                outcome=query.outcome,
                since=self._start_of(query.date_from),
                until=self._start_of(query.date_to + timedelta(days=1) if query.date_to else None),
            )
            rows = events_page(
                session, who.account_id, where, limit=query.limit, offset=query.offset
            )
        events = tuple(_info(row) for row in rows[: query.limit])
        return AuditEventPage(events, query.limit, query.offset, len(rows) > query.limit)

    def _start_of(self, day: date | None) -> datetime | None:
        """Midnight starting ``day`` in the server's zone, in UTC (SQLite compares the
        stored UTC wall-clock text, so a bound value must be in UTC too)."""
        return None if day is None else datetime.combine(day, time(), self._tz).astimezone(UTC)


def _info(row: AuditRow) -> AuditEventInfo:
    event = row.event
    return AuditEventInfo(
        event_time=_iso(event.created_at),
        user_uuid=row.user_uuid,
        user_email=row.user_email,
        api_token_uuid=row.token_uuid,
        share_uuid=row.share_uuid,
        client_address=event.client,
        action=event.action,
        outcome=event.outcome,
        patient_id=event.patient_id,
        study_instance_uid=event.study_instance_uid,
        detail=event.detail,
    )
