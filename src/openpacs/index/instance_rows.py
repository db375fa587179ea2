"""The index rows of stored instances: study, series, order link, instance, counters.

Pure SQL on a session the caller owns (the index writer commits many instances at once).
The common case (more instances of a known series) costs a handful of statements per
batch, compiled once: see `index_instances`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import Session

from openpacs.dicom.parsed import ParsedInstance
from openpacs.index.models import (
    Instance,
    Series,
    SeriesRequestAttributes,
    Study,
    utcnow,
)
from openpacs.index.order_link import link_study_to_order
from openpacs.index.order_modalities import refresh_order_modalities
from openpacs.index.raw import RawStatement, RowInsert, raw_cursor

_STUDY_ID = RawStatement(
    select(Study.id).where(
        Study.account_id == bindparam("account_id"), Study.study_instance_uid == bindparam("uid")
    )
)
_SERIES_ID = RawStatement(
    select(Series.id).where(
        Series.account_id == bindparam("account_id"),
        Series.series_instance_uid == bindparam("uid"),
    )
)
_EXISTING_UID = RawStatement(
    select(Instance.id).where(
        Instance.account_id == bindparam("account_id"),
        Instance.sop_instance_uid == bindparam("uid"),
    )
)
_BUMP_SERIES = RawStatement(
    update(Series)
    .where(Series.id == bindparam("row_id"))
    .values(num_instances=Series.num_instances + bindparam("count"))
)
_BUMP_STUDY = RawStatement(
    update(Study)
    .where(Study.id == bindparam("row_id"))
    .values(
        num_instances=Study.num_instances + bindparam("count"),
        num_series=Study.num_series + bindparam("series"),
        updated_at=bindparam("now"),
    )
)
_EXISTING = (
    select(Study.study_instance_uid, Series.series_instance_uid)
    .select_from(Instance)
    .join(Series, Series.id == Instance.series_id)
    .join(Study, Study.id == Instance.study_id)
    .where(
        Instance.account_id == bindparam("account_id"),
        Instance.sop_instance_uid == bindparam("uid"),
    )
)
_STUDY_MODALITIES = RawStatement(
    select(Study.modalities_in_study).where(Study.id == bindparam("row_id"))
)
_SET_MODALITIES = RawStatement(
    update(Study)
    .where(Study.id == bindparam("row_id"))
    .values(modalities_in_study=bindparam("value"))
)
_STUDY_ORDER = RawStatement(select(Study.order_id).where(Study.id == bindparam("row_id")))
_INSERT_STUDY = RowInsert(Study, skip_duplicates_of=("account_id", "study_instance_uid"))
_INSERT_SERIES = RowInsert(Series, skip_duplicates_of=("account_id", "series_instance_uid"))
_INSERT_REQUEST_ATTRIBUTES = RowInsert(SeriesRequestAttributes)
# Skips an instance another writer stored meanwhile; returns a row only when inserted.
_INSERT_INSTANCE = RowInsert(Instance, skip_duplicates_of=("account_id", "sop_instance_uid"))


def existing_instance(conn: Connection, account_id: int, sop_uid: str) -> tuple[str, str] | None:
    """(study UID, series UID) of an instance already stored in the account, if any."""
    row = conn.execute(_EXISTING, {"account_id": account_id, "uid": sop_uid}).first()
    return None if row is None else (row[0], row[1])


@dataclass
class _StudyChanges:
    """What a batch adds to one study row, applied in one update at the end."""

    instances: int = 0
    series: int = 0
    modalities: set[str] = field(default_factory=set)


def index_instances(
    session: Session,
    account_id: int,
    items: Sequence[tuple[ParsedInstance, str]],
    *,
    institution_id: int | None = None,
) -> list[bool]:
    """Insert the rows of several instances of one account (``(parsed, blob key)`` in
    lock order); per item True if inserted, False if the instance was already there. A
    new study's new order is made in ``institution_id`` (default: the account's default).

    Look-ups happen once per study and series of the batch and counters are updated once
    per series and study, all on the raw cursor (see index/raw.py); only creating a study
    or series goes through the ORM. Rows are locked in the same order in every process
    (creations, instances, series, then studies), so two nodes writing one study wait
    for each other but never deadlock.
    """
    conn = session.connection()
    dialect = conn.dialect
    cursor = raw_cursor(conn)
    try:
        seen: set[str] = set()
        for parsed, _ in items:
            params = {"account_id": account_id, "uid": parsed.sop_instance_uid}
            if _EXISTING_UID.execute(cursor, dialect, params).fetchone() is not None:
                seen.add(parsed.sop_instance_uid)
        study_ids: dict[str, int] = {}
        series_ids: dict[str, int] = {}
        changes: dict[int, _StudyChanges] = {}
        rows: list[dict[str, Any]] = []
        for parsed, key in items:
            if parsed.sop_instance_uid in seen:
                continue  # stored before, or twice in this batch: the first copy wins
            seen.add(parsed.sop_instance_uid)
            study_id = study_ids.get(parsed.study_instance_uid)
            if study_id is None:
                study_id = _study_row(session, cursor, account_id, parsed, institution_id)
                study_ids[parsed.study_instance_uid] = study_id
            change = changes.setdefault(study_id, _StudyChanges())
            series_id = series_ids.get(parsed.series_instance_uid)
            if series_id is None:
                series_id, created = _series_row(session, cursor, account_id, study_id, parsed)
                series_ids[parsed.series_instance_uid] = series_id
                if created:
                    change.series += 1
                    if modality := str(parsed.series.get("modality") or ""):
                        change.modalities.add(modality)
            rows.append(_instance_values(account_id, study_id, series_id, parsed, key))
        # By blob key, not UID: of two copies of one instance in a batch only the first
        # is inserted, and the other's blob must be dropped, not left unreferenced.
        inserted: set[str] = set()
        for row in rows:
            if _INSERT_INSTANCE.execute(cursor, dialect, row).fetchone() is not None:
                inserted.add(row["blob_key"])
                changes[row["study_id"]].instances += 1
        per_series = Counter(r["series_id"] for r in rows if r["blob_key"] in inserted)
        now = utcnow()
        if per_series:
            _BUMP_SERIES.executemany(
                cursor,
                dialect,
                [{"row_id": k, "count": n} for k, n in per_series.items()],
            )
        for study_id, change in changes.items():
            _apply_study_changes(dialect, cursor, study_id, change, now)
    finally:
        cursor.close()
    return [key in inserted for _, key in items]


def _find_or_insert(
    cursor: Any,
    dialect: Dialect,
    find: RawStatement,
    insert: RowInsert,
    uid_column: str,
    values: dict[str, Any],
) -> tuple[int, bool]:
    """The id of the account's row with the UID in ``values[uid_column]``, inserting
    ``values`` when there is none; and whether this call inserted it (another writer may
    have meanwhile: then its row is found)."""
    key = {"account_id": values["account_id"], "uid": values[uid_column]}
    found = find.execute(cursor, dialect, key).fetchone()
    if found is not None:
        return int(found[0]), False
    created = insert.execute(cursor, dialect, values).fetchone()
    if created is None:
        return int(find.execute(cursor, dialect, key).fetchone()[0]), False
    return int(created[0]), True


def _study_row(
    session: Session,
    cursor: Any,
    account_id: int,
    parsed: ParsedInstance,
    institution_id: int | None = None,
) -> int:
    values = {**parsed.study, "account_id": account_id, "study_json": parsed.study_json}
    values["study_instance_uid"] = parsed.study_instance_uid
    study_id, created = _find_or_insert(
        cursor, session.connection().dialect, _STUDY_ID, _INSERT_STUDY, "study_instance_uid", values
    )
    if created:
        link_study_to_order(session, cursor, account_id, study_id, parsed, institution_id)
    return study_id


def _series_row(
    session: Session, cursor: Any, account_id: int, study_id: int, parsed: ParsedInstance
) -> tuple[int, bool]:
    dialect = session.connection().dialect
    values = {**parsed.series, "account_id": account_id, "study_id": study_id}
    values.update(series_instance_uid=parsed.series_instance_uid, series_json=parsed.series_json)
    series_id, created = _find_or_insert(
        cursor, dialect, _SERIES_ID, _INSERT_SERIES, "series_instance_uid", values
    )
    if created:
        for item in parsed.request_attributes:
            row = {**item, "account_id": account_id, "series_id": series_id}
            _INSERT_REQUEST_ATTRIBUTES.execute(cursor, dialect, row).fetchone()
    return series_id, created


def _instance_values(
    account_id: int, study_id: int, series_id: int, parsed: ParsedInstance, key: str
) -> dict[str, Any]:
    return {
        **parsed.instance,
        "account_id": account_id,
        "study_id": study_id,
        "series_id": series_id,
        "sop_instance_uid": parsed.sop_instance_uid,
        "sop_class_uid": parsed.sop_class_uid,
        "transfer_syntax_uid": parsed.transfer_syntax_uid,
        "blob_key": key,
        "size": parsed.size,
        "instance_json": parsed.instance_json,
        "metadata_json": parsed.metadata_json,
        "frames_json": orjson.dumps(parsed.frames) if parsed.frames is not None else None,
        "bulk_json": orjson.dumps(parsed.bulk) if parsed.bulk else None,
    }


def _apply_study_changes(
    dialect: Dialect, cursor: Any, study_id: int, change: _StudyChanges, now: datetime
) -> None:
    if not change.instances and not change.series:
        return
    _BUMP_STUDY.execute(
        cursor,
        dialect,
        {"row_id": study_id, "count": change.instances, "series": change.series, "now": now},
    )
    if not change.modalities:
        return
    # Read after the update above: this transaction holds the row, no writer can slip in.
    (current,) = _STUDY_MODALITIES.execute(cursor, dialect, {"row_id": study_id}).fetchone()
    # Sorted, so the value does not depend on which series arrived first.
    modalities = {m for m in (current or "").split("\\") if m} | change.modalities
    value = "\\" + "\\".join(sorted(modalities)) + "\\"
    if value != current:
        _SET_MODALITIES.execute(cursor, dialect, {"row_id": study_id, "value": value})
        (order_id,) = _STUDY_ORDER.execute(cursor, dialect, {"row_id": study_id}).fetchone()
        if order_id is not None:
            refresh_order_modalities(cursor, dialect, int(order_id))
