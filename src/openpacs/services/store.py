"""The write path: one uploaded Part-10 file -> a durable blob plus its index rows.

Order of work, so that a failure at any step can be undone (DESIGN point 4):
1. parse and validate the file (nothing written yet);
2. reserve a blob key in ``pending_blob`` and commit (a crash now leaves only a
   reservation that ``gc`` removes with its blob);
3. move the file into the blob store (fsync + rename);
4. in one transaction: study, series, order link, instance row, counters, and the
   reservation removed. If that fails the blob is deleted again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openpacs.dicom.ingest import InvalidInstance, ParsedInstance, parse_instance
from openpacs.index.db import Database
from openpacs.index.models import (
    Instance,
    PendingBlob,
    Series,
    SeriesRequestAttributes,
    Study,
)
from openpacs.protocol import status
from openpacs.protocol.stow_response import FailedInstance, StoredInstance
from openpacs.services.order_link import link_study_to_order
from openpacs.services.principal import Principal
from openpacs.storage.base import BlobStore, new_blob_key

log = logging.getLogger("openpacs.store")


@dataclass(frozen=True)
class StoreOutcome:
    stored: StoredInstance | None = None
    failed: FailedInstance | None = None
    study_instance_uid: str = ""


class StoreService:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs

    def store_file(
        self,
        principal: Principal,
        path: Path,
        *,
        base_url: str,
        expected_study_uid: str | None = None,
    ) -> StoreOutcome:
        """Store one spooled upload (blocking: run in a worker thread). Consumes ``path``."""
        try:
            return self._store(principal, path, base_url, expected_study_uid)
        finally:
            path.unlink(missing_ok=True)

    def _store(
        self, principal: Principal, path: Path, base_url: str, expected_study_uid: str | None
    ) -> StoreOutcome:
        if principal.read_only:
            return _failure("", "", status.PROCESSING_FAILURE, "this access is read-only")
        try:
            parsed = parse_instance(path, expected_study_uid=expected_study_uid)
        except InvalidInstance as exc:
            return _failure(
                getattr(exc, "sop_class_uid", "") or "",
                getattr(exc, "sop_instance_uid", "") or "",
                exc.failure_code,
                exc.reason,
            )

        existing = self._existing(principal.account_id, parsed)
        if existing is not None:
            return existing_outcome(parsed, existing, base_url)

        key = new_blob_key()
        with self._db.session() as session:
            session.add(PendingBlob(blob_key=key))
        try:
            self._blobs.put_file(key, path)
        except OSError as exc:
            log.exception("blob write failed for %s", parsed.sop_instance_uid)
            self._release(key, delete_blob=True)
            return _failure(
                parsed.sop_class_uid,
                parsed.sop_instance_uid,
                status.OUT_OF_RESOURCES,
                f"could not write the file: {exc.strerror or exc}",
            )
        try:
            with self._db.session() as session:
                inserted = self._index(session, principal, parsed, key)
                session.execute(delete(PendingBlob).where(PendingBlob.blob_key == key))
        except Exception:
            log.exception("index write failed for %s", parsed.sop_instance_uid)
            self._release(key, delete_blob=True)
            return _failure(
                parsed.sop_class_uid,
                parsed.sop_instance_uid,
                status.PROCESSING_FAILURE,
                "the index could not be updated; nothing was stored",
            )
        if not inserted:
            # Another request stored the same instance meanwhile: keep its copy.
            self._blobs.delete(key)
            existing = self._existing(principal.account_id, parsed)
            if existing is not None:
                return existing_outcome(parsed, existing, base_url)
        return _success(parsed, base_url)

    def _existing(self, account_id: int, parsed: ParsedInstance) -> tuple[str, str] | None:
        with self._db.session() as session:
            row = session.execute(
                select(Study.study_instance_uid, Series.series_instance_uid)
                .select_from(Instance)
                .join(Series, Series.id == Instance.series_id)
                .join(Study, Study.id == Instance.study_id)
                .where(
                    Instance.account_id == account_id,
                    Instance.sop_instance_uid == parsed.sop_instance_uid,
                )
            ).first()
        return None if row is None else (row[0], row[1])

    def _release(self, key: str, *, delete_blob: bool) -> None:
        try:
            if delete_blob:
                self._blobs.delete(key)
            with self._db.session() as session:
                session.execute(delete(PendingBlob).where(PendingBlob.blob_key == key))
        except Exception:  # gc will find the reservation later
            log.exception("could not release blob reservation %s", key)

    def _index(
        self, session: Session, principal: Principal, parsed: ParsedInstance, key: str
    ) -> bool:
        """Insert the rows; False when the instance already exists (lost a race)."""
        account_id = principal.account_id
        study_id, study_created = _get_or_create(
            session,
            Study,
            {"account_id": account_id, "study_instance_uid": parsed.study_instance_uid},
            {**parsed.study, "study_json": parsed.study_json},
        )
        if study_created:
            link_study_to_order(session, account_id, study_id, parsed)
        series_id, series_created = _get_or_create(
            session,
            Series,
            {"account_id": account_id, "series_instance_uid": parsed.series_instance_uid},
            {**parsed.series, "study_id": study_id, "series_json": parsed.series_json},
        )
        if series_created:
            for item in parsed.request_attributes:
                session.add(
                    SeriesRequestAttributes(account_id=account_id, series_id=series_id, **item)
                )
            _add_series_to_study(session, study_id, str(parsed.series.get("modality") or ""))
        values: dict[str, Any] = {
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
        try:
            with session.begin_nested():
                session.execute(_insert(session, Instance).values(**values))
        except IntegrityError:
            return False
        session.execute(
            update(Series)
            .where(Series.id == series_id)
            .values(num_instances=Series.num_instances + 1)
        )
        session.execute(
            update(Study).where(Study.id == study_id).values(num_instances=Study.num_instances + 1)
        )
        return True


def _insert(session: Session, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


def _get_or_create(
    session: Session, model: type[Any], keys: dict[str, Any], values: dict[str, Any]
) -> tuple[int, bool]:
    """Insert-or-ignore on the unique key, then read the id; safe under concurrency."""
    stmt = (
        _insert(session, model)
        .values(**keys, **values)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(model.id)
    )
    new_id = session.execute(stmt).scalar()
    if new_id is not None:
        return int(new_id), True
    where = [getattr(model, name) == value for name, value in keys.items()]
    existing = session.execute(select(model.id).where(*where)).scalar_one()
    return int(existing), False


def _add_series_to_study(session: Session, study_id: int, modality: str) -> None:
    study = session.get(Study, study_id)
    assert study is not None
    study.num_series += 1
    if modality and f"\\{modality}\\" not in (study.modalities_in_study or ""):
        current = study.modalities_in_study or "\\"
        study.modalities_in_study = f"{current}{modality}\\"


def instance_url(base_url: str, study: str, series: str, sop: str) -> str:
    return f"{base_url}/studies/{study}/series/{series}/instances/{sop}"


def _success(parsed: ParsedInstance, base_url: str) -> StoreOutcome:
    url = instance_url(
        base_url, parsed.study_instance_uid, parsed.series_instance_uid, parsed.sop_instance_uid
    )
    return StoreOutcome(
        stored=StoredInstance(parsed.sop_class_uid, parsed.sop_instance_uid, url),
        study_instance_uid=parsed.study_instance_uid,
    )


def existing_outcome(
    parsed: ParsedInstance, existing: tuple[str, str], base_url: str
) -> StoreOutcome:
    """Storing an instance again is idempotent, unless it now claims another study."""
    study_uid, series_uid = existing
    if (study_uid, series_uid) != (parsed.study_instance_uid, parsed.series_instance_uid):
        return _failure(
            parsed.sop_class_uid,
            parsed.sop_instance_uid,
            status.DUPLICATE_SOP_INSTANCE,
            f"this SOP Instance UID is already stored in study {study_uid} series {series_uid}",
        )
    return _success(parsed, base_url)


def _failure(sop_class: str, sop_instance: str, code: int, reason: str) -> StoreOutcome:
    return StoreOutcome(failed=FailedInstance(sop_class, sop_instance, code, reason))
