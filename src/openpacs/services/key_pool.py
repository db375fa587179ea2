"""Blob keys reserved in the index before any byte is written, a batch at a time.

Every blob on disk is either referenced by an instance row or reserved in
``pending_blob``, so garbage collection never has to scan the store to find what a crash
left behind. Reserving one key per upload would cost a transaction (and a disk sync)
per instance; reserving them in batches keeps the guarantee at a fraction of the cost.
The store then prepares the batch (the filesystem store creates the empty files in one
directory and syncs it once), so a small upload written later changes no directory.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque

from openpacs.index.db import Database
from openpacs.index.reservations import reserve
from openpacs.storage.base import BlobStore, new_blob_key

log = logging.getLogger("openpacs.store")

# Unused reservations are renewed well before gc's default grace period (1 hour) ends.
MAX_KEY_AGE_SECONDS = 600.0


class BlobKeyPool:
    """Hands out reserved keys, oldest first; the next batch is reserved in a background
    thread while a quarter of the current one is left, so no upload waits for it."""

    def __init__(self, db: Database, blobs: BlobStore, batch: int = 64) -> None:
        self._db = db
        self._blobs = blobs
        self.batch = batch
        self._keys: deque[tuple[float, str]] = deque()  # (reserved at, key)
        self._lock = threading.Lock()
        self._refill: threading.Thread | None = None

    def take(self) -> str:
        with self._lock:
            now = time.monotonic()
            # A key too old to use stays reserved; the server's sweep (services/gc.py)
            # releases it with its empty file within the hour.
            while self._keys and now - self._keys[0][0] > MAX_KEY_AGE_SECONDS:
                self._keys.popleft()
            if not self._keys:
                self._add(self._reserve())
            _reserved_at, key = self._keys.popleft()
            if len(self._keys) < self.batch // 4 and self._refill is None:
                self._refill = threading.Thread(
                    target=self._refill_in_background, name="openpacs-keys", daemon=True
                )
                self._refill.start()
            return key

    def give_back(self, key: str) -> None:
        """A taken key whose blob was deleted again (a bad or duplicate upload): it stays
        reserved and is handed out again, saving a transaction per rejected instance."""
        with self._lock:
            self._keys.appendleft((time.monotonic(), key))

    def clear(self) -> None:
        """Forget the keys on hand (gc claimed some of them: the rest, if still reserved,
        are released by the server's sweep); the next take reserves a new batch."""
        with self._lock:
            self._keys.clear()

    def close(self) -> None:
        """Wait for a reservation in progress (its keys stay reserved for gc)."""
        refill = self._refill
        if refill is not None:
            refill.join()

    def _add(self, keys: list[str]) -> None:
        now = time.monotonic()
        self._keys.extend((now, key) for key in keys)

    def _refill_in_background(self) -> None:
        try:
            keys = self._reserve()
        except Exception:
            # Not fatal: the next take() reserves in the foreground and reports errors.
            log.warning("reserving blob keys in the background failed", exc_info=True)
            keys = []
        with self._lock:
            self._add(keys)
            self._refill = None

    def _reserve(self) -> list[str]:
        # One directory per batch: uploads stored together are synced together.
        directory = secrets.token_hex(1)
        keys = [new_blob_key(directory) for _ in range(self.batch)]
        with self._db.write_lock(), self._db.engine.begin() as conn:
            reserve(conn, keys)
        # Reserved first: whatever prepare leaves behind, gc finds through the reservation.
        self._blobs.prepare_keys(keys)
        return keys
