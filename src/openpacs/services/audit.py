"""The audit trail of reads and writes of studies, written off the request path.

Retrieval is the hot path of a PACS; writing a row per request inside it would cost a
transaction each time. Events are queued and a background thread inserts them in
batches (at most about a second later). Events still queued when the process is killed
are lost; the access log has the same information. Rows are made by
:func:`openpacs.index.audit.audit_row`, as the ones written inside a transaction are.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from sqlalchemy import insert

from openpacs.index.audit import audit_row
from openpacs.index.db import Database
from openpacs.index.models import AuditEvent, utcnow

log = logging.getLogger("openpacs.audit")

FLUSH_SECONDS = 1.0
MAX_BATCH = 500


@dataclass(frozen=True)
class Event:
    account_id: int
    action: str
    study_instance_uid: str = ""
    user_id: int | None = None
    share_id: int | None = None
    detail: str = ""
    client: str = ""


_STOP = object()


class AuditTrail:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="openpacs-audit", daemon=True)
        self._thread.start()

    def record(self, event: Event) -> None:
        """Never blocks and never fails the caller."""
        self._queue.put(event)

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        # A batch is written FLUSH_SECONDS after its first event (or when full): one
        # transaction, and one disk sync, per second at most, not one per request.
        stopping = False
        while not stopping:
            item = self._queue.get()
            deadline = time.monotonic() + FLUSH_SECONDS
            batch: list[Event] = []
            while True:
                if item is _STOP:
                    stopping = True
                    break
                assert isinstance(item, Event)
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[Event]) -> None:
        if not batch:
            return
        now = utcnow()
        rows = [
            audit_row(
                e,
                e.action,
                study_uid=e.study_instance_uid,
                detail=e.detail,
                client=e.client,
                created_at=now,
            )
            for e in batch
        ]
        try:
            with self._db.write_lock(), self._db.engine.begin() as conn:
                conn.execute(insert(AuditEvent), rows)
        except Exception:
            log.exception("could not write %d audit events", len(rows))
