"""An account's people and equipment: the rows of the discovery lists (institutions,
users, groups with their members, equipment; ordered by name, then id), the look-ups of a
user or group by UUID or email, and the DICOM peers by AE title."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TypeVar

from sqlalchemy import delete, select
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


def user_id(session: Session, account_id: int, name: str, *, email_too: bool = False) -> int | None:
    """The id of the account's user whose UserUuid (or, with ``email_too``, email) is
    ``name``."""
    match = User.uuid == name
    if email_too:
        match = match | (User.email == name)
    found = session.scalar(select(User.id).where(User.account_id == account_id, match))
    return None if found is None else int(found)


def group_id(session: Session, account_id: int, group_uuid: str) -> int | None:
    """The id of the account's user group with this UserGroupUuid."""
    found = session.scalar(
        select(UserGroup.id).where(UserGroup.account_id == account_id, UserGroup.uuid == group_uuid)
    )
    return None if found is None else int(found)


def user_uuid(session: Session, user_id: int) -> str:
    """The UserUuid of a user id ("" when there is none)."""
    return session.scalar(select(User.uuid).where(User.id == user_id)) or ""


def group_uuid(session: Session, group_id: int) -> str:
    """The UserGroupUuid of a group id ("" when there is none)."""
    return session.scalar(select(UserGroup.uuid).where(UserGroup.id == group_id)) or ""


def equipment_titled(session: Session, ae_title: str) -> Sequence[Equipment]:
    """Every equipment (of any account) with this AE title, oldest first."""
    stmt = select(Equipment).where(Equipment.ae_title == ae_title).order_by(Equipment.id)
    return session.scalars(stmt).all()


def accounts_titled(session: Session, ae_title: str) -> list[int]:
    """The accounts with an equipment of this AE title."""
    rows = session.scalars(
        select(Equipment.account_id).where(Equipment.ae_title == ae_title).distinct()
    )
    return sorted(int(account) for account in rows)


def listening_equipment(session: Session, account_id: int, ae_title: str) -> Equipment | None:
    """The account's first equipment with this AE title that has a host and a port."""
    return session.scalars(
        select(Equipment)
        .where(
            Equipment.account_id == account_id,
            Equipment.ae_title == ae_title,
            Equipment.host != "",
            Equipment.port.is_not(None),
        )
        .order_by(Equipment.id)
        .limit(1)
    ).first()


# The account's rows that are named by UUID (administration).
Owned = TypeVar("Owned", User, UserGroup, Institution, Equipment)


def owned_row(session: Session, model: type[Owned], account_id: int, uuid: str) -> Owned | None:
    """The ``model`` row ``uuid`` of the account (None for another account's or none)."""
    return session.scalar(select(model).where(model.account_id == account_id, model.uuid == uuid))


def remove_member(session: Session, group_id: int, user_id: int) -> None:
    """Take a user out of a group (nothing when they are not in it)."""
    session.execute(
        delete(UserGroupMember).where(
            UserGroupMember.group_id == group_id, UserGroupMember.user_id == user_id
        )
    )
