"""Garbage collection: leftovers of crashed or interrupted writes and deletes.

- a blob reservation (``pending_blob``) older than the grace period belongs to an upload
  that died between reserving and committing: its blob (if any) and the row go;
- a staging file older than the grace period is a part whose request died;
- with ``scan_store``: a blob no instance row and no reservation points at (a delete that
  crashed after its index commit) goes too, if older than the grace period.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from openpacs.index.db import Database
from openpacs.index.models import Instance, PendingBlob
from openpacs.storage.base import BlobStore


@dataclass(frozen=True)
class GcReport:
    reservations_removed: int
    staging_files_removed: int
    orphan_blobs_removed: int


def collect_garbage(
    db: Database, blobs: BlobStore, *, grace_seconds: float = 3600, scan_store: bool = False
) -> GcReport:
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
    with db.session() as session:
        stale = list(
            session.scalars(select(PendingBlob.blob_key).where(PendingBlob.created_at < cutoff))
        )
    for key in stale:
        blobs.delete(key)
        with db.session() as session:
            session.execute(delete(PendingBlob).where(PendingBlob.blob_key == key))

    staging_removed = 0
    oldest = time.time() - grace_seconds
    for path in blobs.staging_dir().iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < oldest:
                path.unlink()
                staging_removed += 1
        except FileNotFoundError:
            continue

    orphans = 0
    if scan_store:
        orphans = _remove_orphans(db, blobs, oldest)
    return GcReport(len(stale), staging_removed, orphans)


def _remove_orphans(db: Database, blobs: BlobStore, oldest: float) -> int:
    removed = 0
    batch: list[str] = []

    def flush() -> int:
        with db.session() as session:
            known = set(
                session.scalars(select(Instance.blob_key).where(Instance.blob_key.in_(batch)))
            )
            known |= set(
                session.scalars(select(PendingBlob.blob_key).where(PendingBlob.blob_key.in_(batch)))
            )
        count = 0
        for key in batch:
            if key in known:
                continue
            path = blobs.local_path(key)
            if path is not None and path.exists() and path.stat().st_mtime >= oldest:
                continue  # too young: an upload may be between reserving and committing
            blobs.delete(key)
            count += 1
        batch.clear()
        return count

    for key in blobs.iter_keys():
        batch.append(key)
        if len(batch) >= 500:
            removed += flush()
    if batch:
        removed += flush()
    return removed
