"""Handlers of the share endpoints: parameters -> ShareService."""

from __future__ import annotations

from openpacs.services.shares import (
    CreatedShare,
    DeletedShare,
    ShareList,
    ShareOptions,
    ShareService,
)
from openpacs.web.api.call import ApiCall


def _service(call: ApiCall) -> ShareService:
    settings = call.ctx.settings
    return ShareService(call.ctx.db, settings.effective_public_url, settings.timezone)


def create_share_link(call: ApiCall) -> CreatedShare:
    p = call.params
    options = ShareOptions(
        expire_date=p.date("ExpireDate"),
        password=p.text("SharePassword"),
        downloadable=p.flag("Downloadable"),
    )
    return _service(call).share_orders(
        call.principal, p.items("PatientOrderInfoList"), options, "PatientOrderInfoList"
    )


def share_patient_order_with_url(call: ApiCall) -> CreatedShare:
    p = call.params
    options = ShareOptions(
        expire_date=p.date("ExpireDate"),
        password=p.text("SharePassword"),
        downloadable=p.flag("UserCanDownloadStudies"),
    )
    return _service(call).share_orders(
        call.principal, p.items("OrderUuidList"), options, "OrderUuidList"
    )


def share_folder_with_url(call: ApiCall) -> CreatedShare:
    p = call.params
    options = ShareOptions(
        expire_date=p.date("ExpireDate"),
        password=p.text("SharePassword"),
        downloadable=p.flag("UserCanDownloadStudies"),
        title=p.text("ShareTitle"),
        description=p.text("ShareDescription"),
    )
    return _service(call).share_folder(call.principal, p.text("FolderUuid"), options)


def get_share_list(call: ApiCall) -> ShareList:
    return _service(call).list_shares(call.principal)


def delete_share(call: ApiCall) -> DeletedShare:
    return _service(call).delete(call.principal, call.params.text("ShareUuid"))
