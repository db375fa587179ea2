"""The write path: one uploaded Part-10 file -> a durable blob plus its index rows.

Order of work, so that a failure at any step can be undone (DESIGN point 4):
1. parse and validate the file (nothing written yet; a large staged upload is synced to
   disk meanwhile);
2. take a blob key reserved in ``pending_blob`` (reserved a batch at a time, see
   key_pool.py; a crash from here on leaves only a reservation that ``gc`` removes) and
   write the file under it and sync it (a small upload, from memory), or rename the
   staged file into place (a large one);
3. hand the rows to the index writer, which syncs directories where needed, claims the
   reservation (if gc claimed it first, the instance is not indexed: see
   index/reservations.py), skips instances already stored, inserts study, series, order
   link, instance and counters, and commits (many uploads per commit, index_writer.py).
A bad, duplicate or unindexed upload has its blob deleted again; its key is reused.

A file refused only because it lacks a Study or Series Instance UID is stored under
derived UIDs when the service is told to (``OPENPACS_COERCE_MISSING_UIDS``): the file is
rewritten with them (dicom/coerce.py), parsed again and stored from memory like a small
upload; its outcome carries the coercion and the warning 0xB000 (Coercion of Data
Elements). Only refused files take that path.

Who may store: the write permission (admins and members; a reader, a read-only token or
a share gets every part refused with 0x0124 Refused: Not Authorized). A user limited to
some institutions stores only into orders of those: before step 2 the study's order is
claimed (:func:`openpacs.index.order_link.claim_study_order`; a new study gets its order
in the user's institution), and an instance of another institution's study is refused
with 0x0124.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from openpacs.dicom import status
from openpacs.dicom.invalid import InvalidInstance, MissingUid
from openpacs.dicom.parsed import ParsedInstance
from openpacs.index.db import Database
from openpacs.index.instance_rows import existing_instance
from openpacs.index.order_link import claim_study_order
from openpacs.protocol.paths import ResourcePath
from openpacs.protocol.stow_response import FailedInstance, StoredInstance
from openpacs.services.index_writer import IndexWriter, ReservationLost
from openpacs.services.key_pool import BlobKeyPool
from openpacs.services.permissions import Action, Grant, grant_of, refusal
from openpacs.services.principal import Principal
from openpacs.services.upload import Upload
from openpacs.storage.base import BlobStore, fsync_path

if TYPE_CHECKING:
    from openpacs.dicom.coerce import Coercion

log = logging.getLogger("openpacs.store")


#: How often an upload held in memory is written again when gc claimed its key.
RESERVATION_ATTEMPTS = 3

#: The UIDs a stored instance may get derived (see dicom/coerce.py).
COERCIBLE_UIDS = frozenset({"0020000D", "0020000E"})


@dataclass(frozen=True)
class StoreOutcome:
    stored: StoredInstance | None = None
    failed: FailedInstance | None = None
    study_instance_uid: str = ""
    # Set when the instance was stored under derived Study/Series Instance UIDs.
    coercion: Coercion | None = None


class StoreService:
    """Shared by all requests of a process: it owns the key pool and the index writer."""

    def __init__(
        self, db: Database, blobs: BlobStore, *, coerce_missing_uids: bool = False
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._coerce_missing_uids = coerce_missing_uids
        self._keys = BlobKeyPool(db, blobs)
        self._writer = IndexWriter(db, blobs)
        self._flusher = ThreadPoolExecutor(8, thread_name_prefix="openpacs-flush")

    def close(self) -> None:
        self._writer.close()
        self._keys.close()
        self._flusher.shutdown(wait=True)

    def store(
        self,
        principal: Principal,
        upload: Upload,
        *,
        base_url: str,
        expected_study_uid: str | None = None,
    ) -> StoreOutcome:
        """Store one uploaded part (blocking: run in a worker thread). Consumes ``upload``."""
        try:
            if grant_of(principal, Action.WRITE) is Grant.NONE:
                return _failure("", "", status.NOT_AUTHORIZED, refusal(principal, Action.WRITE))
            if upload.data is not None:
                return self._store_bytes(principal, upload.data, base_url, expected_study_uid)
            assert upload.path is not None
            return self._store_file(principal, upload.path, base_url, expected_study_uid)
        finally:
            upload.discard()

    def _store_bytes(
        self, principal: Principal, data: bytes, base_url: str, expected_study_uid: str | None
    ) -> StoreOutcome:
        # One thread does it all: parse, write and sync, commit. Handing the write to a
        # second thread to overlap it with parsing costs more than it saves when threads
        # share the GIL (each hand-over can wait a whole switch interval); with several
        # uploads at once, one's disk sync overlaps another's parsing anyway.
        try:
            parsed = _parse(data, expected_study_uid)
        except InvalidInstance as exc:
            return self._refused(principal, exc, data, base_url, expected_study_uid)
        return self._put_bytes(principal, parsed, data, base_url)

    def _put_bytes(
        self, principal: Principal, parsed: ParsedInstance, data: bytes, base_url: str
    ) -> StoreOutcome:
        return self._put_and_index(
            principal,
            parsed,
            lambda key: self._blobs.put_bytes(key, data, defer_sync=True),
            base_url,
            attempts=RESERVATION_ATTEMPTS,
        )

    def _store_file(
        self, principal: Principal, path: Path, base_url: str, expected_study_uid: str | None
    ) -> StoreOutcome:
        # A large upload is flushed to disk while it is parsed (the sync releases the GIL
        # for its whole length), so the rename into place has nothing left to flush.
        flushed = self._flusher.submit(fsync_path, path, data_only=True)
        try:
            parsed = _parse(path, expected_study_uid)
        except InvalidInstance as exc:
            return self._refused(principal, exc, path, base_url, expected_study_uid)

        def put(key: str) -> None:
            flushed.result()
            self._blobs.put_file(key, path, defer_sync=True)

        return self._put_and_index(principal, parsed, put, base_url)

    def _refused(
        self,
        principal: Principal,
        exc: InvalidInstance,
        source: bytes | Path,
        base_url: str,
        expected_study_uid: str | None,
    ) -> StoreOutcome:
        """The outcome of a file parse_instance refused: that failure, unless coercion is
        on and only a Study or Series Instance UID is missing (see the module docstring)."""
        coercible = isinstance(exc, MissingUid) and exc.tag in COERCIBLE_UIDS
        if not (coercible and self._coerce_missing_uids):
            return _invalid(exc)
        from openpacs.dicom.coerce import CoercionError, coerce_missing_uids  # as in _parse

        try:
            data, coercion = coerce_missing_uids(source)
        except CoercionError as failure:
            log.warning("cannot coerce instance %s: %s", exc.sop_instance_uid, failure)
            return _invalid(exc, f"; deriving it failed: {failure}")
        try:
            parsed = _parse(data, expected_study_uid)
        except InvalidInstance as again:
            return _invalid(again)
        outcome = self._put_bytes(principal, parsed, data, base_url)
        if outcome.stored is None:
            return outcome
        stored = replace(outcome.stored, warning_code=status.COERCION_OF_DATA_ELEMENTS)
        return replace(outcome, stored=stored, coercion=coercion)

    def _put_and_index(
        self,
        principal: Principal,
        parsed: ParsedInstance,
        put: Callable[[str], None],
        base_url: str,
        *,
        attempts: int = 1,
    ) -> StoreOutcome:
        """Write the blob under a reserved key, then hand its rows to the index writer.

        A key whose reservation garbage collection claimed meanwhile is not indexed
        (ReservationLost): an upload still in memory is written again under a fresh key
        (``attempts``), a renamed staging file is gone with its blob and fails."""
        if principal.institution_ids is not None and not self._claim(principal, parsed):
            return _failure(
                parsed.sop_class_uid,
                parsed.sop_instance_uid,
                status.NOT_AUTHORIZED,
                f"study {parsed.study_instance_uid} belongs to an institution you cannot store in",
            )
        for attempt in range(1, attempts + 1):
            key = self._keys.take()
            try:
                put(key)
            except OSError as exc:
                self._discard(key)
                return _write_failed(parsed, exc)
            try:
                inserted = self._writer.submit(
                    principal.account_id, parsed, key, institution_id=principal.institution_id
                )
            except ReservationLost:
                self._drop(key)
                self._keys.clear()  # keys reserved with it were most likely claimed too
                log.warning("gc claimed the key of %s before its commit", parsed.sop_instance_uid)
                if attempt < attempts:
                    continue
                return _failure(
                    parsed.sop_class_uid,
                    parsed.sop_instance_uid,
                    status.PROCESSING_FAILURE,
                    "garbage collection removed the upload before it was indexed; nothing "
                    "was stored, send it again",
                )
            except Exception:
                self._discard(key)
                return _failure(
                    parsed.sop_class_uid,
                    parsed.sop_instance_uid,
                    status.PROCESSING_FAILURE,
                    "the index could not be updated; nothing was stored",
                )
            break
        if not inserted:
            # Stored before (a re-send) or by another request meanwhile: keep that copy.
            self._discard(key)
            existing = self._existing(principal.account_id, parsed)
            if existing is not None:
                return existing_outcome(parsed, existing, base_url)
        return _success(parsed, base_url)

    def _claim(self, principal: Principal, parsed: ParsedInstance) -> bool:
        """The study's order is (now) in one of the limited user's institutions."""
        assert principal.institution_ids is not None
        for attempt in (1, 2):
            try:
                with self._db.session() as session:
                    return claim_study_order(
                        session, principal.account_id, parsed, principal.institution_ids
                    )
            except IntegrityError:
                if attempt == 2:  # pragma: no cover - a second clash on the same study
                    raise
                # Another upload of the same new study made its order first: look again.
        return False  # pragma: no cover - the loop returns

    def _existing(self, account_id: int, parsed: ParsedInstance) -> tuple[str, str] | None:
        with self._db.engine.connect() as conn:
            return existing_instance(conn, account_id, parsed.sop_instance_uid)

    def _drop(self, key: str) -> None:
        """A key that is no longer reserved: its blob goes and the key is never reused."""
        try:
            self._blobs.delete(key)
        except Exception:
            log.exception("could not delete blob %s (an orphan for gc --scan-store)", key)

    def _discard(self, key: str) -> None:
        """Undo a put: the blob goes, its key stays reserved for the next upload."""
        try:
            self._blobs.delete(key)
        except Exception:
            # Still reserved in pending_blob: gc removes the blob and the reservation.
            log.exception("could not delete blob %s", key)
            return
        self._keys.give_back(key)


def _success(
    parsed: ParsedInstance, base_url: str, *, already_stored: bool = False
) -> StoreOutcome:
    url = ResourcePath(
        parsed.study_instance_uid, parsed.series_instance_uid, parsed.sop_instance_uid
    ).url(base_url)
    stored = StoredInstance(
        parsed.sop_class_uid, parsed.sop_instance_uid, url, already_stored=already_stored
    )
    return StoreOutcome(
        stored=stored,
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
    return _success(parsed, base_url, already_stored=True)


def _parse(source: bytes | Path, expected_study_uid: str | None) -> ParsedInstance:
    # The parser (pydicom, NumPy) loads at the first upload, or in the background once the
    # server answers (web/warm_up.py), not before a restarted server's first answer.
    from openpacs.dicom.ingest import parse_instance

    return parse_instance(source, expected_study_uid=expected_study_uid)


def _invalid(exc: InvalidInstance, more: str = "") -> StoreOutcome:
    reason = exc.reason + more
    return _failure(exc.sop_class_uid, exc.sop_instance_uid, exc.failure_code, reason)


def _write_failed(parsed: ParsedInstance, exc: OSError) -> StoreOutcome:
    log.error("blob write failed for %s: %s", parsed.sop_instance_uid, exc)
    return _failure(
        parsed.sop_class_uid,
        parsed.sop_instance_uid,
        status.OUT_OF_RESOURCES,
        f"could not write the file: {exc.strerror or exc}",
    )


def _failure(sop_class: str, sop_instance: str, code: int, reason: str) -> StoreOutcome:
    return StoreOutcome(failed=FailedInstance(sop_class, sop_instance, code, reason))
