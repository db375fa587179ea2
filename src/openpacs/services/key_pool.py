"""Blob keys reserved in the index before any byte is written, a batch at a time.

Every blob on disk is either referenced by an instance row or reserved in
``pending_blob``, so garbage collection never has to scan the store to find what a crash
left behind. Reserving one key per upload would cost a transaction (and a disk sync)
per instance; reserving them in batches keeps the guarantee at a fraction of the cost.
The store then prepares the batch (the filesystem store creates the empty files in one
directory and syncs it once), so a small upload written later changes no directory.
"""

from __future__ import annotations

import secrets
import threading
import time

from sqlalchemy import insert

from openpacs.index.db import Database
from openpacs.index.models import PendingBlob, utcnow
from openpacs.storage.base import BlobStore, new_blob_key

# Unused reservations are renewed well before gc's default grace period (1 hour) ends.
MAX_KEY_AGE_SECONDS = 600.0


class BlobKeyPool:
    def __init__(self, db: Database, blobs: BlobStore, batch: int = 64) -> None:
        self._db = db
        self._blobs = blobs
        self.batch = batch
        self._keys: list[str] = []
        self._reserved_at = 0.0
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            if not self._keys or time.monotonic() - self._reserved_at > MAX_KEY_AGE_SECONDS:
                self._keys = self._reserve()
                self._reserved_at = time.monotonic()
            return self._keys.pop()

    def give_back(self, key: str) -> None:
        """A taken key whose blob was deleted again (a bad or duplicate upload): it stays
        reserved and is handed out again, saving a transaction per rejected instance."""
        with self._lock:
            if time.monotonic() - self._reserved_at <= MAX_KEY_AGE_SECONDS:
                self._keys.append(key)

    def _reserve(self) -> list[str]:
        # One directory per batch: uploads stored together are synced together.
        directory = secrets.token_hex(1)
        keys = [new_blob_key(directory) for _ in range(self.batch)]
        now = utcnow()
        with self._db.write_lock(), self._db.engine.begin() as conn:
            conn.execute(insert(PendingBlob), [{"blob_key": k, "created_at": now} for k in keys])
        # Reserved first: whatever prepare leaves behind, gc finds through the reservation.
        self._blobs.prepare_keys(keys)
        return keys
