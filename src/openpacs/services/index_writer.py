"""Group commit: one thread per process writes instance rows, many per transaction.

Uploads run in parallel up to the point where their blob is in place; then they queue
here. The writer takes everything queued (up to a batch), syncs the blob directories once,
inserts all rows in one transaction and commits once, then answers each waiting upload.
A busy server thus pays one disk sync and one database commit per batch, not per
instance, and SQLite's single write lock is taken by one thread only. Nothing is answered
before its commit, so an acknowledged instance is durable.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from openpacs.dicom.ingest import ParsedInstance
from openpacs.index.db import Database
from openpacs.services.instance_rows import DELETE_PENDING, index_instance
from openpacs.storage.base import BlobStore

log = logging.getLogger("openpacs.index_writer")


@dataclass
class IndexJob:
    account_id: int
    parsed: ParsedInstance
    blob_key: str
    done: Future[bool] = field(default_factory=Future)


_STOP = object()
MAX_ATTEMPTS = 5


def _lock_order(job: IndexJob) -> tuple[int, str, str, str]:
    parsed = job.parsed
    return (
        job.account_id,
        parsed.study_instance_uid,
        parsed.series_instance_uid,
        parsed.sop_instance_uid,
    )


class IndexWriter:
    def __init__(self, db: Database, blobs: BlobStore, max_batch: int = 64) -> None:
        self._db = db
        self._blobs = blobs
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="openpacs-index-writer", daemon=True)
        self._thread.start()

    def submit(self, account_id: int, parsed: ParsedInstance, blob_key: str) -> bool:
        """Queue the rows and wait for their commit; True if inserted, False if a duplicate."""
        job = IndexJob(account_id, parsed, blob_key)
        self._queue.put(job)
        return job.done.result()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._commit(batch)  # type: ignore[arg-type]
                    return
                batch.append(item)
            self._commit(batch)  # type: ignore[arg-type]

    def _commit(self, batch: list[IndexJob], attempt: int = 1) -> None:
        # The same order in every process (study, series, instance UIDs): two processes
        # storing the same study lock its rows in the same order and cannot deadlock.
        batch = sorted(batch, key=_lock_order)
        try:
            self._blobs.sync_puts(job.blob_key for job in batch)
            with self._db.session() as session:
                results = [
                    index_instance(session, job.account_id, job.parsed, job.blob_key)
                    for job in batch
                ]
                session.connection().execute(
                    DELETE_PENDING, {"keys": [job.blob_key for job in batch]}
                )
        except OperationalError as exc:
            # Deadlock, serialization failure or "database is locked": transient.
            if attempt < MAX_ATTEMPTS:
                log.warning("index write retried (%s)", type(exc.orig).__name__)
                time.sleep(0.01 * attempt)
                self._commit(batch, attempt + 1)
                return
            self._fail_or_split(batch, exc)
            return
        except Exception as exc:
            self._fail_or_split(batch, exc)
            return
        for job, inserted in zip(batch, results, strict=True):
            job.done.set_result(inserted)

    def _fail_or_split(self, batch: list[IndexJob], exc: Exception) -> None:
        if len(batch) > 1:
            # Find the one that fails; the others still go in, one by one.
            for job in batch:
                self._commit([job])
            return
        log.error("index write failed for %s: %s", batch[0].parsed.sop_instance_uid, exc)
        batch[0].done.set_exception(exc)
