"""The audit trail of reads and writes of studies, written off the request path but never
lost once a request is answered.

Changes (orders, folders, shares, assignments, deletes) write their audit row in their
own transaction (:func:`openpacs.index.audit.record_event`). Everything else, reads above
all, comes here: :meth:`AuditTrail.record` appends the event to this process's journal
(:mod:`openpacs.services.audit_journal`: one ``write``, so a killed process loses
nothing), and with ``sync`` (``OPENPACS_AUDIT_SYNC``) :meth:`AuditTrail.wait_durable`
makes it survive a power cut as well (a grouped ``fdatasync``) before the caller
answers: about a millisecond per request, which is why it is not the default. A
background thread copies the events into ``audit_event`` in batches, at most about a
second later, one transaction per batch; journals left by killed processes are replayed
when a process starts.

The patient of an event that names only its study (a WADO read) is filled in when the
batch is written, from the index (the study, else its order), so the hot path looks
nothing up. Without a journal directory (unit tests) events are only queued.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from openpacs.index.audit import Actor, audit_row, insert_events, journal_mark, mark_journal
from openpacs.index.db import Database
from openpacs.index.models import utcnow
from openpacs.services.audit_journal import Journal, Orphan, orphans

log = logging.getLogger("openpacs.audit")

FLUSH_SECONDS = 1.0
MAX_BATCH = 500
SUCCESS = "success"
FAILURE = "failure"


@dataclass(frozen=True)
class Event:
    account_id: int
    action: str
    study_instance_uid: str = ""
    user_id: int | None = None
    share_id: int | None = None
    detail: str = ""
    client: str = ""
    token_id: int | None = None
    outcome: str = SUCCESS
    patient_id: str = ""
    # When it happened (not when the batch is written).
    created_at: datetime = field(default_factory=utcnow)

    @classmethod
    def by(cls, who: Actor, action: str, **values: Any) -> Event:
        """An event of ``who`` (user, token, share and, unless given, address from it)."""
        values.setdefault("client", who.client)
        return cls(
            account_id=who.account_id,
            action=action,
            user_id=who.user_id,
            share_id=who.share_id,
            token_id=who.token_id,
            **values,
        )

    def row(self) -> dict[str, Any]:
        """The ``audit_event`` column values (texts cut to their columns)."""
        return audit_row(
            self,
            self.action,
            study_uid=self.study_instance_uid,
            detail=self.detail,
            client=self.client,
            created_at=self.created_at,
            outcome=self.outcome,
            patient_id=self.patient_id,
        )


@dataclass(frozen=True)
class _Queued:
    row: dict[str, Any]
    journal: str
    seq: int


_STOP = object()


@dataclass(frozen=True)
class _Flush:
    done: threading.Event


class AuditTrail:
    def __init__(
        self, db: Database, journal_dir: Path | None = None, *, sync: bool = False
    ) -> None:
        self._db = db
        self._sync = sync
        self._journal = Journal(journal_dir) if journal_dir is not None else None
        self._committed: dict[str, int] = {}
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="openpacs-audit", daemon=True)
        self._thread.start()

    def record(self, event: Event) -> int:
        """Journal the event and queue it for the database; never blocks on the disk or
        the database and never fails the caller. The journal sequence number (0: none)."""
        row = event.row()
        name, seq = "", 0
        if self._journal is not None:
            try:
                name, seq = self._journal.append(row)
            except OSError:
                log.exception("could not journal an audit event (%s)", event.action)
        self._queue.put(_Queued(row, name, seq))
        return seq

    @property
    def syncs(self) -> bool:
        """True when :meth:`wait_durable` has work to do (a journal, synced)."""
        return self._journal is not None and self._sync

    def wait_durable(self, seq: int) -> None:
        """Blocking: return when event ``seq`` is on disk (a no-op without journal or
        sync). Call it before answering the request the event is about."""
        if self._journal is None or not self._sync or seq <= 0:
            return
        try:
            self._journal.sync(seq)
        except OSError:
            log.exception("could not sync the audit journal")

    def record_durably(self, event: Event) -> None:
        """:meth:`record` and :meth:`wait_durable` (blocking: from a worker thread)."""
        self.wait_durable(self.record(event))

    def flush(self, timeout: float = 5.0) -> None:
        """Blocking: return when the events recorded so far by this process are in the
        database (the readout calls it, so that what was just done is listed)."""
        done = threading.Event()
        self._queue.put(_Flush(done))
        done.wait(timeout)

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)
        if self._journal is not None:
            committed = self._committed.get(self._journal.name, 0)
            if self._journal.close(committed):
                self._forget_mark(self._journal.name)

    # -- the writer thread

    def _run(self) -> None:
        if self._journal is not None:
            self._replay()
        # A batch is written FLUSH_SECONDS after its first event (or when full): one
        # transaction, and one disk sync, per second at most, not one per request.
        stopping = False
        while not stopping:
            item = self._queue.get()
            deadline = time.monotonic() + FLUSH_SECONDS
            batch: list[_Queued] = []
            flushes: list[_Flush] = []
            while True:
                if item is _STOP:
                    stopping = True
                    break
                if isinstance(item, _Flush):
                    flushes.append(item)
                    break
                assert isinstance(item, _Queued)
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            self._write(batch)
            for flush in flushes:
                flush.done.set()

    def _write(self, batch: list[_Queued]) -> None:
        if not batch:
            return
        marks: dict[str, int] = {}
        for item in batch:
            if item.journal:
                marks[item.journal] = max(marks.get(item.journal, 0), item.seq)
        if not self._insert([item.row for item in batch], marks):
            return
        self._committed.update(marks)
        journal = self._journal
        if journal is not None and self._queue.empty():
            old = journal.rotate(self._committed.get(journal.name, 0))
            if old is not None:
                self._forget_mark(old)

    def _insert(self, rows: Sequence[dict[str, Any]], marks: dict[str, int]) -> bool:
        try:
            with self._db.write_lock(), self._db.session() as session:
                insert_events(session, rows)
                for name, seq in marks.items():
                    mark_journal(session, name, seq)
            return True
        except Exception:
            log.exception("could not write %d audit events (kept in the journal)", len(rows))
            return False

    def _replay(self) -> None:
        """Copy the events of dead processes' journals into the database (see
        :mod:`openpacs.services.audit_journal`)."""
        assert self._journal is not None
        for orphan in orphans(self._journal.directory, self._journal.name):
            try:
                self._replay_one(orphan)
            except Exception:
                log.exception("could not replay audit journal %s; kept for later", orphan.name)
                orphan.release()

    def _replay_one(self, orphan: Orphan) -> None:
        with self._db.session() as session:
            done = journal_mark(session, orphan.name)
        entries = [entry for entry in orphan.entries() if entry.seq > done]
        for start in range(0, len(entries), MAX_BATCH):
            chunk = entries[start : start + MAX_BATCH]
            if not self._insert([e.values for e in chunk], {orphan.name: chunk[-1].seq}):
                raise RuntimeError("database write failed")
        if entries:
            log.warning("replayed %d audit events of journal %s", len(entries), orphan.name)
        orphan.remove()
        self._forget_mark(orphan.name)

    def _forget_mark(self, name: str) -> None:
        try:
            with self._db.session() as session:
                mark_journal(session, name, None)
        except Exception:
            log.exception("could not remove the mark of audit journal %s", name)
