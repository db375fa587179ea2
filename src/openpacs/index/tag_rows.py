"""The rows /getdicomtagcontent reads: an order's series and their instances' stored
DICOM JSON (``metadata_json``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpacs.index.models import Instance, Series, Study


def order_series(session: Session, order_id: int, series_uuid: str = "") -> Sequence[Series]:
    """The series of the order's studies in number order (numberless last), or only the
    one with PatientSeriesUuid ``series_uuid``."""
    stmt = (
        select(Series)
        .join(Study, Study.id == Series.study_id)
        .where(Study.order_id == order_id)
        .order_by(Series.series_number.asc().nulls_last(), Series.id)
    )
    if series_uuid:
        stmt = stmt.where(Series.uuid == series_uuid)
    return session.scalars(stmt).all()


def series_size(session: Session, order_id: int, series_uuid: str) -> int | None:
    """The number of instances of the order's series ``series_uuid`` (None: no such
    series in the order)."""
    found = session.scalar(
        select(Series.num_instances)
        .join(Study, Study.id == Series.study_id)
        .where(Study.order_id == order_id, Series.uuid == series_uuid)
    )
    return None if found is None else int(found)


def instance_metadata(
    session: Session, series_ids: Sequence[int], position: int | None = None
) -> list[tuple[int, str, int | None, bytes]]:
    """(series id, SOP Instance UID, InstanceNumber, metadata_json) of the instances of
    these series in number order (numberless last); with ``position``, only the instance
    at that 0-based place in that order."""
    if not series_ids:
        return []
    stmt = (
        select(
            Instance.series_id,
            Instance.sop_instance_uid,
            Instance.instance_number,
            Instance.metadata_json,
        )
        .where(Instance.series_id.in_(list(series_ids)))
        .order_by(Instance.instance_number.asc().nulls_last(), Instance.id)
    )
    if position is not None:
        stmt = stmt.offset(max(position, 0)).limit(1)
    return [(int(s), str(u), n, bytes(m)) for s, u, n, m in session.execute(stmt)]
