"""Audit rows: one builder for the transactional helper and the batched trail."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select

from openpacs.index.audit import audit_row, record_event
from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import Account, AuditEvent
from openpacs.services.audit import AuditTrail, Event
from openpacs.services.principal import Principal


def test_texts_are_cut_to_their_columns() -> None:
    row = audit_row(Principal(7, user_id=3), "x" * 50, study_uid="1" * 70, client="c" * 200)
    assert (row["account_id"], row["user_id"], row["share_id"]) == (7, 3, None)
    assert len(row["action"]) == 40 and len(row["study_instance_uid"]) == 64
    assert len(row["client"]) == 100 and row["created_at"] is not None


def test_the_transactional_and_the_batched_rows_are_alike(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'index.db'}")
    upgrade(db.engine)
    with db.engine.begin() as conn:
        account = conn.execute(insert(Account).values(name="a").returning(Account.id)).scalar()
    assert account is not None
    share = Principal(account, share_id=9)
    with db.session() as session:
        record_event(session, share, "share.view", study_uid="1.2", detail="d", client="ip")
    trail = AuditTrail(db)
    trail.record(Event(account, "share.view", "1.2", share_id=9, detail="d", client="ip"))
    trail.close()
    columns = ("account_id", "user_id", "share_id", "action", "study_instance_uid", "detail")
    with db.session() as session:
        rows = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        values = [tuple(getattr(r, c) for c in (*columns, "client")) for r in rows]
    assert values == [(account, None, 9, "share.view", "1.2", "d", "ip")] * 2
    db.dispose()
