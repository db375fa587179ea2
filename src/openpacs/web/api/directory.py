"""Handlers of the discovery endpoints (no parameters; the caller's account only)."""

from __future__ import annotations

from openpacs.services.directory import (
    DirectoryService,
    EquipmentList,
    InstitutionList,
    UserGroupList,
    UserList,
)
from openpacs.web.api.call import ApiCall


def get_institution_list(call: ApiCall) -> InstitutionList:
    return DirectoryService(call.ctx.db).institutions(call.principal)


def get_user_list(call: ApiCall) -> UserList:
    return DirectoryService(call.ctx.db).users(call.principal)


def get_user_group_list(call: ApiCall) -> UserGroupList:
    return DirectoryService(call.ctx.db).user_groups(call.principal)


def get_equipment_list(call: ApiCall) -> EquipmentList:
    return DirectoryService(call.ctx.db).equipment(call.principal)
