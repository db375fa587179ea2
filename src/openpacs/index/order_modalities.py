"""The modalities of each patient order as rows (``order_modality``), for the order
list's modality filter.

An order's modalities are its own (``patient_order.modality``: a scheduled order's, or
the header's of an order made from images) and its images' (each linked study's
ModalitiesInStudy). The filter used to find them by scanning every study's
ModalitiesInStudy (``LIKE '%\\MR\\%'``) and joining that list back to the orders: 400-500 ms
at 100,000 orders on PostgreSQL. With one row per (account, modality, order) the count is
an index range and a page walks the newest orders with a primary-key probe each.

:func:`refresh_order_modalities` makes an order's rows what its order and studies say
(a few statements; nothing when nothing changed). It runs where those change:

* an order is made by the API or the web application (:mod:`openpacs.services.orders`);
* a study's ModalitiesInStudy grows at store time (:mod:`openpacs.index.instance_rows`,
  after a study is linked to its order in the same transaction);
* images are deleted (:mod:`openpacs.index.delete_rows`: a study shrinks or goes);
* an order's deletion removes its rows by the foreign key (``ON DELETE CASCADE``).

Migration ``0007_order_modality`` fills the table for existing orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from openpacs.index.models import OrderModality, PatientOrder, Study
from openpacs.index.raw import RawStatement, dialect_insert, raw_cursor

__all__ = ["modalities_of", "refresh_order_modalities", "refresh_order_modalities_in"]

_OWN = RawStatement(
    select(PatientOrder.account_id, PatientOrder.modality).where(
        PatientOrder.id == bindparam("order_id")
    )
)
_OF_STUDIES = RawStatement(
    select(Study.modalities_in_study).where(Study.order_id == bindparam("order_id"))
)
_LISTED = RawStatement(
    select(OrderModality.modality).where(OrderModality.order_id == bindparam("order_id"))
)
_DROP = RawStatement(
    delete(OrderModality).where(
        OrderModality.order_id == bindparam("order_id"),
        OrderModality.modality == bindparam("modality"),
    )
)


def _add(dialect: str) -> Executable:
    """Insert a row; another writer's same row (two studies of one order stored at
    once by two processes) is no conflict."""
    make = dialect_insert(dialect)
    return (
        make(OrderModality)
        .values(
            account_id=bindparam("account_id"),
            modality=bindparam("modality"),
            order_id=bindparam("order_id"),
        )
        .on_conflict_do_nothing()
    )


_ADD = RawStatement(_add)


def modalities_of(own: str | None, studies: Iterable[str | None]) -> set[str]:
    """An order's modalities: its own code and every study's ModalitiesInStudy
    (``\\CT\\SR\\``), in capitals."""
    found = {own.strip().upper()} if own and own.strip() else set()
    for value in studies:
        found |= {m.strip().upper() for m in (value or "").split("\\") if m.strip()}
    return found


def refresh_order_modalities(cursor: Any, dialect: Dialect, order_id: int) -> None:
    """Make the order's ``order_modality`` rows what the order and its studies say
    (inside the caller's transaction, on its DBAPI cursor)."""
    own = _OWN.execute(cursor, dialect, {"order_id": order_id}).fetchone()
    if own is None:
        return  # the order is gone: its rows went with it
    account_id, modality = own
    studies = [row[0] for row in _OF_STUDIES.execute(cursor, dialect, {"order_id": order_id})]
    wanted = modalities_of(modality, studies)
    listed = {row[0] for row in _LISTED.execute(cursor, dialect, {"order_id": order_id})}
    for gone in sorted(listed - wanted):
        _DROP.execute(cursor, dialect, {"order_id": order_id, "modality": gone})
    for new in sorted(wanted - listed):
        _ADD.execute(
            cursor, dialect, {"account_id": account_id, "modality": new, "order_id": order_id}
        )


def refresh_order_modalities_in(session: Session, order_id: int) -> None:
    """:func:`refresh_order_modalities` in an ORM session (its pending changes first)."""
    session.flush()
    conn = session.connection()
    refresh_order_modalities(raw_cursor(conn), conn.dialect, order_id)
