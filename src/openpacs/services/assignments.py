"""Work assignment: ``/assignordertouser`` and ``/assignordertousergroup``.

An order has at most one assigned user and at most one assigned user group, set
independently: assigning a user replaces the previous user and keeps the group, and
the other way round. The user or group must belong to the order's account (else 404,
as for another account's order). The assignment shows in the order's properties and
summaries (``AssignedUserUuid``, ``AssignedUserGroupUuid``) and can be searched with the
same keys in ``/getpatientorderlist``. Every assignment is audited (``order.assign``).
Assigning needs the write permission (admins and members); it is also what gives a
reader their read scope (:mod:`openpacs.index.viewer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from openpacs.index import directory_rows
from openpacs.index.audit import record_event
from openpacs.index.db import Database
from openpacs.index.models import PatientOrder
from openpacs.services.errors import NotFound
from openpacs.services.orders import find_order
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal


@dataclass(frozen=True)
class OrderAssignment:
    """The assignment of an order after the call ("" = nobody)."""

    patient_order_uuid: str
    assigned_user_uuid: str
    assigned_user_group_uuid: str
    previous_assigned_user_uuid: str
    previous_assigned_user_group_uuid: str


class AssignmentService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def assign_user(self, who: Principal, order_uuid: str, user_uuid: str) -> OrderAssignment:
        require(who, Action.WRITE)
        with self._db.session() as session:
            order = find_order(session, who, order_uuid)
            user_id = directory_rows.user_id(session, order.account_id, user_uuid)
            if user_id is None:
                raise NotFound(f"AssignedUserUuid: no user {user_uuid}")
            before = _state(session, order)
            order.assigned_user_id = int(user_id)
            _audit(session, who, order, f"AssignedUserUuid={user_uuid}")
            session.flush()
            return _result(session, order, before)

    def assign_group(self, who: Principal, order_uuid: str, group_uuid: str) -> OrderAssignment:
        require(who, Action.WRITE)
        with self._db.session() as session:
            order = find_order(session, who, order_uuid)
            group_id = directory_rows.group_id(session, order.account_id, group_uuid)
            if group_id is None:
                raise NotFound(f"AssignedUserGroupUuid: no user group {group_uuid}")
            before = _state(session, order)
            order.assigned_group_id = int(group_id)
            _audit(session, who, order, f"AssignedUserGroupUuid={group_uuid}")
            session.flush()
            return _result(session, order, before)


def _state(session: Session, order: PatientOrder) -> tuple[str, str]:
    user_uuid = ""
    if order.assigned_user_id is not None:
        user_uuid = directory_rows.user_uuid(session, order.assigned_user_id)
    group_uuid = ""
    if order.assigned_group_id is not None:
        group_uuid = directory_rows.group_uuid(session, order.assigned_group_id)
    return user_uuid, group_uuid


def _result(session: Session, order: PatientOrder, before: tuple[str, str]) -> OrderAssignment:
    user_uuid, group_uuid = _state(session, order)
    return OrderAssignment(order.uuid, user_uuid, group_uuid, before[0], before[1])


def _audit(session: Session, who: Principal, order: PatientOrder, detail: str) -> None:
    record_event(
        session,
        who,
        "order.assign",
        study_uid=order.study_instance_uid,
        detail=f"PatientOrderUuid={order.uuid}; {detail}",
    )
