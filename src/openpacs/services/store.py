"""The write path: one uploaded Part-10 file -> a durable blob plus its index rows.

Order of work, so that a failure at any step can be undone (DESIGN point 4):
1. parse and validate the file (nothing written yet);
2. take a blob key reserved in ``pending_blob`` (reserved a batch at a time, see
   key_pool.py; a crash from here on leaves only a reservation that ``gc`` removes);
3. fsync the file and rename it into the blob store;
4. hand the rows to the index writer, which syncs the directory, inserts study, series,
   order link, instance and counters, drops the reservation, and commits (many uploads
   per commit, see index_writer.py). If that fails the blob is deleted again.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from openpacs.dicom.ingest import InvalidInstance, ParsedInstance, parse_instance
from openpacs.index.db import Database
from openpacs.protocol import status
from openpacs.protocol.stow_response import FailedInstance, StoredInstance
from openpacs.services.index_writer import IndexWriter
from openpacs.services.instance_rows import DELETE_PENDING, existing_instance
from openpacs.services.key_pool import BlobKeyPool
from openpacs.services.principal import Principal
from openpacs.storage.base import BlobStore, fsync_path

log = logging.getLogger("openpacs.store")


@dataclass(frozen=True)
class StoreOutcome:
    stored: StoredInstance | None = None
    failed: FailedInstance | None = None
    study_instance_uid: str = ""


class StoreService:
    """Shared by all requests of a process: it owns the key pool and the index writer."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs
        self._keys = BlobKeyPool(db)
        self._writer = IndexWriter(db, blobs)
        self._flusher = ThreadPoolExecutor(8, thread_name_prefix="openpacs-flush")

    def close(self) -> None:
        self._writer.close()
        self._flusher.shutdown(wait=True)

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
        # Flush the upload to disk while it is being parsed (fsync releases the GIL), so
        # that the blob store's own fsync finds nothing left to write.
        flushed = self._flusher.submit(fsync_path, path, data_only=True)
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

        key = self._keys.take()
        try:
            flushed.result()
            self._blobs.put_file(key, path, defer_sync=True)
        except OSError as exc:
            log.exception("blob write failed for %s", parsed.sop_instance_uid)
            self._release(key)
            return _failure(
                parsed.sop_class_uid,
                parsed.sop_instance_uid,
                status.OUT_OF_RESOURCES,
                f"could not write the file: {exc.strerror or exc}",
            )
        try:
            inserted = self._writer.submit(principal.account_id, parsed, key)
        except Exception:
            self._release(key)
            return _failure(
                parsed.sop_class_uid,
                parsed.sop_instance_uid,
                status.PROCESSING_FAILURE,
                "the index could not be updated; nothing was stored",
            )
        if not inserted:
            # Another request stored the same instance meanwhile: keep its copy.
            self._release(key)
            existing = self._existing(principal.account_id, parsed)
            if existing is not None:
                return existing_outcome(parsed, existing, base_url)
        return _success(parsed, base_url)

    def _existing(self, account_id: int, parsed: ParsedInstance) -> tuple[str, str] | None:
        with self._db.engine.connect() as conn:
            return existing_instance(conn, account_id, parsed.sop_instance_uid)

    def _release(self, key: str) -> None:
        """Undo a put: the blob and its reservation go (gc retries if this fails)."""
        try:
            self._blobs.delete(key)
            with self._db.engine.begin() as conn:
                conn.execute(DELETE_PENDING, {"keys": [key]})
        except Exception:
            log.exception("could not release blob reservation %s", key)


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
