"""The rows behind a share page and the web application's order page: orders with their
first study and its series, one series of them, and the images of a series."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpacs.index.in_lists import in_chunks
from openpacs.index.models import Instance, PatientOrder, Series, Study


@dataclass
class OrderRows:
    """Orders of one account, the first study of each (by order id) and the series of
    those studies in number order (numberless last)."""

    orders: list[PatientOrder] = field(default_factory=list)
    study_of_order: dict[int, Study] = field(default_factory=dict)
    series_of_study: dict[int, list[Series]] = field(default_factory=dict)


def order_rows(session: Session, account_id: int, order_ids: Iterable[int]) -> OrderRows:
    """The account's orders among ``order_ids`` with their first study and its series."""
    found = OrderRows()
    for chunk in in_chunks(sorted(order_ids)):
        found.orders += session.scalars(
            select(PatientOrder).where(
                PatientOrder.account_id == account_id, PatientOrder.id.in_(chunk)
            )
        )
        for study in session.scalars(
            select(Study)
            .where(Study.account_id == account_id, Study.order_id.in_(chunk))
            .order_by(Study.id)
        ):
            assert study.order_id is not None
            found.study_of_order.setdefault(study.order_id, study)
    study_ids = sorted(s.id for s in found.study_of_order.values())
    for chunk in in_chunks(study_ids):
        for series in session.scalars(
            select(Series)
            .where(Series.account_id == account_id, Series.study_id.in_(chunk))
            .order_by(Series.series_number.is_(None), Series.series_number, Series.id)
        ):
            found.series_of_study.setdefault(series.study_id, []).append(series)
    return found


def series_in_orders(
    session: Session, account_id: int, order_ids: Iterable[int], series_uid: str
) -> tuple[Series, Study, PatientOrder] | None:
    """The account's series ``series_uid`` with its study and order, if one of
    ``order_ids`` holds it."""
    ids = sorted(order_ids)
    if not ids:
        return None
    row = session.execute(
        select(Series, Study, PatientOrder)
        .join(Study, Study.id == Series.study_id)
        .join(PatientOrder, PatientOrder.id == Study.order_id)
        .where(
            Series.account_id == account_id,
            Study.account_id == account_id,
            Series.series_instance_uid == series_uid,
            Study.order_id.in_(ids),
        )
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def image_rows(session: Session, account_id: int, series_id: int) -> list[tuple[str, int | None]]:
    """(SOP Instance UID, frame count) of the series' instances with pixels, in instance
    number order (numberless last)."""
    rows = session.execute(
        select(Instance.sop_instance_uid, Instance.number_of_frames)
        .where(
            Instance.account_id == account_id,
            Instance.series_id == series_id,
            Instance.number_of_frames.is_not(None),
        )
        .order_by(Instance.instance_number.is_(None), Instance.instance_number, Instance.id)
    ).all()
    return [(str(uid), None if frames is None else int(frames)) for uid, frames in rows]
