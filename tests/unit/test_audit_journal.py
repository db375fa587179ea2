"""The audit journal: written before the answer, copied into the database in batches,
replayed exactly once after a crash."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from openpacs.index.audit import journal_mark, mark_journal
from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import (
    Account,
    AuditEvent,
    AuditJournalMark,
    Institution,
    PatientOrder,
)
from openpacs.services import audit_journal
from openpacs.services.audit import AuditTrail, Event
from openpacs.services.audit_journal import Journal, decode, orphans


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'index.db'}")
    upgrade(database.engine)
    with database.engine.begin() as conn:
        conn.execute(insert(Account).values(id=1, name="a"))
    yield database
    database.dispose()


def rows(db: Database) -> list[tuple[str, str, str, str]]:
    with db.session() as session:
        found = session.execute(
            select(
                AuditEvent.action,
                AuditEvent.study_instance_uid,
                AuditEvent.patient_id,
                AuditEvent.outcome,
            ).order_by(AuditEvent.id)
        )
        return [tuple(row) for row in found]  # type: ignore[misc]


def test_an_event_is_in_the_journal_at_once_and_in_the_database_after_a_flush(
    db: Database, tmp_path: Path
) -> None:
    with db.session() as session:  # the patient is looked up from the index, not sent
        session.add(Institution(id=1, account_id=1, name="i"))
        session.flush()
        session.add(
            PatientOrder(account_id=1, institution_id=1, study_instance_uid="1.2", patient_id="P7")
        )
    trail = AuditTrail(db, tmp_path / "audit")
    seq = trail.record(Event(1, "study.retrieve", "1.2", user_id=3, client="10.0.0.1"))
    trail.wait_durable(seq)
    [journal] = (tmp_path / "audit").glob("*.jsonl")
    entry = decode(journal.read_bytes().splitlines()[0])
    assert entry is not None and entry.seq == seq == 1
    assert entry.values["action"] == "study.retrieve" and entry.values["client"] == "10.0.0.1"
    trail.flush()
    assert rows(db) == [("study.retrieve", "1.2", "P7", "success")]
    trail.close()
    assert not list((tmp_path / "audit").glob("*.jsonl")), "a clean stop leaves no journal"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditJournalMark)) == 0


def test_a_dead_process_journal_is_replayed_from_its_mark(db: Database, tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    dead = Journal(directory)
    for n in range(1, 4):
        values = Event(1, f"study.view.{n}", f"1.{n}").row()
        dead.append(values)
    with db.session() as session:  # event 1 was copied before the crash
        session.execute(insert(AuditEvent).values(Event(1, "study.view.1", "1.1").row()))
        mark_journal(session, dead.name, 1)
    os.close(dead._fd)  # the process dies: the kernel drops its lock, the file stays
    with (directory / f"{dead.name}.jsonl").open("ab") as handle:
        handle.write(b'[4,1,null,null,null,"cut sh')  # a line torn by a power cut
    trail = AuditTrail(db, directory)
    trail.flush()
    assert [r[0] for r in rows(db)] == ["study.view.1", "study.view.2", "study.view.3"]
    assert not (directory / f"{dead.name}.jsonl").exists()
    with db.session() as session:
        assert journal_mark(session, dead.name) == 0
    trail.close()


def test_a_living_process_journal_is_left_alone(db: Database, tmp_path: Path) -> None:
    directory = tmp_path / "audit"
    alive = Journal(directory)
    alive.append(Event(1, "study.view", "1.9").row())
    assert [o.name for o in orphans(directory, own="")] == []
    trail = AuditTrail(db, directory)
    trail.flush()
    assert rows(db) == []
    trail.close()
    alive.close(committed=0)


def test_a_large_journal_is_rotated_once_its_events_are_in_the_database(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_journal, "ROTATE_BYTES", 200)
    trail = AuditTrail(db, tmp_path / "audit")
    for n in range(5):
        trail.record(Event(1, "study.view", f"1.{n}", detail="x" * 100))
    [first] = (tmp_path / "audit").glob("*.jsonl")
    trail.flush()  # all in the database: the large file goes, a new one starts
    trail.record(Event(1, "study.view", "1.99"))
    [second] = (tmp_path / "audit").glob("*.jsonl")
    assert first != second and not first.exists()
    trail.flush()
    assert len(rows(db)) == 6
    trail.close()


def test_without_a_journal_events_are_only_queued(db: Database) -> None:
    trail = AuditTrail(db)
    assert trail.record(Event(1, "study.view")) == 0
    trail.wait_durable(0)
    trail.close()
    assert len(rows(db)) == 1


def test_a_new_journal_is_never_taken_for_an_orphan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers start together: another process replaying orphans at the worst moment (just
    before the new journal's lock) must not find it (it used to: the new worker's lock
    then failed and the worker died at start)."""
    real_flock = fcntl.flock
    taken: list[str] = []
    scanning = threading.local()

    def flock_after_a_scan(fd: int, operation: int) -> None:
        if not getattr(scanning, "on", False):
            scanning.on = True
            try:
                for orphan in orphans(tmp_path, own=""):
                    taken.append(orphan.name)
                    orphan.release()
            finally:
                scanning.on = False
        real_flock(fd, operation)

    monkeypatch.setattr(audit_journal.fcntl, "flock", flock_after_a_scan)
    journal = Journal(tmp_path)
    monkeypatch.undo()
    assert taken == []
    assert [p.name for p in tmp_path.iterdir()] == [f"{journal.name}{audit_journal.SUFFIX}"]
    assert [o.name for o in orphans(tmp_path, own="")] == []  # still locked by us
    journal.close(journal.last_seq)
