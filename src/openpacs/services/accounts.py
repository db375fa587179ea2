"""Administration of accounts, users, groups, institutions and equipment (CLI and bootstrap).

These run on the server machine with direct access to the database (``openpacs admin``),
not through the API, so they are not subject to the role table: whoever can run them can
read the database anyway. Every change that must end a user's existing logins (password,
role, institutions, disabling) raises the login epoch in its transaction
(:func:`openpacs.index.credentials.end_logins`): running servers stop accepting the old
logins within seconds, and a disabled user's API tokens too (a new password revokes
them). Those changes are also
recorded in the account's audit trail (client ``openpacs admin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from openpacs.dicom.ae_title import check_ae_title
from openpacs.index.audit import record_event
from openpacs.index.credentials import bump_epoch, end_logins
from openpacs.index.models import (
    Account,
    ApiToken,
    Equipment,
    Institution,
    PatientOrder,
    User,
    UserGroup,
    UserGroupMember,
    UserInstitution,
    utcnow,
)
from openpacs.services.errors import Conflict, NotFound
from openpacs.services.passwords import hash_password
from openpacs.services.permissions import Role
from openpacs.services.principal import Principal
from openpacs.words import counted

ROLES = tuple(role.value for role in Role)
ADMIN_CLIENT = "openpacs admin"


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
    _check_role(role)
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


def set_password(session: Session, email: str, password: str, by: Principal | None = None) -> User:
    """A new password; it also revokes the user's API tokens: they are made with the
    password, so whoever knew the old one may have made some. ``by``: the admin who
    made the change in the web application (None: ``openpacs admin``)."""
    user = user_by_email(session, email)
    _new_password(session, user, password, by)
    return user


def set_own_password(session: Session, who: Principal, password: str) -> User:
    """The signed-in user's new password (the web application; the caller has checked
    the current one and the strength): the same effects as :func:`set_password`."""
    user = session.get(User, who.user_id)
    if user is None or user.account_id != who.account_id:
        raise NotFound("no such user")
    _new_password(session, user, password, who)
    return user


def _new_password(session: Session, user: User, password: str, by: Principal | None) -> None:
    user.password_hash = hash_password(password)
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    count = getattr(revoked, "rowcount", 0) or 0
    _changed(session, user, "user.set_password", f": {count} API token(s) revoked", by)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _changed(
    session: Session, user: User, action: str, detail: str, by: Principal | None = None
) -> None:
    """End the user's logins and record the change in their account's audit trail (by
    ``by``, or by ``openpacs admin`` on the server machine)."""
    end_logins(session, user)
    who = by or Principal(user.account_id, client=ADMIN_CLIENT)
    record_event(session, who, action, detail=f"{user.email} ({user.uuid}){detail}")


def set_role(session: Session, email: str, role: str, by: Principal | None = None) -> User:
    """Give a user another role (admin, member or reader: services/permissions.py)."""
    _check_role(role)
    user = user_by_email(session, email)
    if user.role != role:
        before, user.role = user.role, role
        _changed(session, user, "user.set_role", f": {before} -> {role}", by)
    return user


def set_disabled(session: Session, email: str, disabled: bool, by: Principal | None = None) -> User:
    """Disable a user (no sign-in with the password or any token) or enable them again."""
    user = user_by_email(session, email)
    if user.disabled != disabled:
        user.disabled = disabled
        _changed(session, user, "user.disable" if disabled else "user.enable", "", by)
    return user


def set_institutions(
    session: Session, email: str, institution_uuids: Sequence[str], by: Principal | None = None
) -> User:
    """Limit a user to these institutions of their account (none given: no limit)."""
    user = user_by_email(session, email)
    wanted = sorted({u.strip().lower() for u in institution_uuids if u.strip()})
    found = {
        str(uuid): int(iid)
        for uuid, iid in session.execute(
            select(Institution.uuid, Institution.id).where(
                Institution.account_id == user.account_id, Institution.uuid.in_(wanted)
            )
        )
    }
    missing = [u for u in wanted if u not in found]
    if missing:
        raise NotFound(f"no institution {missing[0]} in the user's account")
    session.execute(delete(UserInstitution).where(UserInstitution.user_id == user.id))
    session.add_all(UserInstitution(user_id=user.id, institution_id=i) for i in found.values())
    limit = ", ".join(wanted) if wanted else "every institution"
    _changed(session, user, "user.set_institutions", f": {limit}", by)
    return user


def user_institution_uuids(session: Session, user: User) -> list[str]:
    """The institutions a user is limited to ([] when not limited)."""
    return list(
        session.scalars(
            select(Institution.uuid)
            .join(UserInstitution, UserInstitution.institution_id == Institution.id)
            .where(UserInstitution.user_id == user.id)
            .order_by(Institution.name, Institution.id)
        )
    )


def list_accounts(session: Session) -> list[dict[str, Any]]:
    """Every account of the server, with its number of users (oldest first)."""
    users = func.count(User.id)
    rows = session.execute(
        select(Account, users)
        .outerjoin(User, User.account_id == Account.id)
        .group_by(Account.id)
        .order_by(Account.created_at, Account.id)
    )
    return [
        {
            "AccountUuid": account.uuid,
            "Name": account.name,
            "Users": int(count),
            "DicomwebEnabled": bool(account.dicomweb_enabled),
        }
        for account, count in rows
    ]


def list_users(session: Session, account: Account) -> list[dict[str, Any]]:
    """The users of an account with their role, state and institution limit."""
    users = session.scalars(
        select(User).where(User.account_id == account.id).order_by(User.email, User.id)
    ).all()
    limits: dict[int, list[str]] = {}
    for user_id, uuid in session.execute(
        select(UserInstitution.user_id, Institution.uuid)
        .join(Institution, Institution.id == UserInstitution.institution_id)
        .where(Institution.account_id == account.id)
        .order_by(Institution.name, Institution.id)
    ):
        limits.setdefault(int(user_id), []).append(str(uuid))
    return [
        {
            "UserUuid": user.uuid,
            "Email": user.email,
            "Name": user.display_name,
            "Role": user.role,
            "Disabled": bool(user.disabled),
            "Institutions": limits.get(user.id, []),
        }
        for user in users
    ]


def add_group(session: Session, account: Account, name: str) -> UserGroup:
    _check_free_group_name(session, account.id, name)
    group = UserGroup(account_id=account.id, name=name)
    session.add(group)
    session.flush()
    return group


def _check_free_group_name(
    session: Session, account_id: int, name: str, own: int | None = None
) -> None:
    """Conflict when another group of the account has this name (a unique constraint)."""
    existing = session.scalar(
        select(UserGroup.id).where(
            UserGroup.account_id == account_id, UserGroup.name == name, UserGroup.id != (own or 0)
        )
    )
    if existing is not None:
        raise Conflict(f"group {name!r} already exists")


def rename_group(session: Session, group: UserGroup, name: str) -> None:
    _check_free_group_name(session, group.account_id, name, own=group.id)
    group.name = name
    session.flush()


@dataclass(frozen=True)
class GroupRemoval:
    """What removing a group ended: its memberships and its orders' assignments."""

    members: int
    assigned_orders: int


def group_assignments(session: Session, account_id: int) -> dict[str, int]:
    """How many orders are assigned to each group of the account, by UserGroupUuid."""
    rows = session.execute(
        select(UserGroup.uuid, func.count())
        .join(PatientOrder, PatientOrder.assigned_group_id == UserGroup.id)
        .where(UserGroup.account_id == account_id)
        .group_by(UserGroup.uuid)
    )
    return {str(group_uuid): int(count) for group_uuid, count in rows}


def remove_group(session: Session, group: UserGroup) -> GroupRemoval:
    """Delete a group: its members leave it (the users stay) and the orders assigned to
    it are assigned to no group (a user they are also assigned to keeps them)."""
    members = session.execute(delete(UserGroupMember).where(UserGroupMember.group_id == group.id))
    unassigned = session.execute(
        update(PatientOrder)
        .where(PatientOrder.assigned_group_id == group.id)
        .values(assigned_group_id=None)
    )
    session.delete(group)
    session.flush()
    return GroupRemoval(
        getattr(members, "rowcount", 0) or 0, getattr(unassigned, "rowcount", 0) or 0
    )


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


def check_free_institution_name(
    session: Session, account_id: int, name: str, own: int | None = None
) -> None:
    """Conflict when another institution of the account has this name."""
    same = session.scalar(
        select(Institution.uuid).where(
            Institution.account_id == account_id,
            Institution.name == name,
            Institution.id != (own or 0),
        )
    )
    if same is not None:
        raise Conflict(f"institution {name!r} already exists ({same})")


def set_default_institution(session: Session, institution: Institution) -> None:
    """Make this the account's default institution: where a study that arrives without
    an order gets its new order (one default per account)."""
    session.execute(
        update(Institution)
        .where(Institution.account_id == institution.account_id, Institution.id != institution.id)
        .values(is_default=False)
    )
    institution.is_default = True
    session.flush()


@dataclass(frozen=True)
class InstitutionUse:
    """What refers to an institution: it cannot be removed while anything does."""

    orders: int = 0
    equipment: tuple[str, ...] = ()  # names
    limited_users: tuple[str, ...] = ()  # e-mail addresses of users limited to it


def institution_uses(session: Session, account_id: int) -> dict[int, InstitutionUse]:
    """What refers to each institution of the account, by institution id (a few
    grouped queries, none per institution)."""
    orders = {
        int(institution_id): int(count)
        for institution_id, count in session.execute(
            select(PatientOrder.institution_id, func.count())
            .where(PatientOrder.account_id == account_id)
            .group_by(PatientOrder.institution_id)
        )
    }
    equipment: dict[int, list[str]] = {}
    for institution_id, name in session.execute(
        select(Equipment.institution_id, Equipment.name)
        .where(Equipment.account_id == account_id)
        .order_by(Equipment.name, Equipment.id)
    ):
        equipment.setdefault(int(institution_id), []).append(str(name))
    users: dict[int, list[str]] = {}
    for institution_id, email in session.execute(
        select(UserInstitution.institution_id, User.email)
        .join(User, User.id == UserInstitution.user_id)
        .where(User.account_id == account_id)
        .order_by(User.email)
    ):
        users.setdefault(int(institution_id), []).append(str(email))
    ids = set(orders) | set(equipment) | set(users)
    return {
        int(i): InstitutionUse(
            int(orders.get(i, 0)), tuple(equipment.get(i, ())), tuple(users.get(i, ()))
        )
        for i in ids
    }


def _some(names: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def institution_removal_refusal(institution: Institution, use: InstitutionUse) -> str:
    """Why this institution cannot be removed ("" when it can). Orders keep their
    institution for good (it decides who may see them); equipment and users limited to
    it would otherwise go with it, or be left with no limit at all."""
    name = institution.name
    if institution.is_default:
        return (
            f"{name} is the default institution (new studies without an order go to it): "
            "make another institution the default first"
        )
    if use.orders:
        return (
            f"{name} has {counted(use.orders, 'orders')}; an institution with orders is "
            "kept, since it decides who may see them (rename it instead)"
        )
    if use.equipment:
        return f"{name} has equipment ({_some(use.equipment)}): move or remove it first"
    if use.limited_users:
        return (
            f"users are limited to {name} ({_some(use.limited_users)}): change their "
            "institutions first"
        )
    return ""


def remove_institution(session: Session, institution: Institution) -> None:
    """Delete an institution that nothing refers to (Conflict with the reason otherwise)."""
    use = institution_uses(session, institution.account_id).get(institution.id, InstitutionUse())
    refusal = institution_removal_refusal(institution, use)
    if refusal:
        raise Conflict(refusal)
    session.delete(institution)
    session.flush()


def add_equipment(
    session: Session,
    institution_uuid: str,
    *,
    name: str,
    modality: str = "",
    ae_title: str = "",
    host: str = "",
    port: int | None = None,
    check_host: bool = False,
) -> Equipment:
    """A new device of the institution; with an AE title it is a DICOM peer of the
    account (see :func:`check_equipment_ae_title`), with a host and a port also a C-MOVE
    destination."""
    institution = session.scalar(select(Institution).where(Institution.uuid == institution_uuid))
    if institution is None:
        raise NotFound(f"no institution {institution_uuid}")
    equipment = Equipment(
        account_id=institution.account_id,
        institution_id=institution.id,
        name=name,
        modality=modality.upper(),
    )
    _set_network(session, equipment, ae_title, host, port, check_host)
    session.add(equipment)
    session.flush()
    return equipment


@dataclass(frozen=True)
class EquipmentChange:
    """What ``update_equipment`` changes: None leaves a field as it is."""

    name: str | None = None
    modality: str | None = None
    ae_title: str | None = None
    host: str | None = None
    port: int | None = None
    # Take the port away (it stops being a C-MOVE destination).
    no_port: bool = False


def equipment_by_uuid(session: Session, equipment_uuid: str) -> Equipment:
    equipment = session.scalar(select(Equipment).where(Equipment.uuid == equipment_uuid.strip()))
    if equipment is None:
        raise NotFound(f"no equipment {equipment_uuid}")
    return equipment


def update_equipment(
    session: Session, equipment_uuid: str, change: EquipmentChange, *, check_host: bool = False
) -> Equipment:
    """Change an equipment; the DICOM node sees it at the next association."""
    equipment = equipment_by_uuid(session, equipment_uuid)
    if change.name is not None:
        equipment.name = change.name
    if change.modality is not None:
        equipment.modality = change.modality.upper()
    port = None if change.no_port else change.port if change.port is not None else equipment.port
    _set_network(
        session,
        equipment,
        equipment.ae_title if change.ae_title is None else change.ae_title,
        equipment.host if change.host is None else change.host,
        port,
        check_host,
    )
    session.flush()
    return equipment


def remove_equipment(session: Session, equipment_uuid: str) -> Equipment:
    """Delete an equipment (its AE title is refused from the next association on);
    orders scheduled on it keep their data, without the equipment."""
    equipment = equipment_by_uuid(session, equipment_uuid)
    session.execute(
        update(PatientOrder)
        .where(PatientOrder.scheduled_equipment_id == equipment.id)
        .values(scheduled_equipment_id=None)
    )
    session.delete(equipment)
    session.flush()
    return equipment


def _set_network(
    session: Session,
    equipment: Equipment,
    ae_title: str,
    host: str,
    port: int | None,
    check_host: bool,
) -> None:
    title = check_ae_title(ae_title) if ae_title.strip() else ""
    host = host.strip()
    if len(host) > 255 or any(c.isspace() for c in host):
        raise ValueError(f"not a host name or address: {host!r}")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"a port is 1-65535, not {port}")
    if title:
        check_equipment_ae_title(
            session, equipment.account_id, title, host, check_host=check_host, own=equipment.id
        )
    equipment.ae_title, equipment.host, equipment.port = title, host, port


def check_equipment_ae_title(
    session: Session,
    account_id: int,
    ae_title: str,
    host: str,
    *,
    check_host: bool,
    own: int | None = None,
) -> None:
    """Conflict unless ``ae_title`` can name one equipment of the account.

    The calling AE title of an association decides its account, so it must name one
    equipment: it is unique within its account, and another account may only use it
    when the DICOM node tells them apart by the peer's address
    (``OPENPACS_DICOM_CHECK_HOST=true``) and both have their own hosts.
    """
    others = session.scalars(
        select(Equipment).where(Equipment.ae_title == ae_title, Equipment.id != (own or 0))
    ).all()
    for other in others:
        if other.account_id == account_id:
            raise Conflict(
                f"AE title {ae_title} is already the title of equipment {other.uuid} "
                f"({other.name}) of this account"
            )
        if not (check_host and host and other.host and other.host != host):
            hint = (
                "give both equipment different hosts"
                if check_host
                else "set OPENPACS_DICOM_CHECK_HOST=true and give both equipment different hosts"
            )
            raise Conflict(
                f"AE title {ae_title} is already used by an equipment of another account; "
                f"an association could not tell them apart ({hint})"
            )


def set_dicomweb(
    session: Session, account: Account, enabled: bool, by: Principal | None = None
) -> Account:
    """Switch the account's DICOMweb root and custom API on or off (its web application
    stays open). Cached logins carry the switch, so the login epoch moves: running
    servers apply it within about a second."""
    if account.dicomweb_enabled != enabled:
        account.dicomweb_enabled = enabled
        bump_epoch(session)
        who = by or Principal(account.id, client=ADMIN_CLIENT)
        state = "on" if enabled else "off"
        record_event(session, who, "account.set_dicomweb", detail=f"DICOMweb {state}")
    return account
