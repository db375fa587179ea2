"""The index rows of one stored instance: study, series, order link, instance, counters.

Pure SQL on a session the caller owns (the index writer commits many of these at once).
The common case (another instance of a known series) is two indexed look-ups, one insert
and two counter updates, with statements compiled once and run on the raw connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from openpacs.dicom.ingest import ParsedInstance
from openpacs.index.models import (
    Instance,
    PendingBlob,
    Series,
    SeriesRequestAttributes,
    Study,
    utcnow,
)
from openpacs.services.order_link import link_study_to_order

_STUDY_ID = select(Study.id).where(
    Study.account_id == bindparam("account_id"), Study.study_instance_uid == bindparam("uid")
)
_SERIES_ID = select(Series.id).where(
    Series.account_id == bindparam("account_id"), Series.series_instance_uid == bindparam("uid")
)
_BUMP_SERIES = (
    update(Series)
    .where(Series.id == bindparam("row_id"))
    .values(num_instances=Series.num_instances + bindparam("count"))
)
_BUMP_STUDY = (
    update(Study)
    .where(Study.id == bindparam("row_id"))
    .values(num_instances=Study.num_instances + bindparam("count"))
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
DELETE_PENDING = delete(PendingBlob).where(
    PendingBlob.blob_key.in_(bindparam("keys", expanding=True))
)
# Every instance insert carries the same keys, so its compiled form is reused.
_INSTANCE_DEFAULTS: dict[str, Any] = {
    "instance_number": None,
    "rows": None,
    "columns": None,
    "bits_allocated": None,
    "number_of_frames": None,
}
_INSTANCE_INSERTS: dict[str, Any] = {}


def existing_instance(conn: Connection, account_id: int, sop_uid: str) -> tuple[str, str] | None:
    """(study UID, series UID) of an instance already stored in the account, if any."""
    row = conn.execute(_EXISTING, {"account_id": account_id, "uid": sop_uid}).first()
    return None if row is None else (row[0], row[1])


def index_instance(session: Session, account_id: int, parsed: ParsedInstance, key: str) -> bool:
    """Insert the rows; False when the instance already exists (another writer won)."""
    conn = session.connection()
    study_id, created = _find_or_create(
        conn,
        _STUDY_ID,
        Study,
        {"account_id": account_id, "study_instance_uid": parsed.study_instance_uid},
        lambda: {**parsed.study, "study_json": parsed.study_json, "created_at": utcnow()},
    )
    if created:
        link_study_to_order(session, account_id, study_id, parsed)
    series_id, created = _find_or_create(
        conn,
        _SERIES_ID,
        Series,
        {"account_id": account_id, "series_instance_uid": parsed.series_instance_uid},
        lambda: {
            **parsed.series,
            "study_id": study_id,
            "series_json": parsed.series_json,
            "created_at": utcnow(),
        },
    )
    if created:
        for item in parsed.request_attributes:
            session.add(SeriesRequestAttributes(account_id=account_id, series_id=series_id, **item))
        session.flush()
        _add_series_to_study(conn, study_id, str(parsed.series.get("modality") or ""))
    values: dict[str, Any] = {
        **_INSTANCE_DEFAULTS,
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
        "created_at": utcnow(),
    }
    if conn.execute(_insert_instance(conn), values).scalar() is None:
        return False
    conn.execute(_BUMP_SERIES, {"row_id": series_id, "count": 1})
    conn.execute(_BUMP_STUDY, {"row_id": study_id, "count": 1})
    return True


def _insert(conn: Connection, model: type[Any]) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(model)


def _insert_instance(conn: Connection) -> Any:
    stmt = _INSTANCE_INSERTS.get(conn.dialect.name)
    if stmt is None:
        stmt = (
            _insert(conn, Instance)
            .on_conflict_do_nothing(index_elements=["account_id", "sop_instance_uid"])
            .returning(Instance.id)
        )
        _INSTANCE_INSERTS[conn.dialect.name] = stmt
    return stmt


def _find_or_create(
    conn: Connection,
    lookup: Any,
    model: type[Any],
    keys: dict[str, Any],
    values: Callable[[], dict[str, Any]],
) -> tuple[int, bool]:
    """(id, created): one indexed look-up in the common case, an insert the first time."""
    account_id, uid = keys.values()
    found = conn.execute(lookup, {"account_id": account_id, "uid": uid}).scalar()
    if found is not None:
        return int(found), False
    return _get_or_create(conn, model, keys, values())


def _get_or_create(
    conn: Connection, model: type[Any], keys: dict[str, Any], values: dict[str, Any]
) -> tuple[int, bool]:
    """Insert-or-ignore on the unique key, then read the id; safe under concurrency."""
    stmt = (
        _insert(conn, model)
        .values(**keys, **values)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(model.id)
    )
    new_id = conn.execute(stmt).scalar()
    if new_id is not None:
        return int(new_id), True
    where = [getattr(model, name) == value for name, value in keys.items()]
    return int(conn.execute(select(model.id).where(*where)).scalar_one()), False


def _add_series_to_study(conn: Connection, study_id: int, modality: str) -> None:
    current = conn.execute(
        select(Study.modalities_in_study).where(Study.id == study_id)
    ).scalar_one()
    # Sorted, so the value does not depend on which series of a request arrived first.
    modalities = {m for m in (current or "").split("\\") if m}
    if modality:
        modalities.add(modality)
    value = "\\" + "\\".join(sorted(modalities)) + "\\" if modalities else ""
    conn.execute(
        update(Study)
        .where(Study.id == study_id)
        .values(num_series=Study.num_series + 1, modalities_in_study=value)
    )
