"""Audit rows, built one way whether they are written in a transaction or in batches, and
the readout's query.

:func:`record_event` adds the row to the caller's transaction, so an audited change and
its audit row commit (or roll back) together: folders, shares, assignments, orders and
deletion use it. The retrieval and store hot paths queue events instead
(``services/audit.py``), whose batches are made of :func:`audit_row` values too.

:func:`events_page` reads them back: the account's events newest first, filtered by
user, patient, study, action, outcome and a time range. Each of the first four filters
has an index ``(account_id, <column>, created_at, id)``, so a page is one index range
read backwards, at a million events as at a hundred (EXPLAIN in the tests and in
``bench/audit_bench.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, delete, insert, select, union_all
from sqlalchemy.orm import Session

from openpacs.index.models import (
    ApiToken,
    AuditEvent,
    AuditJournalMark,
    PatientOrder,
    Share,
    Study,
    User,
    utcnow,
)

__all__ = [
    "Actor",
    "AuditFilter",
    "actions_with_prefix",
    "audit_row",
    "branch_statement",
    "events_page",
    "fill_patient_ids",
    "journal_mark",
    "mark_journal",
    "record_event",
]

# Longer texts are cut (the columns: action 40, study_instance_uid 64, client 100).
_LIMITS = {
    "action": 40,
    "study_instance_uid": 64,
    "patient_id": 64,
    "detail": 4000,
    "client": 100,
    "outcome": 10,
}


class Actor(Protocol):
    """Who did it: a user of an account (maybe with an API token), or a share link.
    ``Principal`` is one."""

    @property
    def account_id(self) -> int: ...

    @property
    def user_id(self) -> int | None: ...

    @property
    def share_id(self) -> int | None: ...

    @property
    def token_id(self) -> int | None: ...

    @property
    def client(self) -> str: ...


def audit_row(
    actor: Actor,
    action: str,
    *,
    study_uid: str = "",
    detail: str = "",
    client: str = "",
    created_at: datetime | None = None,
    outcome: str = "success",
    patient_id: str = "",
) -> dict[str, Any]:
    """The column values of one ``audit_event`` row (texts cut to their columns); the
    client address is the actor's unless given."""
    client = client or actor.client
    texts = {
        "action": action,
        "study_instance_uid": study_uid,
        "patient_id": patient_id,
        "detail": detail,
        "client": client,
        "outcome": outcome,
    }
    return {
        "account_id": actor.account_id,
        "user_id": actor.user_id,
        "share_id": actor.share_id,
        "token_id": actor.token_id,
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
    patient_id: str = "",
) -> None:
    """Add one audit row to ``session``'s transaction (it commits with the change); the
    patient is looked up from the study when not given."""
    row = audit_row(
        actor, action, study_uid=study_uid, detail=detail, client=client, patient_id=patient_id
    )
    fill_patient_ids(session, [row])
    session.add(AuditEvent(**row))


def fill_patient_ids(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Set ``patient_id`` of rows that name a study but no patient: the study's, else its
    order's (an order keeps its patient when its images are deleted). One query per
    account and table, not per row."""
    wanted: dict[int, set[str]] = {}
    for row in rows:
        if row["study_instance_uid"] and not row["patient_id"]:
            wanted.setdefault(row["account_id"], set()).add(row["study_instance_uid"])
    for account_id, uids in wanted.items():
        found: dict[str, str] = {}
        for model in (PatientOrder, Study):  # the study's own value wins
            for uid, patient in session.execute(
                select(model.study_instance_uid, model.patient_id).where(
                    model.account_id == account_id, model.study_instance_uid.in_(sorted(uids))
                )
            ):
                if patient:
                    found[str(uid)] = str(patient)
        for row in rows:
            if row["account_id"] == account_id and not row["patient_id"]:
                row["patient_id"] = found.get(row["study_instance_uid"], "")[:64]


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert audit rows made by :func:`audit_row`, their patient ids filled first."""
    fill_patient_ids(session, rows)
    session.execute(insert(AuditEvent), list(rows))


# -- the journal marks -------------------------------------------------------------------


def journal_mark(session: Session, journal: str) -> int:
    """The last sequence number of ``journal`` already in ``audit_event`` (0: none)."""
    value = session.scalar(
        select(AuditJournalMark.last_seq).where(AuditJournalMark.journal == journal)
    )
    return int(value or 0)


def mark_journal(session: Session, journal: str, seq: int | None) -> None:
    """Record how far ``journal`` is copied (in the same transaction as the rows); None
    forgets the journal."""
    if seq is None:
        session.execute(delete(AuditJournalMark).where(AuditJournalMark.journal == journal))
        return
    mark = session.get(AuditJournalMark, journal)
    if mark is None:
        session.add(AuditJournalMark(journal=journal, last_seq=seq))
    elif seq > mark.last_seq:
        mark.last_seq = seq


# -- the readout -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What to read; empty values do not filter. ``action`` ending in ``*`` is a prefix."""

    user_id: int | None = None
    patient_id: str = ""
    study_instance_uid: str = ""
    action: str = ""
    outcome: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    user_uuid: str
    user_email: str
    share_uuid: str
    token_uuid: str


def events_page(
    session: Session, account_id: int, where: AuditFilter, *, limit: int, offset: int = 0
) -> list[AuditRow]:
    """Up to ``limit + 1`` events (one more tells the caller that more exist), newest
    first, with the names of who did them.

    An action prefix (``study.*``) is resolved to the actions the account has
    (:func:`actions_with_prefix`); several are read as one newest-first range per action,
    each cut at the page's end and merged, so a prefix that matches a third of a million
    events still reads only a page from each range.
    """
    if where.action.endswith("*"):
        actions = actions_with_prefix(session, account_id, where.action.rstrip("*"))
        if not actions:
            return []
        if len(actions) > 1:
            ids = session.scalars(_merged_ids(account_id, where, actions, limit, offset)).all()
            # By primary key (the ids are the account's), newest first as the merge said.
            rank = {event_id: n for n, event_id in enumerate(ids)}
            rows = _rows(session, _joined().where(AuditEvent.id.in_(ids)))
            return sorted(rows, key=lambda row: rank[row.event.id])
        where = replace(where, action=actions[0])
    return _rows(session, readout_statement(account_id, where).limit(limit + 1).offset(offset))


def _rows(session: Session, stmt: Select[AuditEvent, str, str, str, str]) -> list[AuditRow]:
    return [
        AuditRow(event, user_uuid or "", email or "", share_uuid or "", token_uuid or "")
        for event, user_uuid, email, share_uuid, token_uuid in session.execute(stmt)
    ]


def actions_with_prefix(session: Session, account_id: int, prefix: str) -> list[str]:
    """The account's distinct actions that start with ``prefix``: one index seek each
    (``ix_audit_account_action``), never a walk over the events."""
    upper = prefix + "\U0010ffff"
    found: list[str] = []
    while True:
        low = AuditEvent.action > found[-1] if found else AuditEvent.action >= prefix
        following = session.scalar(
            select(AuditEvent.action)
            .where(AuditEvent.account_id == account_id, low, AuditEvent.action < upper)
            .order_by(AuditEvent.action)
            .limit(1)
        )
        if following is None:
            return found
        found.append(str(following))


def branch_statement(
    account_id: int, where: AuditFilter, action: str, size: int
) -> Select[int, datetime]:
    """The newest ``size`` events of one action (a range of ``ix_audit_account_action``)."""
    exact = replace(where, action=action)
    return (
        select(AuditEvent.id, AuditEvent.created_at)
        .where(*_clauses(account_id, exact))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(size)
    )


def _merged_ids(
    account_id: int, where: AuditFilter, actions: Sequence[str], limit: int, offset: int
) -> Select[int]:
    size = limit + offset + 1
    branches = [branch_statement(account_id, where, a, size).subquery() for a in actions]
    merged = union_all(*(select(b.c.id, b.c.created_at) for b in branches)).subquery()
    return (
        select(merged.c.id)
        .order_by(merged.c.created_at.desc(), merged.c.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )


def _clauses(account_id: int, where: AuditFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [AuditEvent.account_id == account_id]
    if where.user_id is not None:
        clauses.append(AuditEvent.user_id == where.user_id)
    if where.patient_id:
        clauses.append(AuditEvent.patient_id == where.patient_id)
    if where.study_instance_uid:
        clauses.append(AuditEvent.study_instance_uid == where.study_instance_uid)
    if where.action.endswith("*"):
        prefix = where.action.rstrip("*")
        if prefix:
            clauses += [AuditEvent.action >= prefix, AuditEvent.action < prefix + "\U0010ffff"]
    elif where.action:
        clauses.append(AuditEvent.action == where.action)
    if where.outcome:
        clauses.append(AuditEvent.outcome == where.outcome)
    if where.since is not None:
        clauses.append(AuditEvent.created_at >= where.since)
    if where.until is not None:
        clauses.append(AuditEvent.created_at < where.until)
    return clauses


def _joined() -> Select[AuditEvent, str, str, str, str]:
    """Events with the names of who did them (user, share, token)."""
    return (
        select(AuditEvent, User.uuid, User.email, Share.uuid, ApiToken.uuid)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(Share, Share.id == AuditEvent.share_id)
        .outerjoin(ApiToken, ApiToken.id == AuditEvent.token_id)
    )


def readout_statement(
    account_id: int, where: AuditFilter
) -> Select[AuditEvent, str, str, str, str]:
    """The SELECT of :func:`events_page` (without the page), for EXPLAIN in the tests."""
    return (
        _joined()
        .where(*_clauses(account_id, where))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
