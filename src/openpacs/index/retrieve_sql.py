"""The instances a retrieval covers, read from the index (the SQL of the WADO-RS service).

Every look-up is scoped to the viewer's account and to the studies of the orders the
viewer may see (:func:`openpacs.index.viewer.visible_studies`: a share's orders, a
reader's assigned orders, a limited user's institutions). Anything outside the scope is
simply not found (the service answers "not found": another account's UIDs are never
revealed).

Only the columns the caller needs are selected: listing a 10,000-instance study reads
ids, keys and transfer syntaxes, never ``metadata_json``; the metadata is fetched later in
batches of ids (:func:`fetch_metadata`), each batch in its own short session, so a slow
client never holds a database connection or a read transaction open.

Order (stable, the same as QIDO): series by SeriesNumber (missing last), then series id;
within a series InstanceNumber (missing last), then instance id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from openpacs.index.models import Instance, Series, Study
from openpacs.index.raw import InListStatement, RawStatement, raw_cursor
from openpacs.index.viewer import Viewer, visible_studies

__all__ = [
    "InstanceDetail",
    "InstanceRef",
    "Scope",
    "fetch_directory_rows",
    "fetch_metadata",
    "find_instance",
    "find_instances",
]


@dataclass(frozen=True)
class Scope:
    """What a WADO URL names. UIDs left None are not constrained (PostDICOM forms)."""

    study_uid: str | None = None
    series_uid: str | None = None
    sop_uid: str | None = None

    @property
    def level(self) -> str:
        if self.sop_uid is not None:
            return "instance"
        return "series" if self.series_uid is not None else "study"

    def describe(self) -> str:
        """E.g. ``series 1.2.3`` (the most specific UID given), for error messages."""
        uid = self.sop_uid or self.series_uid or self.study_uid or ""
        return f"{self.level} {uid[:64]}"


@dataclass(frozen=True, slots=True)
class InstanceRef:
    """One instance of a retrieval, with what streaming and negotiation need."""

    id: int
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    blob_key: str
    size: int
    number_of_frames: int | None
    series_id: int

    @property
    def has_pixel_data(self) -> bool:
        return self.number_of_frames is not None


@dataclass(frozen=True, slots=True)
class InstanceDetail:
    """One instance plus its frame and bulk data byte ranges (JSON as stored)."""

    ref: InstanceRef
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    frames_json: bytes | None
    bulk_json: bytes | None


_REF_COLUMNS = (
    Instance.id,
    Study.study_instance_uid,
    Series.series_instance_uid,
    Instance.sop_instance_uid,
    Instance.sop_class_uid,
    Instance.transfer_syntax_uid,
    Instance.blob_key,
    Instance.size,
    Instance.number_of_frames,
    Instance.series_id,
    Instance.account_id,  # checked on the rows (see _fast_statement)
)


def _ref(row: Sequence[Any]) -> InstanceRef:
    return InstanceRef(
        id=int(row[0]),
        study_uid=row[1],
        series_uid=row[2],
        sop_uid=row[3],
        sop_class_uid=row[4],
        transfer_syntax_uid=row[5],
        blob_key=row[6],
        size=int(row[7] or 0),
        number_of_frames=row[8],
        series_id=int(row[9]),
    )


def _scoped(
    stmt: Select[*tuple[Any, ...]], viewer: Viewer, scope: Scope
) -> Select[*tuple[Any, ...]]:
    """Join instance -> series -> study and apply the account, read scope and UID filters."""
    where: list[ColumnElement[bool]] = [
        Instance.account_id == viewer.account_id,
        Series.account_id == viewer.account_id,
        Study.account_id == viewer.account_id,
    ]
    if (visible := visible_studies(viewer)) is not None:
        where.append(visible)
    if scope.study_uid is not None:
        where.append(Study.study_instance_uid == scope.study_uid)
    if scope.series_uid is not None:
        where.append(Series.series_instance_uid == scope.series_uid)
    if scope.sop_uid is not None:
        where.append(Instance.sop_instance_uid == scope.sop_uid)
    return (
        stmt.select_from(Instance)
        .join(Series, Series.id == Instance.series_id)
        .join(Study, Study.id == Instance.study_id)
        .where(*where)
    )


def _ordered(stmt: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    return stmt.order_by(
        Series.series_number.is_(None),
        Series.series_number,
        Series.id,
        Instance.instance_number.is_(None),
        Instance.instance_number,
        Instance.id,
    )


_ACCOUNT = len(_REF_COLUMNS) - 1  # the row's Instance.account_id

_DETAIL_COLUMNS = (
    *_REF_COLUMNS,
    Instance.rows,
    Instance.columns,
    Instance.bits_allocated,
    Instance.frames_json,
    Instance.bulk_json,
)

# --------------------------------------------------------------------------- fast path
#
# A viewer who sees the whole account (an admin's or member's request: nearly every
# request) needs no read-scope clause, so its look-ups have a few fixed shapes: which UIDs
# the URL names, one instance or a list. Each shape is a statement with bound parameters,
# compiled once (RawStatement) and run on the DBAPI cursor: building, caching and
# executing the statement through SQLAlchemy cost more than SQLite needs to answer it.
# The same scoping as _scoped: account on all three tables, then the URL's UIDs.

_Shape = tuple[bool, bool, bool, bool]  # study, series, sop given; one instance (detail)
_FAST: dict[_Shape, RawStatement] = {}


def _fast_statement(scope: Scope, detail: bool) -> RawStatement:
    shape = (scope.study_uid is not None, scope.series_uid is not None,
             scope.sop_uid is not None, detail)  # fmt: skip
    raw = _FAST.get(shape)
    if raw is None:
        account: BindParameter[int] = bindparam("account")
        where: list[ColumnElement[bool]] = [
            Series.account_id == account,
            Study.account_id == account,
        ]
        # The instance's own account is a condition only where it picks the index (the
        # account's SOP UIDs); elsewhere it is checked on the rows: beside the study's
        # instances, PostgreSQL with stale statistics AND-ed in a bitmap of all the
        # account's instances (19 ms per study at 100,000 instances).
        if shape[2]:
            where.append(Instance.account_id == account)
        if shape[0]:
            where.append(Study.study_instance_uid == bindparam("study"))
        if shape[1]:
            where.append(Series.series_instance_uid == bindparam("series"))
        if shape[2]:
            where.append(Instance.sop_instance_uid == bindparam("sop"))
        stmt = (
            select(*(_DETAIL_COLUMNS if detail else _REF_COLUMNS))
            .select_from(Instance)
            .join(Series, Series.id == Instance.series_id)
            .join(Study, Study.id == Instance.study_id)
            .where(*where)
        )
        raw = _FAST[shape] = RawStatement(stmt.limit(1) if detail else _ordered(stmt))
    return raw


def _fast_rows(
    db: Session | Connection, viewer: Viewer, scope: Scope, detail: bool
) -> list[Any] | None:
    """The rows of a whole-account viewer's look-up; None for a narrower viewer."""
    if visible_studies(viewer) is not None:
        return None
    conn = db.connection() if isinstance(db, Session) else db
    params: dict[str, object] = {"account": viewer.account_id}
    for name, value in (("study", scope.study_uid), ("series", scope.series_uid),
                        ("sop", scope.sop_uid)):  # fmt: skip
        if value is not None:
            params[name] = value
    cursor = raw_cursor(conn)
    try:
        _fast_statement(scope, detail).execute(cursor, conn.dialect, params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return [row for row in rows if row[_ACCOUNT] == viewer.account_id]


def find_instances(db: Session | Connection, viewer: Viewer, scope: Scope) -> list[InstanceRef]:
    """Every instance the scope names that ``viewer`` may see, in retrieval order."""
    rows = _fast_rows(db, viewer, scope, detail=False)
    if rows is None:
        rows = list(db.execute(_ordered(_scoped(select(*_REF_COLUMNS), viewer, scope))).all())
    return [_ref(row) for row in rows]


def find_instance(db: Session | Connection, viewer: Viewer, scope: Scope) -> InstanceDetail | None:
    """One instance (``scope.sop_uid`` is required) with its frame and bulk data ranges."""
    if scope.sop_uid is None:
        raise ValueError("find_instance needs a SOP Instance UID")
    rows = _fast_rows(db, viewer, scope, detail=True)
    if rows is None:
        stmt = _scoped(select(*_DETAIL_COLUMNS), viewer, scope)
        rows = list(db.execute(stmt.limit(1)).all())
    if not rows:
        return None
    row = rows[0]
    n = len(_REF_COLUMNS)
    return InstanceDetail(_ref(row[:n]), row[n], row[n + 1], row[n + 2], row[n + 3], row[n + 4])


# Instances by primary key alone, the account checked on the rows: with ``account_id = ?``
# in the WHERE clause too, SQLite walks the account's whole (account_id, sop_instance_uid)
# index and tests each id against the list, so a 10-instance study's metadata took 4 ms at
# 10,000 instances and 25 ms at 100,000 (``make bench-scale``).
_METADATA = InListStatement(
    lambda ids: select(Instance.id, Instance.account_id, Instance.metadata_json).where(
        Instance.id.in_(ids)
    )
)


def fetch_metadata(db: Session | Connection, account_id: int, ids: Sequence[int]) -> list[bytes]:
    """The stored DICOM JSON of these instances, in the order of ``ids``.

    ``ids`` come from :func:`find_instances` (already scoped); the account filter is kept
    as a second guard. An instance deleted meanwhile is skipped.
    """
    if not ids:
        return []
    conn = db.connection() if isinstance(db, Session) else db
    rows = _METADATA.rows(conn, [int(i) for i in ids])
    by_id = {int(row[0]): bytes(row[2]) for row in rows if row[1] == account_id}
    return [by_id[i] for i in ids if i in by_id]


# The columns a DICOMDIR record needs of each instance (patient, study, series, instance
# keys), in the order of openpacs.dicom.dicomdir.DicomdirInstance's fields after the UIDs.
_DIRECTORY_COLUMNS = (
    Instance.id,
    Study.patient_id,
    Study.patient_name,
    Study.patient_birth_date,
    Study.patient_sex,
    Study.study_date,
    Study.study_time,
    Study.study_description,
    Study.study_id,
    Study.accession_number,
    Series.modality,
    Series.series_number,
    Instance.instance_number,
)


def fetch_directory_rows(
    session: Session, account_id: int, ids: Sequence[int]
) -> dict[int, tuple[Any, ...]]:
    """Per instance id, the index columns a DICOMDIR record needs (no JSON is read).

    ``ids`` come from :func:`find_instances` (already scoped); the account is checked
    again. Batched, so a 100,000-instance study is a few hundred short statements.
    """
    out: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(ids), _ID_BATCH):
        batch = list(ids[start : start + _ID_BATCH])
        stmt = (
            select(Instance.account_id, *_DIRECTORY_COLUMNS)
            .select_from(Instance)
            .join(Series, Series.id == Instance.series_id)
            .join(Study, Study.id == Instance.study_id)
            .where(Instance.id.in_(batch))  # by primary key: see _METADATA
        )
        for row in session.execute(stmt):
            if row[0] == account_id:
                out[int(row[1])] = tuple(row[2:])
    return out


# Bound parameters per IN list: well below SQLite's and PostgreSQL's limits.
_ID_BATCH = 500
