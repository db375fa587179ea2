"""Group commit: many uploads' instance rows in one transaction, without a writer thread.

Uploads run in parallel up to the point where their blob is in place; then they queue
here. Whichever waiting upload gets the commit lock first becomes the leader: it takes
everything queued (up to a batch), syncs the blob directories that need it, inserts all
rows in one transaction, commits once and answers every upload of the batch; the others
find their rows committed when they get the lock, or lead the next batch. A busy server
thus pays one disk sync and one database commit per batch, not per instance; one upload
alone commits in its own thread with no hand-over to another (each one costs time when
threads share the GIL). Nothing is answered before its commit, so an acknowledged
instance is durable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import groupby

from sqlalchemy.exc import OperationalError

from openpacs.dicom.parsed import ParsedInstance
from openpacs.index.db import Database
from openpacs.index.instance_rows import index_instances
from openpacs.index.reservations import claim, reserve
from openpacs.storage.base import BlobStore

log = logging.getLogger("openpacs.index_writer")


class ReservationLost(Exception):
    """The upload's key was no longer reserved at its commit: garbage collection claimed
    it (and may have removed its blob), so the instance was not indexed."""

    def __init__(self, key: str) -> None:
        super().__init__(f"blob key {key} is no longer reserved")
        self.key = key


@dataclass
class IndexJob:
    account_id: int
    parsed: ParsedInstance
    blob_key: str
    # Where a new order is made for a new study (None: the account's default institution).
    institution_id: int | None = None
    done: Future[bool] = field(default_factory=Future)


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
        self._queued: deque[IndexJob] = deque()
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def submit(
        self,
        account_id: int,
        parsed: ParsedInstance,
        blob_key: str,
        *,
        institution_id: int | None = None,
    ) -> bool:
        """Queue the rows and wait for their commit; True if inserted, False if a duplicate."""
        job = IndexJob(account_id, parsed, blob_key, institution_id)
        with self._queue_lock:
            self._queued.append(job)
        while not job.done.done():
            with self._commit_lock:
                if job.done.done():
                    break  # a leader committed it while this upload waited for the lock
                with self._queue_lock:
                    count = min(len(self._queued), self._max_batch)
                    batch = [self._queued.popleft() for _ in range(count)]
                if batch:
                    try:
                        self._commit(batch)
                    finally:
                        # Never leave an upload waiting on a batch that broke off midway.
                        for queued in batch:
                            if not queued.done.done():
                                queued.done.set_exception(RuntimeError("index write aborted"))
        return job.done.result()

    def close(self) -> None:
        """Nothing to stop: every submit commits (or sees committed) its own rows."""

    def _commit(self, batch: list[IndexJob], attempt: int = 1) -> None:
        # The same order in every process (study, series, instance UIDs): two processes
        # storing the same study lock its rows in the same order and cannot deadlock.
        batch = sorted(batch, key=_lock_order)
        try:
            self._blobs.sync_puts(job.blob_key for job in batch)
            with self._db.write_lock(), self._db.session() as session:
                # Claimed first (see index/reservations.py): a key gc took is not indexed.
                claimed = claim(session, [job.blob_key for job in batch])
                live = [job for job in batch if job.blob_key in claimed]
                results: dict[int, bool] = {}
                for (account_id, institution_id), jobs in groupby(
                    live, key=lambda job: (job.account_id, job.institution_id)
                ):
                    group = list(jobs)
                    items = [(job.parsed, job.blob_key) for job in group]
                    indexed = index_instances(
                        session, account_id, items, institution_id=institution_id
                    )
                    for job, inserted in zip(group, indexed, strict=True):
                        results[id(job)] = inserted
                # A duplicate's key stays reserved: the store hands it out again.
                reserve(session, [job.blob_key for job in live if not results[id(job)]])
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
        for job in batch:
            if job.blob_key in claimed:
                job.done.set_result(results[id(job)])
            else:
                job.done.set_exception(ReservationLost(job.blob_key))

    def _fail_or_split(self, batch: list[IndexJob], exc: Exception) -> None:
        if len(batch) > 1:
            # Find the one that fails; the others still go in, one by one.
            for job in batch:
                self._commit([job])
            return
        log.error("index write failed for %s: %s", batch[0].parsed.sop_instance_uid, exc)
        batch[0].done.set_exception(exc)
