"""Deleting the index rows of a study, series or instance, in the caller's transaction.

Each function deletes the instance rows (collecting their blob keys), recounts the series
and study (``num_instances``, ``num_series``, ``modalities_in_study``,
``sop_classes_in_study``) and removes a series or study row that became empty; it returns
the blob keys, which the caller deletes only after its commit (``services/delete.py``
writes down that order of work).

The patient order: deleting images never deletes the order (it is a management object
with its own id, folders, shares and assignment). When its last study is removed the
order goes back to status ``Scheduled`` (it has no images again) and keeps its
StudyInstanceUID, so images of that study stored later join it again.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.orm import Session

from openpacs.index.models import (
    Instance,
    PatientOrder,
    Series,
    SeriesRequestAttributes,
    Study,
)
from openpacs.index.order_link import SCHEDULED
from openpacs.index.order_modalities import refresh_order_modalities_in
from openpacs.index.retrieve_sql import Scope
from openpacs.index.viewer import Viewer, visible_studies

__all__ = ["delete_instance_rows", "delete_series_rows", "delete_study_rows", "find_target"]


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
        refresh_order_modalities_in(session, order_id)
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
    if study.order_id is not None:
        refresh_order_modalities_in(session, study.order_id)
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


def find_target(session: Session, viewer: Viewer, scope: Scope) -> tuple[int, str] | None:
    """Internal id of the study, series or instance the scope names, and its study UID
    (None when the viewer's account has no such thing, or the viewer may not see it)."""
    account = viewer.account_id
    where: list[ColumnElement[bool]] = [Study.account_id == account]
    if (visible := visible_studies(viewer)) is not None:
        where.append(visible)
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
    return None if found is None else (int(found[0]), str(found[1]))
