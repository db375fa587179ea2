"""Administration of one account by its own admins (the web application's admin pages).

The same changes as ``openpacs admin`` on the server machine (:mod:`.accounts`), but
called with a principal: only an admin may make them (``administer`` in the role table),
only in their own account (a user, group, institution or equipment of another account is
not found), and each is recorded in the audit trail as made by that admin. A change that
must end a user's logins (role, password, disabling) does so at once, as the command
line's do. An admin cannot take their own admin role away or disable themselves, so an
account always keeps the admin who is working in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openpacs.index import directory_rows
from openpacs.index.audit import record_event
from openpacs.index.db import Database
from openpacs.index.directory_rows import Owned
from openpacs.index.models import (
    Account,
    Equipment,
    Institution,
    User,
    UserGroup,
)
from openpacs.services import accounts
from openpacs.services.directory import DirectoryService
from openpacs.services.errors import BadRequest, Conflict, Forbidden, NotFound
from openpacs.services.passwords import WeakPassword, check_password_strength
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal

T = TypeVar("T")
ROLES = accounts.ROLES
NAME_LENGTH = 200  # the name columns of groups and institutions


@dataclass(frozen=True)
class AccountUser:
    user_uuid: str
    email: str
    display_name: str
    role: str
    disabled: bool
    institution_uuids: tuple[str, ...]  # () when not limited


@dataclass(frozen=True)
class AdminGroup:
    user_group_uuid: str
    user_group_name: str
    user_uuid_list: tuple[str, ...]
    assigned_orders: int  # orders assigned to the group (they lose it when it is removed)


@dataclass(frozen=True)
class AdminInstitution:
    institution_uuid: str
    institution_name: str
    is_default: bool
    orders: int
    equipment: tuple[str, ...]  # names
    limited_users: tuple[str, ...]  # e-mail addresses of users limited to it
    removal_refusal: str  # why it cannot be removed ("" when it can)


@dataclass(frozen=True)
class AccountSettings:
    account_uuid: str
    name: str
    dicomweb_enabled: bool


@dataclass(frozen=True)
class EquipmentInput:
    institution_uuid: str
    name: str
    modality: str = ""
    ae_title: str = ""
    host: str = ""
    port: int | None = None


class AdminService:
    """Users, groups, institutions and equipment of the caller's account (admins only)."""

    def __init__(self, db: Database, check_host: bool = False) -> None:
        self._db = db
        self._check_host = check_host

    def _run(self, who: Principal, work: Callable[[Session], T]) -> T:
        require(who, Action.ADMINISTER)
        try:
            with self._db.session() as session:
                try:
                    return work(session)
                except ValueError as exc:  # the admin helpers' input errors (AE title, port...)
                    raise BadRequest(str(exc)) from None
        except IntegrityError:
            # Checked first, but another admin's change can land in between (the same
            # group name twice, an order made in an institution being removed).
            raise Conflict(
                "this clashed with a change made at the same time; reload the page and try again"
            ) from None

    # -- users

    def users(self, who: Principal) -> tuple[AccountUser, ...]:
        def work(session: Session) -> tuple[AccountUser, ...]:
            account = _account(session, who)
            return tuple(
                AccountUser(
                    row["UserUuid"],
                    row["Email"],
                    row["Name"],
                    row["Role"],
                    row["Disabled"],
                    tuple(row["Institutions"]),
                )
                for row in accounts.list_users(session, account)
            )

        return self._run(who, work)

    def add_user(
        self, who: Principal, email: str, display_name: str, role: str, password: str
    ) -> str:
        """A new user of the account; returns their UserUuid."""
        _check_role(role)
        if not password:
            raise BadRequest("password: give the new user a first password")
        _check_strength(password)

        def work(session: Session) -> str:
            account = _account(session, who)
            user = accounts.add_user(
                session,
                account,
                email=email,
                password=password,
                display_name=display_name.strip(),
                role=role,
            )
            record_event(
                session, who, "user.add", detail=f"{user.email} ({user.uuid}), role {role}"
            )
            return user.uuid

        return self._run(who, work)

    def set_role(self, who: Principal, user_uuid: str, role: str) -> None:
        _check_role(role)

        def work(session: Session) -> None:
            user = _user(session, who, user_uuid)
            if user.id == who.user_id and role != user.role:
                raise Forbidden("you cannot change your own role; ask another admin")
            accounts.set_role(session, user.email, role, by=who)

        self._run(who, work)

    def set_password(self, who: Principal, user_uuid: str, password: str) -> None:
        """A new password set by an admin (the user's sessions and API tokens end)."""
        _check_strength(password)

        def work(session: Session) -> None:
            user = _user(session, who, user_uuid)
            accounts.set_password(session, user.email, password, by=who)

        self._run(who, work)

    def set_disabled(self, who: Principal, user_uuid: str, disabled: bool) -> None:
        def work(session: Session) -> None:
            user = _user(session, who, user_uuid)
            if user.id == who.user_id and disabled:
                raise Forbidden("you cannot disable yourself; ask another admin")
            accounts.set_disabled(session, user.email, disabled, by=who)

        self._run(who, work)

    def set_institutions(
        self, who: Principal, user_uuid: str, institution_uuids: Sequence[str]
    ) -> None:
        """Limit a user to these institutions (none: every institution); their logins
        end, as with the command line's ``set-institutions``."""

        def work(session: Session) -> None:
            _require_unlimited(who, "change a user's institutions")
            user = _user(session, who, user_uuid)
            if user.id == who.user_id:
                raise Forbidden("you cannot change your own institutions; ask another admin")
            accounts.set_institutions(session, user.email, institution_uuids, by=who)

        self._run(who, work)

    # -- groups

    def groups(self, who: Principal) -> tuple[AdminGroup, ...]:
        """The account's groups with their members and how many orders each has."""

        assigned = self._run(who, lambda s: accounts.group_assignments(s, who.account_id))
        listed = DirectoryService(self._db).user_groups(who).user_group_list
        return tuple(
            AdminGroup(
                g.user_group_uuid,
                g.user_group_name,
                g.user_uuid_list,
                assigned.get(g.user_group_uuid, 0),
            )
            for g in listed
        )

    def add_group(self, who: Principal, name: str) -> str:
        name = _name(name, "a group")

        def work(session: Session) -> str:
            group = accounts.add_group(session, _account(session, who), name)
            record_event(session, who, "group.add", detail=f"{name} ({group.uuid})")
            return group.uuid

        return self._run(who, work)

    def rename_group(self, who: Principal, group_uuid: str, name: str) -> None:
        name = _name(name, "a group")

        def work(session: Session) -> None:
            group = _group(session, who, group_uuid)
            before = group.name
            accounts.rename_group(session, group, name)
            record_event(session, who, "group.rename", detail=f"{before} -> {name} ({group.uuid})")

        self._run(who, work)

    def remove_group(self, who: Principal, group_uuid: str) -> None:
        """Delete a group: its members stay users, its orders are assigned to no group."""

        def work(session: Session) -> None:
            group = _group(session, who, group_uuid)
            words = f"{group.name} ({group.uuid})"
            removed = accounts.remove_group(session, group)
            record_event(
                session,
                who,
                "group.remove",
                detail=f"{words}: {removed.members} member(s), "
                f"{removed.assigned_orders} order assignment(s) ended",
            )

        self._run(who, work)

    def set_member(self, who: Principal, group_uuid: str, user_uuid: str, member: bool) -> None:
        """Add a user to a group, or take them out of it (idempotent)."""

        def work(session: Session) -> None:
            group = _group(session, who, group_uuid)
            user = _user(session, who, user_uuid)
            if member:
                accounts.add_to_group(session, group.uuid, user.email)
            else:
                directory_rows.remove_member(session, group.id, user.id)
            action = "group.add_member" if member else "group.remove_member"
            record_event(session, who, action, detail=f"{group.name}: {user.email}")

        self._run(who, work)

    # -- institutions and equipment

    def institutions(self, who: Principal) -> tuple[AdminInstitution, ...]:
        """The institutions the admin sees (all, unless they are limited to some), with
        what refers to each and why it cannot be removed."""

        def work(session: Session) -> tuple[AdminInstitution, ...]:
            rows = directory_rows.institutions(session, who.account_id, who.institution_ids)
            uses = accounts.institution_uses(session, who.account_id)
            out = []
            for row in rows:
                use = uses.get(row.id, accounts.InstitutionUse())
                out.append(
                    AdminInstitution(
                        row.uuid,
                        row.name,
                        row.is_default,
                        use.orders,
                        use.equipment,
                        use.limited_users,
                        accounts.institution_removal_refusal(row, use),
                    )
                )
            return tuple(out)

        return self._run(who, work)

    def add_institution(self, who: Principal, name: str) -> str:
        name = _name(name, "an institution")

        def work(session: Session) -> str:
            account = _account(session, who)
            accounts.check_free_institution_name(session, account.id, name)
            institution = accounts.add_institution(session, account, name)
            record_event(session, who, "institution.add", detail=f"{name} ({institution.uuid})")
            return institution.uuid

        return self._run(who, work)

    def rename_institution(self, who: Principal, institution_uuid: str, name: str) -> None:
        name = _name(name, "an institution")

        def work(session: Session) -> None:
            _require_unlimited(who, "rename institutions")
            institution = _institution(session, who, institution_uuid)
            accounts.check_free_institution_name(session, who.account_id, name, own=institution.id)
            before, institution.name = institution.name, name
            record_event(
                session,
                who,
                "institution.rename",
                detail=f"{before} -> {name} ({institution.uuid})",
            )

        self._run(who, work)

    def set_default_institution(self, who: Principal, institution_uuid: str) -> None:

        def work(session: Session) -> None:
            _require_unlimited(who, "choose the default institution")
            institution = _institution(session, who, institution_uuid)
            accounts.set_default_institution(session, institution)
            record_event(
                session,
                who,
                "institution.set_default",
                detail=f"{institution.name} ({institution.uuid})",
            )

        self._run(who, work)

    def remove_institution(self, who: Principal, institution_uuid: str) -> None:
        """Delete an institution that nothing refers to (409 with the reason otherwise)."""

        def work(session: Session) -> None:
            _require_unlimited(who, "remove institutions")
            institution = _institution(session, who, institution_uuid)
            words = f"{institution.name} ({institution.uuid})"
            accounts.remove_institution(session, institution)
            record_event(session, who, "institution.remove", detail=words)

        self._run(who, work)

    # -- the account's settings

    def settings(self, who: Principal) -> AccountSettings:
        def work(session: Session) -> AccountSettings:
            account = _account(session, who)
            return AccountSettings(account.uuid, account.name, bool(account.dicomweb_enabled))

        return self._run(who, work)

    def set_dicomweb(self, who: Principal, enabled: bool) -> None:
        """Switch the account's DICOMweb root and custom API on or off (``openpacs admin
        set-dicomweb``); the web application's pages stay open either way."""

        def work(session: Session) -> None:
            accounts.set_dicomweb(session, _account(session, who), enabled, by=who)

        self._run(who, work)

    # -- equipment

    def add_equipment(self, who: Principal, new: EquipmentInput) -> str:
        if not new.name.strip():
            raise BadRequest("name: an equipment needs a name")

        def work(session: Session) -> str:
            _institution(session, who, new.institution_uuid)
            equipment = accounts.add_equipment(
                session,
                new.institution_uuid,
                name=new.name.strip(),
                modality=new.modality.strip(),
                ae_title=new.ae_title,
                host=new.host,
                port=new.port,
                check_host=self._check_host,
            )
            record_event(session, who, "equipment.add", detail=_equipment_words(equipment))
            return equipment.uuid

        return self._run(who, work)

    def update_equipment(self, who: Principal, equipment_uuid: str, new: EquipmentInput) -> None:
        if not new.name.strip():
            raise BadRequest("name: an equipment needs a name")

        def work(session: Session) -> None:
            equipment = _equipment(session, who, equipment_uuid)
            institution = _institution(session, who, new.institution_uuid)
            equipment.institution_id = institution.id
            change = accounts.EquipmentChange(
                name=new.name.strip(),
                modality=new.modality.strip(),
                ae_title=new.ae_title,
                host=new.host,
                port=new.port,
                no_port=new.port is None,
            )
            accounts.update_equipment(session, equipment.uuid, change, check_host=self._check_host)
            record_event(session, who, "equipment.update", detail=_equipment_words(equipment))

        self._run(who, work)

    def remove_equipment(self, who: Principal, equipment_uuid: str) -> None:
        def work(session: Session) -> None:
            equipment = _equipment(session, who, equipment_uuid)
            words = _equipment_words(equipment)
            accounts.remove_equipment(session, equipment.uuid)
            record_event(session, who, "equipment.remove", detail=words)

        self._run(who, work)


def _check_strength(password: str) -> None:
    try:
        check_password_strength(password)
    except WeakPassword as exc:
        raise BadRequest(f"password: {exc}") from None


def _name(text: str, noun: str) -> str:
    """A name as stored: spaces collapsed, 1-200 characters (BadRequest otherwise)."""
    name = " ".join(text.split())
    if not name:
        raise BadRequest(f"name: {noun} needs a name")
    if len(name) > NAME_LENGTH:
        raise BadRequest(f"name: at most {NAME_LENGTH} characters, not {len(name)}")
    return name


def _require_unlimited(who: Principal, what: str) -> None:
    """Institutions are managed by admins who see them all: a limited admin could
    otherwise give others (or take away) access they do not have themselves."""
    if who.institution_ids is not None:
        raise Forbidden(
            f"you are limited to some institutions: only an admin with no limit may {what}"
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise BadRequest(f"role: {role!r} is not one of {', '.join(ROLES)}")


def _account(session: Session, who: Principal) -> Account:
    account = session.get(Account, who.account_id)
    if account is None:
        raise NotFound("no such account")
    return account


def _owned(session: Session, who: Principal, model: type[Owned], uuid: str, noun: str) -> Owned:
    """The ``model`` row ``uuid`` of the principal's account (NotFound for another's)."""
    row = directory_rows.owned_row(session, model, who.account_id, uuid)
    if row is None:
        raise NotFound(f"no {noun} {uuid}")
    return row


def _group(session: Session, who: Principal, group_uuid: str) -> UserGroup:
    return _owned(session, who, UserGroup, group_uuid, "group")


def _user(session: Session, who: Principal, user_uuid: str) -> User:
    return _owned(session, who, User, user_uuid, "user")


def _institution(session: Session, who: Principal, institution_uuid: str) -> Institution:
    return _owned(session, who, Institution, institution_uuid, "institution")


def _equipment(session: Session, who: Principal, equipment_uuid: str) -> Equipment:
    return _owned(session, who, Equipment, equipment_uuid, "equipment")


def _equipment_words(equipment: Equipment) -> str:
    where = f" at {equipment.host}:{equipment.port}" if equipment.host and equipment.port else ""
    title = f", AE title {equipment.ae_title}" if equipment.ae_title else ""
    return f"{equipment.name} ({equipment.uuid}){title}{where}"
