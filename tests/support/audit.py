"""Reading the audit trail of a running server (its events are written about 1 s late)."""

from __future__ import annotations

import time

from sqlalchemy import ColumnElement, select

from openpacs.index.db import Database
from openpacs.index.models import Account, AuditEvent


def audit_events(
    database_url: str, account_uuid: str, *where: ColumnElement[bool], count: int
) -> list[tuple[str, str]]:
    """``(action, detail)`` of the account's events matching ``where``, in order; waits up
    to 10 s for ``count`` of them (returns what there is then)."""
    db = Database(database_url)
    try:
        deadline = time.monotonic() + 10
        while True:
            with db.session() as session:
                account_id = session.scalar(select(Account.id).where(Account.uuid == account_uuid))
                rows = session.execute(
                    select(AuditEvent.action, AuditEvent.detail)
                    .where(AuditEvent.account_id == account_id, *where)
                    .order_by(AuditEvent.id)
                ).all()
            if len(rows) >= count or time.monotonic() > deadline:
                return [(row[0], row[1]) for row in rows]
            time.sleep(0.2)
    finally:
        db.dispose()
