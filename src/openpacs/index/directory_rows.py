"""The rows of the discovery lists: an account's institutions, users, groups with their
members, and equipment; ordered by name, then id."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpacs.index.models import Equipment, Institution, User, UserGroup, UserGroupMember


def institutions(
    session: Session, account_id: int, only: Collection[int] | None = None
) -> Sequence[Institution]:
    """The account's institutions (those with an id in ``only``, when given)."""
    stmt = select(Institution).where(Institution.account_id == account_id)
    if only is not None:
        stmt = stmt.where(Institution.id.in_(sorted(only)))
    return session.scalars(stmt.order_by(Institution.name, Institution.id)).all()


def users(session: Session, account_id: int) -> Sequence[User]:
    """The account's users, by email."""
    stmt = select(User).where(User.account_id == account_id).order_by(User.email, User.id)
    return session.scalars(stmt).all()


def groups_with_members(session: Session, account_id: int) -> list[tuple[UserGroup, list[str]]]:
    """The account's user groups, each with its members' UserUuids (by email)."""
    groups = session.scalars(
        select(UserGroup)
        .where(UserGroup.account_id == account_id)
        .order_by(UserGroup.name, UserGroup.id)
    ).all()
    members: dict[int, list[str]] = {g.id: [] for g in groups}
    if members:
        for group_id, user_uuid in session.execute(
            select(UserGroupMember.group_id, User.uuid)
            .join(User, User.id == UserGroupMember.user_id)
            .where(UserGroupMember.group_id.in_(list(members)))
            .order_by(User.email, User.id)
        ):
            members[group_id].append(user_uuid)
    return [(g, members[g.id]) for g in groups]


def equipment(
    session: Session, account_id: int, only: Collection[int] | None = None
) -> list[tuple[Equipment, str]]:
    """The account's equipment (of the institutions in ``only``, when given), each with
    its InstitutionUuid."""
    stmt = (
        select(Equipment, Institution.uuid)
        .join(Institution, Institution.id == Equipment.institution_id)
        .where(Equipment.account_id == account_id)
    )
    if only is not None:
        stmt = stmt.where(Equipment.institution_id.in_(sorted(only)))
    rows = session.execute(stmt.order_by(Equipment.name, Equipment.id))
    return [(e, str(institution_uuid)) for e, institution_uuid in rows]
