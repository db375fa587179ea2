"""The rows behind sign-in: the login epoch, users' credential versions, API tokens.

Every change that must end logins already made (a new password, a role or institution
change, a disabled user, a revoked token) calls :func:`end_logins` in its transaction.
It raises the user's ``credentials_version`` and the one ``auth_epoch`` counter; each
server process reads the counter about once a second (:func:`read_epoch`, one primary
key look-up) and forgets its cached logins when it moved. That is how a change reaches
every process and every node within seconds although they share only the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from openpacs.index.models import (
    Account,
    ApiToken,
    AuthEpoch,
    RevokedSession,
    User,
    UserInstitution,
)
from openpacs.index.raw import dialect_insert

__all__ = [
    "bump_epoch",
    "end_logins",
    "institution_ids",
    "password_hash_of",
    "read_epoch",
    "revoke_session",
    "session_user",
    "token_row",
    "touch_tokens",
    "user_row",
]

EPOCH_ROW = 1


def bump_epoch(session: Session) -> None:
    """Raise the login epoch (in the caller's transaction)."""
    bumped = session.execute(
        update(AuthEpoch).where(AuthEpoch.id == EPOCH_ROW).values(epoch=AuthEpoch.epoch + 1)
    )
    if getattr(bumped, "rowcount", 1) == 0:  # a database made without the migration's row
        session.execute(insert(AuthEpoch).values(id=EPOCH_ROW, epoch=1))


def end_logins(session: Session, user: User | None = None) -> None:
    """Make every cached login (of ``user``, or of anyone) stale: see the module doc."""
    if user is not None:
        user.credentials_version = (user.credentials_version or 0) + 1
    bump_epoch(session)


def read_epoch(conn: Connection) -> int:
    value = conn.execute(select(AuthEpoch.epoch).where(AuthEpoch.id == EPOCH_ROW)).scalar()
    return int(value or 0)


def institution_ids(session: Session, user_id: int) -> frozenset[int] | None:
    """The institutions a user is limited to; None when they are not limited."""
    ids = session.scalars(
        select(UserInstitution.institution_id).where(UserInstitution.user_id == user_id)
    ).all()
    return frozenset(int(i) for i in ids) if ids else None


def user_row(session: Session, email: str) -> tuple[User, bool] | None:
    """The user with this e-mail and whether their account has DICOMweb switched on."""
    return _user_where(session, User.email == email)


def _user_where(session: Session, clause: ColumnElement[bool]) -> tuple[User, bool] | None:
    row = session.execute(
        select(User, Account.dicomweb_enabled)
        .join(Account, Account.id == User.account_id)
        .where(clause)
    ).first()
    return None if row is None else (row[0], bool(row[1]))


def session_user(session: Session, user_id: int, session_id: str) -> tuple[User, bool] | None:
    """A web session's user and whether DICOMweb is on for the account (one query);
    None when the user is gone or the session was revoked (signed out)."""
    revoked = exists().where(RevokedSession.id == session_id)
    row = session.execute(
        select(User, Account.dicomweb_enabled, revoked)
        .join(Account, Account.id == User.account_id)
        .where(User.id == user_id)
    ).first()
    if row is None or row[2]:
        return None
    return row[0], bool(row[1])


def revoke_session(session: Session, session_id: str, expires_at: datetime, now: datetime) -> None:
    """End a web session for good (sign-out), and purge the revocations that expired."""
    session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    # Two sign-outs of one session at once (a double click, two tabs) are no conflict.
    make = dialect_insert(session.get_bind().dialect.name)
    session.execute(
        make(RevokedSession).values(id=session_id, expires_at=expires_at).on_conflict_do_nothing()
    )


def password_hash_of(session: Session, user_id: int) -> str | None:
    value = session.scalar(select(User.password_hash).where(User.id == user_id))
    return None if value is None else str(value)


def token_row(session: Session, token_hash: str) -> tuple[ApiToken, User, bool] | None:
    """The token with this hash, its user, and whether DICOMweb is on for the account."""
    row = session.execute(
        select(ApiToken, User, Account.dicomweb_enabled)
        .join(User, User.id == ApiToken.user_id)
        .join(Account, Account.id == User.account_id)
        .where(ApiToken.token_hash == token_hash)
    ).first()
    return None if row is None else (row[0], row[1], bool(row[2]))


def touch_tokens(session: Session, used: Sequence[tuple[int, datetime]]) -> None:
    """Record when tokens were last used (one statement per token)."""
    for token_id, when in used:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))


def tokens_of(session: Session, user_id: int | None) -> Sequence[ApiToken]:
    """The user's API tokens, newest first (revoked and expired ones too)."""
    return session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()


def token_of(session: Session, user_id: int | None, token_uuid: str) -> ApiToken | None:
    """The user's API token ``token_uuid``."""
    return session.scalar(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.uuid == token_uuid)
    )
