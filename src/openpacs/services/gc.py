"""Garbage collection: leftovers of crashed or interrupted writes and deletes.

- a blob reservation (``pending_blob``) older than the grace period belongs to an upload
  that died between reserving and committing: the reservation is claimed (its row
  deleted, see index/reservations.py) and only then is its blob removed, so a commit
  that claimed it first keeps its blob, and one that comes after finds it gone and
  fails instead of indexing a file that is no longer there;
- a staging file older than the grace period is a part whose request died;
- with ``scan_store``: a blob no reservation and no instance row points at (a delete that
  crashed after its index commit) goes too, if older than the grace period.

Safe to run at any time, with any grace, from any number of processes: the grace only
decides how soon leftovers go. The server runs it itself (:class:`Sweeper`) with a grace
of an hour, so reservations of a process that crashed never pile up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from openpacs.index.db import Database
from openpacs.index.instance_lookups import indexed_keys
from openpacs.index.reservations import claim, reserved_among, reserved_before
from openpacs.services.periodic import Periodic
from openpacs.storage.base import BlobStore

log = logging.getLogger("openpacs.gc")

_BATCH = 500
#: The server's own sweep: reservations and staging files older than this are leftovers
#: (a live upload holds its key for seconds; the key pool renews keys after 10 minutes).
SWEEP_GRACE_SECONDS = 3600.0
SWEEP_INTERVAL_SECONDS = 600.0


@dataclass(frozen=True)
class GcReport:
    reservations_removed: int
    staging_files_removed: int
    orphan_blobs_removed: int


def collect_garbage(
    db: Database, blobs: BlobStore, *, grace_seconds: float = 3600, scan_store: bool = False
) -> GcReport:
    reservations = release_stale_reservations(db, blobs, grace_seconds)
    staging = remove_stale_staging(blobs, grace_seconds)
    orphans = _remove_orphans(db, blobs, time.time() - grace_seconds) if scan_store else 0
    return GcReport(reservations, staging, orphans)


def release_stale_reservations(db: Database, blobs: BlobStore, grace_seconds: float) -> int:
    """Claim the reservations older than the grace period, then remove their blobs."""
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
    removed = 0
    while True:
        with db.session() as session:
            candidates = reserved_before(session, cutoff, _BATCH)
        if not candidates:
            return removed
        with db.write_lock(), db.session() as session:
            claimed = claim(session, candidates)
        for key in sorted(claimed):  # ours alone now: no commit can take them any more
            blobs.delete(key)
        removed += len(claimed)
        if len(candidates) < _BATCH:
            return removed


def remove_stale_staging(blobs: BlobStore, grace_seconds: float) -> int:
    removed = 0
    oldest = time.time() - grace_seconds
    for path in blobs.staging_dir().iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < oldest:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _remove_orphans(db: Database, blobs: BlobStore, oldest: float) -> int:
    removed = 0
    batch: list[str] = []

    def flush() -> int:
        # Reservations first, instance rows second: a key only ever moves from one to the
        # other (in one commit), so whichever moment each look happens at, a key in use
        # is seen in one of them. (The other order can miss a key committed between the
        # two looks, on PostgreSQL where each statement sees the latest commits.)
        with db.session() as session:
            known = reserved_among(session, batch)
        with db.session() as session:
            known |= indexed_keys(session, batch)
        count = 0
        for key in batch:
            if key in known:
                continue
            if _younger_than(blobs, key, oldest):
                continue  # young: left to a later run
            blobs.delete(key)
            count += 1
        batch.clear()
        return count

    for key in blobs.iter_keys():
        batch.append(key)
        if len(batch) >= _BATCH:
            removed += flush()
    if batch:
        removed += flush()
    return removed


def _younger_than(blobs: BlobStore, key: str, oldest: float) -> bool:
    """Whether a local blob was written after ``oldest`` (its upload may still be going
    on); a blob that vanished meanwhile (an upload undone) counts as young: skip it."""
    path = blobs.local_path(key)
    if path is None:
        return False
    try:
        return path.stat().st_mtime >= oldest
    except FileNotFoundError:
        return True


class Sweeper:
    """The server's own gc of reservations and staging files (grace: an hour), in a
    daemon thread: first shortly after the start (what a crash left), then every
    :data:`SWEEP_INTERVAL_SECONDS`. Several processes may sweep at once (claims)."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        first_after: float = 30.0,
        interval: float = SWEEP_INTERVAL_SECONDS,
        grace: float = SWEEP_GRACE_SECONDS,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._grace = grace
        self._periodic = Periodic("sweeper", self.sweep, first_after=first_after, interval=interval)

    def start(self) -> None:
        self._periodic.start()

    def close(self) -> None:
        self._periodic.close()

    def sweep(self) -> tuple[int, int]:
        """One pass: (reservations released, staging files removed)."""
        released = release_stale_reservations(self._db, self._blobs, self._grace)
        staged = remove_stale_staging(self._blobs, self._grace)
        if released or staged:
            log.info(
                "released %d stale blob reservation(s), removed %d staging file(s)",
                released,
                staged,
            )
        return released, staged
