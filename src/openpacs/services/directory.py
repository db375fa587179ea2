"""Discovery lists: the institutions, users, groups and equipment of the caller's account.

They give an API user the UUIDs the other endpoints need. Ordered by name, then id.
Every role may read them (a reader needs the institution of an order assigned to
them); a user limited to some institutions sees only those, and their equipment.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpacs.index import directory_rows
from openpacs.index.db import Database
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal


@dataclass(frozen=True)
class InstitutionInfo:
    institution_uuid: str
    institution_name: str
    is_default: bool


@dataclass(frozen=True)
class UserInfo:
    user_uuid: str
    email: str
    display_name: str
    role: str


@dataclass(frozen=True)
class UserGroupInfo:
    user_group_uuid: str
    user_group_name: str
    user_uuid_list: tuple[str, ...]


@dataclass(frozen=True)
class EquipmentInfo:
    equipment_uuid: str
    equipment_name: str
    modality: str
    ae_title: str
    # Where it listens for DICOM associations ("" and None when it does not).
    host: str
    port: int | None
    institution_uuid: str


@dataclass(frozen=True)
class InstitutionList:
    institution_list: tuple[InstitutionInfo, ...]


@dataclass(frozen=True)
class UserList:
    user_list: tuple[UserInfo, ...]


@dataclass(frozen=True)
class UserGroupList:
    user_group_list: tuple[UserGroupInfo, ...]


@dataclass(frozen=True)
class EquipmentList:
    equipment_list: tuple[EquipmentInfo, ...]


class DirectoryService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def institutions(self, who: Principal) -> InstitutionList:
        require(who, Action.READ)
        with self._db.session() as session:
            rows = directory_rows.institutions(session, who.account_id, who.institution_ids)
            return InstitutionList(
                tuple(InstitutionInfo(i.uuid, i.name, i.is_default) for i in rows)
            )

    def users(self, who: Principal) -> UserList:
        require(who, Action.READ)
        with self._db.session() as session:
            rows = directory_rows.users(session, who.account_id)
            return UserList(tuple(UserInfo(u.uuid, u.email, u.display_name, u.role) for u in rows))

    def user_groups(self, who: Principal) -> UserGroupList:
        require(who, Action.READ)
        with self._db.session() as session:
            groups = directory_rows.groups_with_members(session, who.account_id)
            return UserGroupList(
                tuple(UserGroupInfo(g.uuid, g.name, tuple(members)) for g, members in groups)
            )

    def equipment(self, who: Principal) -> EquipmentList:
        require(who, Action.READ)
        with self._db.session() as session:
            rows = directory_rows.equipment(session, who.account_id, who.institution_ids)
            return EquipmentList(
                tuple(
                    EquipmentInfo(
                        e.uuid, e.name, e.modality, e.ae_title, e.host, e.port, institution_uuid
                    )
                    for e, institution_uuid in rows
                )
            )
