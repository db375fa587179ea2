"""C-STORE SCP: each received instance goes through the store service, as a STOW part.

Same validation, durability (the success status is sent only once the instance is
durable: blob synced, index committed), idempotency (a re-sent instance is a success,
the first copy kept), order linking (a new study's new order is made in the institution
of the sending equipment) and audit (one ``study.store`` per study per association,
``instance.coerce`` per coerced instance) as STOW-RS. Each refusal is answered with its
DIMSE status and an Error Comment; the association goes on.
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import TYPE_CHECKING, cast

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.dimse_primitives import C_STORE

from openpacs.dimse.part10 import part10
from openpacs.dimse.status import c_store_status, status_dataset
from openpacs.services.upload import Upload

if TYPE_CHECKING:
    from openpacs.dimse.node import DicomNode

log = logging.getLogger("openpacs.dimse")

__all__ = ["handle_store"]


def handle_store(node: DicomNode, event: evt.Event) -> Dataset:
    record = node.record(event.assoc)
    request = cast(C_STORE, event.request)
    received = cast(BytesIO, request.DataSet).getvalue()
    request.DataSet = None  # one copy in memory is enough
    data = part10(
        received,
        sop_class_uid=str(request.AffectedSOPClassUID),
        sop_instance_uid=str(request.AffectedSOPInstanceUID),
        transfer_syntax=str(event.context.transfer_syntax),
        source_ae_title=record.ae_title,
    )
    del received
    services = node.services
    outcome = services.store.store(
        record.peer.principal, Upload(data=data), base_url=services.settings.dicomweb_root
    )
    if outcome.stored is not None:
        node.trail.stored(record, outcome.study_instance_uid)
        if outcome.coercion is not None:
            node.trail.event(
                record, "instance.coerce", outcome.coercion.describe(), outcome.study_instance_uid
            )
        warning = outcome.stored.warning_code
        if warning:
            return status_dataset(warning, "stored under derived Study/Series Instance UIDs")
        return status_dataset(0x0000)
    failed = outcome.failed
    assert failed is not None
    log.info(
        "C-STORE of %s from %s refused (0x%04X): %s",
        request.AffectedSOPInstanceUID,
        record.ae_title,
        failed.failure_code,
        failed.reason,
    )
    return status_dataset(c_store_status(failed.failure_code), failed.reason)
