"""Storage Commitment Push Model SCP (PS3.4 J): N-ACTION in, N-EVENT-REPORT out.

The N-ACTION (Request Storage Commitment, action type 1) names a Transaction UID and
the instances the modality wants committed; it is answered at once (success: the
request is taken), and the result follows as an N-EVENT-REPORT (event type 1: all
committed, 2: some failed) built from ``services/commitment.py``:

* on the same association when the modality keeps it open (it waits for the report):
  once the N-ACTION response has gone out we give the modality :data:`RELEASE_GRACE`
  seconds to release, and if it has not, the report goes on that association;
* otherwise on a new association to the equipment's host and port, with the modality
  AE title as the called one and us in the SCP role (SCP/SCU role selection), as the
  modality asks by releasing the association right after the response. (Sending on an
  association the peer is releasing would break its release.)

A report that cannot be delivered either way is logged and audited (the modality asks
again). One ``dicom.commit`` audit event per transaction gives the counts and the way.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, cast

from pydicom.dataset import Dataset
from pynetdicom import build_context, build_role, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import N_ACTION

from openpacs.dicom.status import is_failure
from openpacs.dimse.contexts import STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE
from openpacs.dimse.status import status_dataset
from openpacs.dimse.tcp import no_delay_on_open
from openpacs.dimse.trail import AssociationRecord
from openpacs.services.commitment import Commitment, commit
from openpacs.services.peers import destination_of

if TYPE_CHECKING:
    from openpacs.dimse.node import DicomNode

log = logging.getLogger("openpacs.dimse")

__all__ = ["handle_commitment_request", "report_dataset", "send_pending_report"]

REQUEST_STORAGE_COMMITMENT = 1
ALL_COMMITTED = 1
SOME_FAILED = 2
# N-ACTION statuses (PS3.7 C.4.1 / PS3.4 J.3.2.1.1.2)
NO_SUCH_ACTION_TYPE = 0x0123
INVALID_ARGUMENT = 0x0115
NO_SUCH_SOP_INSTANCE = 0x0112
#: Seconds a modality has to release the association after the N-ACTION response, if
#: it wants the report on a new one.
RELEASE_GRACE = 0.5


def handle_commitment_request(node: DicomNode, event: evt.Event) -> tuple[Any, Dataset | None]:
    record = node.record(event.assoc)
    request = cast(N_ACTION, event.request)
    if request.ActionTypeID != REQUEST_STORAGE_COMMITMENT:
        return status_dataset(NO_SUCH_ACTION_TYPE, "only action type 1 is supported"), None
    if str(request.RequestedSOPInstanceUID) != STORAGE_COMMITMENT_INSTANCE:
        return status_dataset(NO_SUCH_SOP_INSTANCE, "not the well-known instance"), None
    information = event.action_information
    transaction = str(information.get("TransactionUID", "") or "")
    references = [
        (str(item.get("ReferencedSOPClassUID", "")), str(item.get("ReferencedSOPInstanceUID", "")))
        for item in information.get("ReferencedSOPSequence", [])
    ]
    if not transaction or not references:
        reason = "Transaction UID and Referenced SOP Sequence are required"
        return status_dataset(INVALID_ARGUMENT, reason), None
    result = commit(node.services.db, record.peer.principal, references)
    record.pending_reports.append((transaction, result))
    return 0x0000, None


def report_dataset(transaction: str, result: Commitment, ae_title: str) -> tuple[int, Dataset]:
    """(event type, event information) of the N-EVENT-REPORT for a transaction."""
    ds = Dataset()
    ds.TransactionUID = transaction
    if result.committed:
        ds.RetrieveAETitle = ae_title
        ds.ReferencedSOPSequence = [_reference(cls, uid) for cls, uid in result.committed]
    if result.failed:
        failed = []
        for cls, uid, reason in result.failed:
            item = _reference(cls, uid)
            item.FailureReason = reason
            failed.append(item)
        ds.FailedSOPSequence = failed
    return (SOME_FAILED if result.failed else ALL_COMMITTED), ds


def _reference(sop_class: str, sop_instance: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item


def send_pending_report(node: DicomNode, event: evt.Event) -> None:
    """EVT_DIMSE_SENT: once an N-ACTION response has gone out, report in a thread (the
    association's own thread must go back to reading the modality's messages)."""
    if type(event.message).__name__ != "N_ACTION_RSP":
        return
    record = node.find_record(event.assoc)
    if record is None or not record.pending_reports:
        return
    transaction, result = record.pending_reports.pop(0)
    threading.Thread(
        target=_deliver,
        args=(node, event.assoc, record, transaction, result),
        name="openpacs-commitment-report",
        daemon=True,
    ).start()


def _deliver(
    node: DicomNode,
    assoc: Association,
    record: AssociationRecord,
    transaction: str,
    result: Commitment,
) -> None:
    event_type, information = report_dataset(transaction, result, node.ae_title)
    how = "same association"
    assoc.join(RELEASE_GRACE)  # returns at once when the modality releases
    delivered = assoc.is_established and _send(assoc, event_type, information)
    if not delivered:
        how = "new association"
        delivered = _send_anew(node, record, event_type, information)
    counts = f"{len(result.committed)} committed, {len(result.failed)} failed"
    if delivered:
        detail = f"storage commitment {transaction}: {counts}; reported on the {how}"
    else:
        detail = f"storage commitment {transaction}: {counts}; the report could not be delivered"
        log.warning("storage commitment report for %s not delivered", record.ae_title)
    node.trail.event(record, "dicom.commit", detail)


def _send(assoc: Association, event_type: int, information: Dataset) -> bool:
    try:
        status, _ = assoc.send_n_event_report(
            information, event_type, STORAGE_COMMITMENT, STORAGE_COMMITMENT_INSTANCE
        )
    except (RuntimeError, ValueError) as exc:
        log.info("storage commitment report not sent on the association: %s", exc)
        return False
    return "Status" in status and not is_failure(int(status.Status))


def _send_anew(
    node: DicomNode, record: AssociationRecord, event_type: int, information: Dataset
) -> bool:
    equipment = record.peer.principal.equipment_id
    destination = None if equipment is None else destination_of(node.services.db, equipment)
    if destination is None:
        log.warning("equipment %s has no host and port for its commitment report", record.ae_title)
        return False
    assoc = node.associate(
        destination.host,
        destination.port,
        ae_title=destination.ae_title,
        contexts=[build_context(STORAGE_COMMITMENT)],
        ext_neg=[build_role(STORAGE_COMMITMENT, scu_role=False, scp_role=True)],
        evt_handlers=[(evt.EVT_CONN_OPEN, no_delay_on_open)],
    )
    if not assoc.is_established:
        return False
    try:
        return _send(assoc, event_type, information)
    finally:
        assoc.release()
