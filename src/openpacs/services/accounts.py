"""Administration of accounts, users, groups, institutions and equipment (CLI and bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpacs.index.models import (
    Account,
    Equipment,
    Institution,
    User,
    UserGroup,
    UserGroupMember,
)
from openpacs.services.errors import Conflict, NotFound
from openpacs.services.passwords import hash_password


@dataclass(frozen=True)
class CreatedAccount:
    account_uuid: str
    user_uuid: str
    institution_uuid: str
    email: str


def count_accounts(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def _normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise ValueError(f"not an e-mail address: {email!r}")
    return email


def create_account(
    session: Session, *, name: str, email: str, password: str, institution_name: str = ""
) -> CreatedAccount:
    """A new tenant with its first (admin) user and its default institution."""
    email = _normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    account = Account(name=name)
    session.add(account)
    session.flush()
    user = User(
        account_id=account.id,
        email=email,
        password_hash=hash_password(password),
        display_name=name,
        role="admin",
    )
    institution = Institution(account_id=account.id, name=institution_name or name, is_default=True)
    session.add_all([user, institution])
    session.flush()
    return CreatedAccount(account.uuid, user.uuid, institution.uuid, email)


def find_account(session: Session, name_or_uuid: str) -> Account:
    """The account with this AccountUuid, else the one account with this name (names
    compared ignoring case and surrounding spaces); NotFound or Conflict otherwise."""
    wanted = name_or_uuid.strip()
    account = session.scalar(select(Account).where(Account.uuid == wanted.lower()))
    if account is not None:
        return account
    named = session.scalars(
        select(Account).where(func.lower(func.trim(Account.name)) == wanted.lower()).limit(10)
    ).all()
    if not named:
        raise NotFound(f"no account named or with the AccountUuid {wanted!r}")
    if len(named) > 1:
        uuids = ", ".join(a.uuid for a in named)
        raise Conflict(
            f"{len(named)} accounts are named {wanted!r}: give the AccountUuid ({uuids})"
        )
    return named[0]


def add_user(
    session: Session,
    account: Account,
    *,
    email: str,
    password: str,
    display_name: str = "",
    role: str = "member",
) -> User:
    email = _normalise_email(email)
    if role not in {"admin", "member"}:
        raise ValueError("role must be admin or member")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(
        account_id=account.id,
        email=email,
        password_hash=hash_password(password),
        display_name=display_name or email,
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email}")
    return user


def set_password(session: Session, email: str, password: str) -> User:
    user = user_by_email(session, email)
    user.password_hash = hash_password(password)
    return user


def add_group(session: Session, account: Account, name: str) -> UserGroup:
    existing = session.scalar(
        select(UserGroup).where(UserGroup.account_id == account.id, UserGroup.name == name)
    )
    if existing is not None:
        raise Conflict(f"group {name!r} already exists")
    group = UserGroup(account_id=account.id, name=name)
    session.add(group)
    session.flush()
    return group


def add_to_group(session: Session, group_uuid: str, email: str) -> tuple[UserGroup, User]:
    group = session.scalar(select(UserGroup).where(UserGroup.uuid == group_uuid))
    if group is None:
        raise NotFound(f"no group {group_uuid}")
    user = user_by_email(session, email)
    if user.account_id != group.account_id:
        raise NotFound(f"no user {email} in the group's account")
    if session.get(UserGroupMember, (group.id, user.id)) is None:
        session.add(UserGroupMember(group_id=group.id, user_id=user.id))
    return group, user


def add_institution(session: Session, account: Account, name: str) -> Institution:
    institution = Institution(account_id=account.id, name=name, is_default=False)
    session.add(institution)
    session.flush()
    return institution


def add_equipment(
    session: Session,
    institution_uuid: str,
    *,
    name: str,
    modality: str = "",
    ae_title: str = "",
) -> Equipment:
    institution = session.scalar(select(Institution).where(Institution.uuid == institution_uuid))
    if institution is None:
        raise NotFound(f"no institution {institution_uuid}")
    if len(ae_title) > 16:
        raise ValueError("an AE title has at most 16 characters")
    equipment = Equipment(
        account_id=institution.account_id,
        institution_id=institution.id,
        name=name,
        modality=modality.upper(),
        ae_title=ae_title,
    )
    session.add(equipment)
    session.flush()
    return equipment


def set_dicomweb(session: Session, account: Account, enabled: bool) -> Account:
    account.dicomweb_enabled = enabled
    return account
