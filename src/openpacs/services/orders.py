"""Patient orders: create, read, search and delete (the custom API's order endpoints).

Every function is scoped to one account: an order, institution, equipment, user or group
of another account is reported as not found (404), never as forbidden. Inside the
account the caller's read scope applies the same way (:mod:`openpacs.index.viewer`): a
reader's unassigned order, or an order of an institution a limited user does not have,
is not found either. What a role may do is checked first
(:mod:`openpacs.services.permissions`): a member deleting an order gets 403.

Search order (stable, so Limit/Offset pages never repeat or skip an order): newest
first by creation time, then by internal id, served by ``ix_order_account_created``
(the web application's other sorts by ``ix_order_account_name`` and ``..._study_date``;
its status filter by ``ix_order_account_status``).
The filters run on indexed columns of ``patient_order`` (patient id, normalised name,
accession number, study date); modalities by their per-order list ``order_modality``
(:mod:`openpacs.index.order_modalities`); birth dates are a residual filter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from openpacs.dicom.modalities import MODALITIES
from openpacs.dicom.names import normalise_person_name
from openpacs.index.audit import record_event
from openpacs.index.db import Database
from openpacs.index.folder_rows import folders_of_order
from openpacs.index.in_lists import in_chunks
from openpacs.index.models import (
    Equipment,
    FolderOrder,
    Instance,
    Institution,
    OrderModality,
    PatientOrder,
    Series,
    SeriesRequestAttributes,
    ShareOrder,
    Study,
    User,
    UserGroup,
    UserGroupMember,
)
from openpacs.index.order_link import IMAGES_RECEIVED, SCHEDULED
from openpacs.index.order_modalities import refresh_order_modalities_in
from openpacs.index.viewer import in_account, is_narrow, order_scope, readable_orders
from openpacs.services.audit import AuditTrail, Event
from openpacs.services.errors import BadRequest, Conflict, NotFound
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal
from openpacs.storage.base import BlobStore

log = logging.getLogger("openpacs.orders")

DEFAULT_LIMIT = 1000
_MODALITY = re.compile(r"^[A-Z0-9_]{1,16}$")
_WILDCARDS = re.compile(r"[*?]")


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesInfo:
    patient_series_uuid: str
    series_instance_uid: str
    modality: str
    series_description: str
    series_number: int | None
    number_of_instances: int


@dataclass(frozen=True)
class FolderRef:
    folder_uuid: str
    folder_name: str


@dataclass(frozen=True)
class OrderSummary:
    """One order in a search result."""

    patient_order_uuid: str
    patient_order_institution_uuid: str
    order_status: str
    study_instance_uid: str
    patient_name: str
    patient_id: str
    other_patient_id: str
    patient_birthdate: str  # YYYY-MM-DD (or as received when not a valid DICOM date)
    patient_sex: str
    modality: str
    modalities_in_study: tuple[str, ...]
    study_description: str
    study_date: str  # YYYY-MM-DD; "" until images arrive
    accession_number: str
    order_scheduled_datetime: str  # YYYY-MM-DD HH:MM
    assigned_user_uuid: str
    assigned_user_group_uuid: str
    number_of_series: int
    number_of_instances: int
    created_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class OrderProperties(OrderSummary):
    """Every stored field of one order, with its folders and series."""

    institution_name: str
    patient_complaints: str
    requested_procedure_id: str
    requested_procedure_description: str
    requesting_physician: str
    referring_physicians_name: str
    scheduled_equipment_uuid: str
    updated_at: str
    folder_list: tuple[FolderRef, ...]
    series_list: tuple[SeriesInfo, ...]


@dataclass(frozen=True)
class OrderPage:
    patient_order_list: tuple[OrderSummary, ...]
    total_count: int
    limit: int
    offset: int


@dataclass(frozen=True)
class DeletedOrder:
    patient_order_uuid: str
    deleted_series: int
    deleted_instances: int


# -- requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewOrder:
    institution_uuid: str
    patient_name: str
    patient_id: str
    patient_birthdate: date
    modality: str
    other_patient_id: str = ""
    patient_sex: str = ""
    study_description: str = ""
    accession_number: str = ""
    patient_complaints: str = ""
    order_scheduled_datetime: datetime | None = None
    requested_procedure_id: str = ""
    requested_procedure_description: str = ""
    requesting_physician: str = ""
    referring_physicians_name: str = ""
    scheduled_equipment_uuid: str = ""
    study_instance_uid: str = ""


@dataclass(frozen=True)
class OrderQuery:
    institution_uuids: tuple[str, ...] = ()
    patient_name: str = ""
    patient_id: str = ""
    other_patient_id: str = ""
    accession_number: str = ""
    modalities: tuple[str, ...] = ()
    study_date_from: date | None = None
    study_date_to: date | None = None
    birthdate_from: date | None = None
    birthdate_to: date | None = None
    assigned_user_uuid: str = ""
    assigned_user_group_uuid: str = ""
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    # The web application's additions: Scheduled or ImagesReceived; the orders assigned
    # to this user or to one of their groups; and the order of the results (SORTS).
    status: str = ""
    assigned_to_user_id: int | None = None
    sort: str = "newest"


#: The orders of a search result: newest first (the default), or by study date, or by
#: patient name. Each is served by an index that starts with the account.
SORTS = ("newest", "oldest", "study_date", "study_date_asc", "name", "name_desc")


# -- the service -------------------------------------------------------------------------


class OrderService:
    """Use cases over one unit of work each; blobs are deleted only after a commit.

    Reading an order's properties is a read of patient data: it is recorded in the audit
    trail (``order.read``) when the service is given one."""

    def __init__(
        self, db: Database, blobs: BlobStore | None = None, audit: AuditTrail | None = None
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._audit = audit

    def create(self, who: Principal, new: NewOrder) -> OrderProperties:
        require(who, Action.WRITE)
        with self._db.session() as session:
            order = create_order(session, who.account_id, new, who.institution_ids)
            _audit(session, who, "order.create", order)
            return order_properties(session, order)

    def properties(self, who: Principal, institution_uuid: str, order_uuid: str) -> OrderProperties:
        require(who, Action.READ)
        with self._db.session() as session:
            order = find_order(session, who, order_uuid, institution_uuid)
            properties = order_properties(session, order)
        audit_order_read(self._audit, who, "order.read", order)
        return properties

    def search(self, who: Principal, query: OrderQuery) -> OrderPage:
        require(who, Action.READ)
        with self._db.session() as session:
            return search_orders(session, who, query)

    def summaries(self, who: Principal, order_uuids: Sequence[str]) -> tuple[OrderSummary, ...]:
        """The orders of these UUIDs that the caller may see (others are left out)."""
        require(who, Action.READ)
        wanted = sorted(set(order_uuids))
        out: list[OrderSummary] = []
        with self._db.session() as session:
            found = readable_orders(session, who, wanted)
            for rows in in_chunks([found[u] for u in wanted if u in found]):
                out += (OrderSummary(**values) for values in _summary_values(session, rows))
        return tuple(out)

    def delete(self, who: Principal, institution_uuid: str, order_uuid: str) -> DeletedOrder:
        require(who, Action.DELETE)
        with self._db.session() as session:
            order = find_order(session, who, order_uuid, institution_uuid)
            _audit(session, who, "order.delete", order)
            result, blob_keys = delete_order_rows(session, order)
        # Committed: the images are gone from the index, so their files can go too. A
        # failure here leaves an unreferenced blob for gc, never a dangling index row.
        if self._blobs is not None:
            for key in blob_keys:
                try:
                    self._blobs.delete(key)
                except Exception:
                    log.exception("could not delete blob %s of a deleted order", key)
        return result


# -- lookups -----------------------------------------------------------------------------


def find_order(
    session: Session, who: Principal, order_uuid: str, institution_uuid: str | None = None
) -> PatientOrder:
    """The caller's order; NotFound for unknown ones, other accounts' and those outside
    the caller's read scope (a share's, a reader's, a limited user's institutions).

    With ``institution_uuid`` the order must also belong to that institution.
    """
    stmt = select(PatientOrder).where(
        PatientOrder.account_id == who.account_id,
        PatientOrder.uuid == order_uuid,
        *order_scope(who),
    )
    if institution_uuid is not None:
        stmt = stmt.join(Institution, Institution.id == PatientOrder.institution_id).where(
            Institution.uuid == institution_uuid
        )
    order = session.scalar(stmt)
    if order is None:
        where = f" in institution {institution_uuid}" if institution_uuid else ""
        raise NotFound(f"no patient order {order_uuid}{where}")
    return order


def _institution_id(
    session: Session,
    account_id: int,
    institution_uuid: str,
    key: str,
    allowed: frozenset[int] | None = None,
) -> int:
    """The id of an institution of the account that is in ``allowed`` (None: any; a user
    limited to some institutions sees no other); NotFound naming ``key`` otherwise."""
    found = session.scalar(
        select(Institution.id).where(
            Institution.account_id == account_id, Institution.uuid == institution_uuid
        )
    )
    if found is None or (allowed is not None and found not in allowed):
        raise NotFound(f"{key}: no institution {institution_uuid}")
    return int(found)


def _id_by_uuid(
    session: Session,
    model: type[User] | type[UserGroup] | type[Equipment],
    account_id: int,
    uuid: str,
    what: str,
) -> int:
    found = session.scalar(
        select(model.id).where(model.account_id == account_id, model.uuid == uuid)
    )
    if found is None:
        raise NotFound(f"no {what} {uuid}")
    return int(found)


# -- validation --------------------------------------------------------------------------

OLDEST_PATIENT_YEARS = 150


def checked_modality(value: str) -> str:
    """The modality code in capitals; BadRequest unless DICOM defines it (PS3.3)."""
    modality = value.strip().upper()
    if not _MODALITY.match(modality) or modality not in MODALITIES:
        raise BadRequest(
            f"Modality: {value.strip()!r} is not a DICOM modality code (CT, MR, US, DX, ...)"
        )
    return modality


def check_birthdate(born: date, today: date | None = None) -> None:
    """BadRequest for a birth date that cannot be a living patient's."""
    today = today or datetime.now(UTC).date()
    if born > today + timedelta(days=1):  # a day of slack for time zones ahead of UTC
        raise BadRequest(f"PatientBirthdate: {born.isoformat()} is in the future")
    if born.year < today.year - OLDEST_PATIENT_YEARS:
        raise BadRequest(
            f"PatientBirthdate: {born.isoformat()} is more than {OLDEST_PATIENT_YEARS} years ago"
        )


# -- create ------------------------------------------------------------------------------


def _new_study_uid() -> str:
    # pydicom (with NumPy) loads here, not before a restarted server answers: see
    # web/warm_up.py.
    from pydicom.uid import generate_uid

    return str(generate_uid(prefix=None))


def create_order(
    session: Session,
    account_id: int,
    new: NewOrder,
    institution_ids: frozenset[int] | None = None,
) -> PatientOrder:
    """A new scheduled order; ``institution_ids`` limits where (None: any institution)."""
    institution_id = _institution_id(
        session, account_id, new.institution_uuid, "InstitutionUuid", institution_ids
    )
    equipment_id = None
    if new.scheduled_equipment_uuid:
        equipment_id = _id_by_uuid(
            session, Equipment, account_id, new.scheduled_equipment_uuid, "equipment"
        )
    modality = checked_modality(new.modality)
    check_birthdate(new.patient_birthdate)
    study_uid = new.study_instance_uid or _new_study_uid()
    clash = session.scalar(
        select(PatientOrder.uuid).where(
            PatientOrder.account_id == account_id, PatientOrder.study_instance_uid == study_uid
        )
    )
    if clash is not None:
        raise Conflict(f"StudyInstanceUID: order {clash} already has {study_uid}")
    if new.accession_number:
        clash = session.scalar(
            select(PatientOrder.uuid).where(
                PatientOrder.account_id == account_id,
                PatientOrder.accession_number == new.accession_number,
            )
        )
        if clash is not None:
            raise Conflict(
                f"AccessionNumber: order {clash} already has accession {new.accession_number}"
            )
    scheduled = new.order_scheduled_datetime
    order = PatientOrder(
        account_id=account_id,
        institution_id=institution_id,
        status=SCHEDULED,
        study_instance_uid=study_uid,
        patient_name=new.patient_name,
        patient_name_norm=normalise_person_name(new.patient_name),
        patient_id=new.patient_id,
        other_patient_id=new.other_patient_id,
        patient_birth_date=new.patient_birthdate.strftime("%Y%m%d"),
        patient_sex=new.patient_sex,
        modality=modality,
        study_description=new.study_description,
        accession_number=new.accession_number,
        patient_complaints=new.patient_complaints,
        scheduled_datetime=scheduled.strftime("%Y-%m-%d %H:%M") if scheduled else "",
        requested_procedure_id=new.requested_procedure_id,
        requested_procedure_description=new.requested_procedure_description,
        requesting_physician=new.requesting_physician,
        referring_physicians_name=new.referring_physicians_name,
        scheduled_equipment_id=equipment_id,
    )
    session.add(order)
    session.flush()
    refresh_order_modalities_in(session, order.id)
    return order


# -- read --------------------------------------------------------------------------------


def order_properties(session: Session, order: PatientOrder) -> OrderProperties:
    institution = session.get(Institution, order.institution_id)
    equipment_uuid = ""
    if order.scheduled_equipment_id is not None:
        equipment_uuid = (
            session.scalar(
                select(Equipment.uuid).where(Equipment.id == order.scheduled_equipment_id)
            )
            or ""
        )
    folders = folders_of_order(session, order.id)
    series_rows = session.execute(
        select(Series)
        .join(Study, Study.id == Series.study_id)
        .where(Study.order_id == order.id)
        .order_by(Series.series_number.asc().nulls_last(), Series.id)
    ).scalars()
    series = tuple(
        SeriesInfo(
            s.uuid,
            s.series_instance_uid,
            s.modality,
            s.series_description,
            s.series_number,
            s.num_instances,
        )
        for s in series_rows
    )
    return OrderProperties(
        **_summary_values(session, [order])[0],
        institution_name=institution.name if institution else "",
        patient_complaints=order.patient_complaints,
        requested_procedure_id=order.requested_procedure_id,
        requested_procedure_description=order.requested_procedure_description,
        requesting_physician=order.requesting_physician,
        referring_physicians_name=order.referring_physicians_name,
        scheduled_equipment_uuid=equipment_uuid,
        updated_at=_iso(order.updated_at),
        folder_list=tuple(FolderRef(uuid, name) for uuid, name in folders),
        series_list=series,
    )


def _summary_values(session: Session, orders: Sequence[PatientOrder]) -> list[dict[str, Any]]:
    """The OrderSummary fields of a page of orders: a few batched look-ups, none per order."""
    if not orders:
        return []
    ids = [o.id for o in orders]
    institutions = _uuid_map(session, Institution, {o.institution_id for o in orders})
    users = _uuid_map(session, User, {o.assigned_user_id for o in orders})
    groups = _uuid_map(session, UserGroup, {o.assigned_group_id for o in orders})
    images: dict[int, tuple[int, int, list[str]]] = {}
    for order_id, n_series, n_instances, modalities in session.execute(
        select(Study.order_id, Study.num_series, Study.num_instances, Study.modalities_in_study)
        .where(Study.order_id.in_(ids))
        .order_by(Study.id)
    ):
        if order_id is None:
            continue
        seen = images.get(order_id, (0, 0, []))
        mods = seen[2] + [m for m in modalities.split("\\") if m and m not in seen[2]]
        images[order_id] = (seen[0] + n_series, seen[1] + n_instances, mods)
    out: list[dict[str, Any]] = []
    for o in orders:
        n_series, n_instances, mods = images.get(o.id, (0, 0, []))
        out.append(
            dict(
                patient_order_uuid=o.uuid,
                patient_order_institution_uuid=institutions.get(o.institution_id, ""),
                order_status=o.status,
                study_instance_uid=o.study_instance_uid,
                patient_name=o.patient_name,
                patient_id=o.patient_id,
                other_patient_id=o.other_patient_id,
                patient_birthdate=_iso_date(o.patient_birth_date),
                patient_sex=o.patient_sex,
                modality=o.modality,
                modalities_in_study=tuple(mods),
                study_description=o.study_description,
                study_date=_iso_date(o.study_date),
                accession_number=o.accession_number,
                order_scheduled_datetime=o.scheduled_datetime,
                assigned_user_uuid=users.get(o.assigned_user_id or 0, ""),
                assigned_user_group_uuid=groups.get(o.assigned_group_id or 0, ""),
                number_of_series=n_series,
                number_of_instances=n_instances,
                created_at=_iso(o.created_at),
            )
        )
    return out


def _uuid_map(
    session: Session,
    model: type[Institution] | type[User] | type[UserGroup],
    ids: set[int] | set[int | None],
) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.execute(select(model.id, model.uuid).where(model.id.in_(wanted)))
    return {int(row_id): str(row_uuid) for row_id, row_uuid in rows}


def _iso_date(value: str) -> str:
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _iso(value: datetime | None) -> str:
    """ISO 8601 in UTC (SQLite hands back naive datetimes; they were written in UTC)."""
    if value is None:
        return ""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


# -- search ------------------------------------------------------------------------------


def search_orders(session: Session, who: Principal, query: OrderQuery) -> OrderPage:
    account_id = who.account_id
    # A reader's orders are found from the assignment indexes (see index/viewer.py); so
    # are "assigned to me or my groups", and a modality's from their own list (the
    # account test is then written so that SQLite does not prefer walking the account's
    # index instead).
    account: ColumnElement[bool] = in_account(who)
    if query.assigned_to_user_id is not None and not is_narrow(who):
        account = (PatientOrder.account_id + 0) == account_id
    where: list[ColumnElement[bool]] = [*order_scope(who)]
    if query.institution_uuids:
        ids = [
            _institution_id(session, account_id, uuid, "InstitutionUuidList", who.institution_ids)
            for uuid in query.institution_uuids
        ]
        where.append(PatientOrder.institution_id.in_(ids))
    sqlite = session.get_bind().dialect.name == "sqlite"
    if query.patient_name:
        pattern = normalise_person_name(query.patient_name)
        if pattern:
            if not _WILDCARDS.search(pattern):
                pattern += "*"  # a plain value finds the names that start with it
            where.append(_wildcard(PatientOrder.patient_name_norm, pattern, sqlite))
    for column, value in (
        (PatientOrder.patient_id, query.patient_id),
        (PatientOrder.other_patient_id, query.other_patient_id),
        (PatientOrder.accession_number, query.accession_number),
    ):
        if value:
            where.append(
                _wildcard(column, value, sqlite) if _WILDCARDS.search(value) else column == value
            )
    if query.modalities:
        where.append(_modality_clause(account_id, [m.upper() for m in query.modalities]))
    where += _date_range(PatientOrder.study_date, query.study_date_from, query.study_date_to)
    where += _date_range(PatientOrder.patient_birth_date, query.birthdate_from, query.birthdate_to)
    if query.assigned_user_uuid:
        user_id = _id_by_uuid(session, User, account_id, query.assigned_user_uuid, "user")
        where.append(PatientOrder.assigned_user_id == user_id)
    if query.assigned_user_group_uuid:
        group_id = _id_by_uuid(
            session, UserGroup, account_id, query.assigned_user_group_uuid, "user group"
        )
        where.append(PatientOrder.assigned_group_id == group_id)

    if query.status:
        if query.status not in (SCHEDULED, IMAGES_RECEIVED):
            raise BadRequest(
                f"status: {query.status!r} is neither {SCHEDULED} nor {IMAGES_RECEIVED}"
            )
        where.append(PatientOrder.status == query.status)
    if query.assigned_to_user_id is not None:
        # The groups as values, not a subquery: PostgreSQL cannot combine the two indexes
        # (a BitmapOr) when one side of the OR is a hashed subplan, and scanned every
        # order of the table instead (120-240 ms at 100,000 orders).
        groups = session.scalars(
            select(UserGroupMember.group_id).where(
                UserGroupMember.user_id == query.assigned_to_user_id
            )
        ).all()
        mine = PatientOrder.assigned_user_id == query.assigned_to_user_id
        where.append(or_(mine, PatientOrder.assigned_group_id.in_(groups)) if groups else mine)
    if query.sort not in SORTS:
        raise BadRequest(f"sort: {query.sort!r} is not one of {', '.join(SORTS)}")

    # A modality's orders are counted from their list (``order_modality``): SQLite, without
    # statistics, would rather walk the account's index and test each order; PostgreSQL
    # picks the list by itself. A page of them is found by walking the newest orders and
    # keeping those in the list (a primary-key probe each).
    counted = account
    if query.modalities and sqlite and not is_narrow(who):
        counted = (PatientOrder.account_id + 0) == account_id
    total = int(session.scalar(select(func.count(PatientOrder.id)).where(counted, *where)) or 0)
    orders = session.scalars(
        select(PatientOrder)
        .where(account, *where)
        .order_by(*_order_by(query, who, sqlite))
        .limit(query.limit)
        .offset(query.offset)
    ).all()
    summaries = tuple(OrderSummary(**values) for values in _summary_values(session, orders))
    return OrderPage(summaries, total, query.limit, query.offset)


def _order_by(query: OrderQuery, who: Principal, sqlite: bool) -> list[Any]:
    """The ORDER BY of a search (:data:`SORTS`), always ending with the id (stable)."""
    column: SQLColumnExpression[Any] = {
        "study_date": PatientOrder.study_date,
        "study_date_asc": PatientOrder.study_date,
        "name": PatientOrder.patient_name_norm,
        "name_desc": PatientOrder.patient_name_norm,
    }.get(query.sort, PatientOrder.created_at)
    if sqlite and (_has_indexed_filter(query) or is_narrow(who)):
        # Without ANALYZE statistics SQLite prefers walking the sort's index (no sort
        # step) over a selective filter's index, i.e. it scans the whole account. The
        # same order as an expression rules that index out: filter first, then sort the
        # matches (which the count visits anyway).
        column = column.op("||")("")
    if query.sort in ("oldest", "study_date_asc", "name"):
        return [column.asc(), PatientOrder.id.asc()]
    return [column.desc(), PatientOrder.id.desc()]


def _has_indexed_filter(query: OrderQuery) -> bool:
    return bool(
        query.patient_name
        or query.patient_id
        or query.other_patient_id
        or query.accession_number
        or query.study_date_from
        or query.study_date_to
        or query.birthdate_from
        or query.birthdate_to
        or query.assigned_user_uuid
        or query.assigned_user_group_uuid
        or query.assigned_to_user_id is not None
    )


def _modality_clause(account_id: int, modalities: list[str]) -> ColumnElement[bool]:
    """The order's modality, or one of its images' (ModalitiesInStudy): the orders listed
    under it in ``order_modality`` (see :mod:`openpacs.index.order_modalities`), a range
    of its primary key; a page of them walks the newest orders with a probe each."""
    return PatientOrder.id.in_(
        select(OrderModality.order_id).where(
            OrderModality.account_id == account_id, OrderModality.modality.in_(modalities)
        )
    )


def _date_range(
    column: InstrumentedAttribute[str], start: date | None, end: date | None
) -> list[ColumnElement[bool]]:
    """Inclusive; orders without the date never match a range."""
    clauses: list[ColumnElement[bool]] = []
    if start is not None or end is not None:
        clauses.append(column != "")
    if start is not None:
        clauses.append(column >= start.strftime("%Y%m%d"))
    if end is not None:
        clauses.append(column <= end.strftime("%Y%m%d"))
    return clauses


def _wildcard(
    column: InstrumentedAttribute[str], pattern: str, sqlite: bool
) -> ColumnElement[bool]:
    """``*`` any run, ``?`` one character, case-sensitive (names are compared normalised).

    SQLite: GLOB (its LIKE ignores ASCII case and cannot use a BINARY index), bounded by
    the literal head as an index range in code-point order. Elsewhere: LIKE.
    """
    if not sqlite:
        like = "".join(
            "%" if ch == "*" else "_" if ch == "?" else f"!{ch}" if ch in "!%_" else ch
            for ch in pattern
        )
        return column.like(like, escape="!")
    glob = "".join(f"[{ch}]" if ch == "[" else ch for ch in pattern)
    clause: ColumnElement[bool] = column.op("GLOB", is_comparison=True)(glob)
    head = _WILDCARDS.split(pattern, maxsplit=1)[0]
    if not head:
        return clause
    bounds = [column >= head]
    if ord(head[-1]) < 0x10FFFF:
        bounds.append(column < head[:-1] + chr(ord(head[-1]) + 1))
    return and_(*bounds, clause)


# -- delete ------------------------------------------------------------------------------


def delete_order_rows(session: Session, order: PatientOrder) -> tuple[DeletedOrder, list[str]]:
    """Remove the order, its images' index rows, its folder links and share entries.

    Returns the blob keys of the removed instances: delete them after the commit.
    """
    study_ids = list(session.scalars(select(Study.id).where(Study.order_id == order.id)))
    blob_keys: list[str] = []
    n_series = 0
    if study_ids:
        series_ids = select(Series.id).where(Series.study_id.in_(study_ids))
        session.execute(
            delete(SeriesRequestAttributes).where(SeriesRequestAttributes.series_id.in_(series_ids))
        )
        blob_keys = list(
            session.scalars(
                delete(Instance)
                .where(Instance.study_id.in_(study_ids))
                .returning(Instance.blob_key)
            )
        )
        n_series = len(
            session.scalars(
                delete(Series).where(Series.study_id.in_(study_ids)).returning(Series.id)
            ).all()
        )
        session.execute(delete(Study).where(Study.id.in_(study_ids)))
    session.execute(delete(FolderOrder).where(FolderOrder.order_id == order.id))
    session.execute(delete(ShareOrder).where(ShareOrder.order_id == order.id))
    session.delete(order)
    session.flush()
    return DeletedOrder(order.uuid, n_series, len(blob_keys)), blob_keys


def audit_order_read(
    audit: AuditTrail | None, who: Principal, action: str, order: PatientOrder
) -> None:
    """Record a read of an order's patient data (no transaction: through the trail)."""
    if audit is not None:
        audit.record_durably(
            Event.by(
                who,
                action,
                study_instance_uid=order.study_instance_uid,
                patient_id=order.patient_id,
                detail=f"PatientOrderUuid={order.uuid}",
            )
        )


def _audit(session: Session, who: Principal, action: str, order: PatientOrder) -> None:
    record_event(
        session,
        who,
        action,
        study_uid=order.study_instance_uid,
        detail=f"PatientOrderUuid={order.uuid}",
    )
