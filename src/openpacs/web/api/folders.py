"""Handlers of the folder endpoints: parameters -> FolderService."""

from __future__ import annotations

from openpacs.services.folders import (
    FolderInfo,
    FolderList,
    FolderQuery,
    FolderService,
    OrderFolders,
)
from openpacs.web.api.call import ApiCall


def create_folder(call: ApiCall) -> FolderInfo:
    p = call.params
    return FolderService(call.ctx.db).create(
        call.principal,
        p.text("FolderName"),
        p.text("FolderDescription"),
        p.text("ParentFolderUuid"),
    )


def search_folder(call: ApiCall) -> FolderList:
    p = call.params
    query = FolderQuery(
        parent_folder_uuid=p.text("ParentFolderUuid"),
        folder_name=p.text("FolderName"),
        get_orders_in_folder=p.flag("GetOrdersInFolder"),
    )
    return FolderService(call.ctx.db).search(call.principal, query)


def add_order_to_folder(call: ApiCall) -> OrderFolders:
    p = call.params
    return FolderService(call.ctx.db).add_order(
        call.principal, p.text("PatientOrderUuid"), p.items("FolderUuidList")
    )
