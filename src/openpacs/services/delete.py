"""DELETE of a study, series or instance (a common DICOMweb extension).

Order of work, so that nothing the index still points at is ever removed:

1. one transaction: delete the instance rows (collecting their blob keys), recount the
   series and study (``num_instances``, ``num_series``, ``modalities_in_study``,
   ``sop_classes_in_study``), remove a series or study row that became empty;
2. commit;
3. delete the blobs. A crash between 2 and 3 leaves unreferenced blobs, which cost
   space but no correctness; ``openpacs admin gc --scan-store`` collects them.

The patient order: deleting images never deletes the order (it is a management object
with its own id, folders, shares and assignment; ``/deleteorder`` removes it). When its
last study is removed the order goes back to status ``Scheduled`` (it has no images
again) and keeps its StudyInstanceUID, so images of that study stored later join it again.

Each deletion is recorded as an audit event (``study.delete``, ``series.delete``,
``instance.delete``). Share (read-only) principals cannot delete (403). Unknown UIDs,
and other accounts' or unshared ones, are 404.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.orm import Session

from openpacs.index.db import Database
from openpacs.index.models import (
    AuditEvent,
    Instance,
    PatientOrder,
    Series,
    SeriesRequestAttributes,
    Study,
)
from openpacs.index.order_link import SCHEDULED
from openpacs.services.errors import Forbidden, NotFound
from openpacs.services.principal import Principal
from openpacs.services.retrieve import Scope
from openpacs.storage.base import BlobStore

__all__ = [
    "DeleteResult",
    "delete_instance_rows",
    "delete_resource",
    "delete_series_rows",
    "delete_study_rows",
]

log = logging.getLogger("openpacs.delete")


@dataclass(frozen=True)
class DeleteResult:
    level: str
    instances: int
    blobs_removed: int


def delete_study_rows(session: Session, account_id: int, study_id: int) -> list[str]:
    """Delete a study's index rows (instances, series, study) in the caller's transaction.

    Returns the blob keys to delete after the commit. The study's order is kept and set
    back to ``Scheduled`` when it has no other study. Unknown ids delete nothing.
    """
    order_id = session.scalar(
        select(Study.order_id).where(Study.id == study_id, Study.account_id == account_id)
    )
    keys = list(
        session.scalars(
            delete(Instance)
            .where(Instance.study_id == study_id, Instance.account_id == account_id)
            .returning(Instance.blob_key)
        )
    )
    series_ids = select(Series.id).where(
        Series.study_id == study_id, Series.account_id == account_id
    )
    session.execute(
        delete(SeriesRequestAttributes).where(SeriesRequestAttributes.series_id.in_(series_ids))
    )
    session.execute(
        delete(Series).where(Series.study_id == study_id, Series.account_id == account_id)
    )
    session.execute(delete(Study).where(Study.id == study_id, Study.account_id == account_id))
    if order_id is not None:
        _reset_order_if_empty(session, account_id, order_id)
    return keys


def delete_series_rows(session: Session, account_id: int, series_id: int) -> list[str]:
    """Delete a series; its study is recounted, or removed when it became empty."""
    study_id = session.scalar(
        select(Series.study_id).where(Series.id == series_id, Series.account_id == account_id)
    )
    if study_id is None:
        return []
    keys = list(
        session.scalars(
            delete(Instance)
            .where(Instance.series_id == series_id, Instance.account_id == account_id)
            .returning(Instance.blob_key)
        )
    )
    session.execute(
        delete(SeriesRequestAttributes).where(SeriesRequestAttributes.series_id == series_id)
    )
    session.execute(delete(Series).where(Series.id == series_id))
    return keys + _recount_study(session, account_id, int(study_id))


def delete_instance_rows(session: Session, account_id: int, instance_id: int) -> list[str]:
    """Delete one instance; its series and study are recounted or removed when empty."""
    row = session.execute(
        select(Instance.series_id, Instance.blob_key).where(
            Instance.id == instance_id, Instance.account_id == account_id
        )
    ).first()
    if row is None:
        return []
    series_id, key = int(row[0]), str(row[1])
    session.execute(delete(Instance).where(Instance.id == instance_id))
    remaining = session.scalar(
        select(func.count()).select_from(Instance).where(Instance.series_id == series_id)
    )
    if not remaining:
        return [key, *delete_series_rows(session, account_id, series_id)]
    session.execute(update(Series).where(Series.id == series_id).values(num_instances=remaining))
    study_id = session.scalar(select(Series.study_id).where(Series.id == series_id))
    assert study_id is not None
    return [key, *_recount_study(session, account_id, int(study_id))]


def _recount_study(session: Session, account_id: int, study_id: int) -> list[str]:
    """Fix the study's counters after a removal, or remove the study if it is empty."""
    n_series = session.scalar(
        select(func.count()).select_from(Series).where(Series.study_id == study_id)
    )
    if not n_series:
        return delete_study_rows(session, account_id, study_id)
    n_instances = session.scalar(
        select(func.count()).select_from(Instance).where(Instance.study_id == study_id)
    )
    modalities = sorted(
        m
        for m in session.scalars(
            select(Series.modality).where(Series.study_id == study_id).distinct()
        )
        if m
    )
    classes = sorted(
        c
        for c in session.scalars(
            select(Instance.sop_class_uid).where(Instance.study_id == study_id).distinct()
        )
        if c
    )
    study = session.get(Study, study_id)
    assert study is not None
    study.num_series = int(n_series)
    study.num_instances = int(n_instances or 0)
    study.modalities_in_study = _multi(modalities, study.modalities_in_study)
    if study.sop_classes_in_study:  # only maintained if the store path maintains it
        study.sop_classes_in_study = _multi(classes, study.sop_classes_in_study)
    return []


def _multi(values: list[str], current: str) -> str:
    """A multi-valued index column: ``\\A\\B\\`` (leading and trailing backslash)."""
    if not values:
        return ""
    keep_order = [v for v in current.strip("\\").split("\\") if v in values]
    ordered = keep_order + [v for v in values if v not in keep_order]
    return "\\" + "\\".join(ordered) + "\\"


def _reset_order_if_empty(session: Session, account_id: int, order_id: int) -> None:
    others = session.scalar(
        select(func.count()).select_from(Study).where(Study.order_id == order_id)
    )
    if not others:
        session.execute(
            update(PatientOrder)
            .where(PatientOrder.id == order_id, PatientOrder.account_id == account_id)
            .values(status=SCHEDULED)
        )


def _target(session: Session, principal: Principal, scope: Scope) -> tuple[int, str]:
    """Internal id of the study, series or instance the scope names, and its study UID."""
    account = principal.account_id
    where: list[ColumnElement[bool]] = [Study.account_id == account]
    if scope.study_uid is not None:
        where.append(Study.study_instance_uid == scope.study_uid)
    if scope.series_uid is not None:
        where += [Series.account_id == account, Series.series_instance_uid == scope.series_uid]
    stmt: Select[int, str]
    if scope.sop_uid is not None:
        stmt = (
            select(Instance.id, Study.study_instance_uid)
            .join(Series, Series.id == Instance.series_id)
            .join(Study, Study.id == Instance.study_id)
            .where(Instance.account_id == account, Instance.sop_instance_uid == scope.sop_uid)
        )
    elif scope.series_uid is not None:
        stmt = select(Series.id, Study.study_instance_uid).join(Study, Study.id == Series.study_id)
    else:
        stmt = select(Study.id, Study.study_instance_uid)
    found = session.execute(stmt.where(*where).limit(1)).first()
    if found is None:
        raise NotFound(f"{scope.describe()} not found")
    return int(found[0]), str(found[1])


def delete_resource(
    db: Database, blobs: BlobStore, principal: Principal, scope: Scope
) -> DeleteResult:
    """Delete what ``scope`` names (blocking: run in a worker thread)."""
    if principal.read_only:
        raise Forbidden("this access is read-only; deleting is not allowed")
    with db.session() as session:
        target, study_uid = _target(session, principal, scope)
        if scope.level == "instance":
            keys = delete_instance_rows(session, principal.account_id, target)
        elif scope.level == "series":
            keys = delete_series_rows(session, principal.account_id, target)
        else:
            keys = delete_study_rows(session, principal.account_id, target)
        session.add(
            AuditEvent(
                account_id=principal.account_id,
                user_id=principal.user_id,
                share_id=principal.share_id,
                action=f"{scope.level}.delete",
                study_instance_uid=study_uid,
                detail=f"{scope.describe()}: {len(keys)} instance(s)",
            )
        )
    removed = 0
    for key in keys:
        try:
            blobs.delete(key)
            removed += 1
        except Exception:  # the index no longer points at it; gc can retry
            log.exception("could not delete blob %s after deleting its index rows", key)
    log.info("deleted %s: %d instance(s)", scope.describe(), len(keys))
    return DeleteResult(scope.level, len(keys), removed)
