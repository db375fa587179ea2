"""Audit rows, built one way whether they are written in a transaction or in batches.

:func:`record_event` adds the row to the caller's transaction, so an audited change and
its audit row commit (or roll back) together: folders, shares, assignments, orders and
deletion use it. The retrieval and store hot paths queue events instead
(``services/audit.py``), whose batches are made of :func:`audit_row` values too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from openpacs.index.models import AuditEvent, utcnow

__all__ = ["Actor", "audit_row", "record_event"]

# Longer texts are cut (the columns: action 40, study_instance_uid 64, client 100).
_LIMITS = {"action": 40, "study_instance_uid": 64, "detail": 4000, "client": 100}


class Actor(Protocol):
    """Who did it: a user of an account, or a share link. ``Principal`` is one."""

    @property
    def account_id(self) -> int: ...

    @property
    def user_id(self) -> int | None: ...

    @property
    def share_id(self) -> int | None: ...


def audit_row(
    actor: Actor,
    action: str,
    *,
    study_uid: str = "",
    detail: str = "",
    client: str = "",
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one ``audit_event`` row (texts cut to their columns)."""
    texts = {"action": action, "study_instance_uid": study_uid, "detail": detail, "client": client}
    return {
        "account_id": actor.account_id,
        "user_id": actor.user_id,
        "share_id": actor.share_id,
        **{name: text[: _LIMITS[name]] for name, text in texts.items()},
        "created_at": created_at or utcnow(),
    }


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    *,
    study_uid: str = "",
    detail: str = "",
    client: str = "",
) -> None:
    """Add one audit row to ``session``'s transaction (it commits with the change)."""
    row = audit_row(actor, action, study_uid=study_uid, detail=detail, client=client)
    session.add(AuditEvent(**row))
