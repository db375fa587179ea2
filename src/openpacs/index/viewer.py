"""Who reads the index, and the orders they may see: the one read scope of every query.

The account always bounds what a viewer sees. Inside it, three narrowings combine:

* a share link sees only its orders (``share_order_ids``, a handful, listed);
* a reader sees only the orders assigned to them or to one of their groups
  (``assigned_to_user_id``);
* a user limited to some institutions sees only the orders of those
  (``institution_ids``).

QIDO (:mod:`qido_sql`), WADO (:mod:`retrieve_sql`), deletion (:mod:`delete_rows`) and
the custom API's order, folder and share queries all take their clause from here, so a
study, its metadata and its order are visible to exactly the same people.

Cost: the reader and institution scopes are subqueries the database runs with the
indexes ``patient_order.assigned_user_id``, ``assigned_group_id``, ``institution_id``
and ``user_group_member.user_id``; nothing is fetched into Python, so a reader with ten
thousand assigned orders costs no more per query than one with ten. A reader's (or a
share's) scope is *narrow*: the few orders lead the query (``study.order_id`` index);
an institution scope is wide and is checked on the rows the other filters find.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import Session

from openpacs.index.in_lists import in_chunks
from openpacs.index.models import PatientOrder, Study, UserGroupMember

__all__ = [
    "Viewer",
    "in_account",
    "is_narrow",
    "order_scope",
    "shared_studies",
    "visible_orders",
    "visible_studies",
]


class Viewer(Protocol):
    """``services.principal.Principal`` is one; the index never imports the services."""

    @property
    def account_id(self) -> int: ...

    @property
    def share_order_ids(self) -> frozenset[int] | None: ...

    @property
    def assigned_to_user_id(self) -> int | None: ...

    @property
    def institution_ids(self) -> frozenset[int] | None: ...


def order_scope(viewer: Viewer) -> list[ColumnElement[bool]]:
    """The clauses on ``patient_order`` that keep the viewer's orders (beyond the
    account, which callers always filter on); [] when the whole account is visible."""
    clauses: list[ColumnElement[bool]] = []
    if viewer.share_order_ids is not None:
        ids = sorted(viewer.share_order_ids)
        clauses.append(PatientOrder.id.in_(ids) if ids else false())
    user_id = viewer.assigned_to_user_id
    if user_id is not None:
        groups = select(UserGroupMember.group_id).where(UserGroupMember.user_id == user_id)
        mine = PatientOrder.assigned_user_id == user_id
        clauses.append(or_(mine, PatientOrder.assigned_group_id.in_(groups)))
    if viewer.institution_ids is not None:
        ids = sorted(viewer.institution_ids)
        clauses.append(PatientOrder.institution_id.in_(ids) if ids else false())
    return clauses


def in_account(viewer: Viewer) -> ColumnElement[bool]:
    """``patient_order.account_id`` is the viewer's. For a narrow viewer it is written
    ``account_id + 0``: the same test, but one SQLite cannot serve from an index that
    starts with the account, so it starts from the narrow scope's own indexes (the
    assignment indexes for a reader) instead of walking every order of the account."""
    column: Any = PatientOrder.account_id
    if is_narrow(viewer):
        column = column + 0
    clause: ColumnElement[bool] = column == viewer.account_id
    return clause


def visible_orders(viewer: Viewer) -> Select[Any] | None:
    """The ids of the orders the viewer sees, as a subquery; None: every order."""
    clauses = order_scope(viewer)
    if not clauses:
        return None
    return select(PatientOrder.id).where(in_account(viewer), *clauses)


def visible_studies(viewer: Viewer) -> ColumnElement[bool] | None:
    """The clause on ``study`` that keeps the studies of the viewer's orders; None when
    the whole account is visible. A share's listed orders are compared directly."""
    if viewer.share_order_ids is not None and len(order_scope(viewer)) == 1:
        return shared_studies(viewer)
    orders = visible_orders(viewer)
    return None if orders is None else Study.order_id.in_(orders)


def is_narrow(viewer: Viewer) -> bool:
    """True when the viewer sees few orders (a share, a reader): queries then start from
    those orders rather than walk the account's studies."""
    return viewer.share_order_ids is not None or viewer.assigned_to_user_id is not None


def shared_studies(viewer: Viewer) -> ColumnElement[bool] | None:
    """For a share link, the studies of its orders (nothing when it has none); else None."""
    if viewer.share_order_ids is None:
        return None
    ids = sorted(viewer.share_order_ids)
    return Study.order_id.in_(ids) if ids else false()


def readable_orders(
    session: Session, viewer: Viewer, order_uuids: Sequence[str]
) -> dict[str, PatientOrder]:
    """UUID -> order, for those of ``order_uuids`` the viewer may read."""
    found: dict[str, PatientOrder] = {}
    for chunk in in_chunks(order_uuids):
        for order in session.scalars(
            select(PatientOrder).where(
                PatientOrder.account_id == viewer.account_id,
                PatientOrder.uuid.in_(chunk),
                *order_scope(viewer),
            )
        ):
            found[order.uuid] = order
    return found
