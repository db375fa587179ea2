"""C-MOVE and C-GET SCP: the instances an identifier names, sent as C-STORE
sub-operations (pynetdicom runs them and counts the results in its responses).

* C-MOVE: the Move Destination must be an equipment of the requester's account with a
  host and a port, else A801 (Move Destination unknown). We open the sub-association
  ourselves (as ``OPENPACS_AE_TITLE``), proposing each SOP class in its stored transfer
  syntaxes and in the uncompressed ones (``syntax.py``).
* C-GET: the instances go back on the same association, in the storage contexts the
  requester proposed with the SCP role (SCP/SCU role selection).

Each instance is sent in its stored syntax when accepted, else decoded to an accepted
uncompressed one; one that cannot be sent at all is a failed sub-operation (listed in
Failed SOP Instance UID List), never skipped. A C-CANCEL stops between two instances
(FE00). One audit event per study (``study.move`` / ``study.get``) gives the peer, the
destination and the sub-operation counts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_MOVE

from openpacs.dimse.contexts import GET_MODELS, MOVE_MODELS
from openpacs.dimse.identifier import FindError, RetrieveRequest, parse_retrieve_identifier
from openpacs.dimse.status import CANCEL, PENDING, status_dataset
from openpacs.dimse.syntax import outgoing_syntax, sub_association_contexts
from openpacs.dimse.tcp import no_delay_on_open
from openpacs.dimse.trail import AssociationRecord, SubOperations
from openpacs.services.dicom_retrieve import (
    NotSendable,
    instances_to_retrieve,
    outgoing_dataset,
)
from openpacs.services.errors import StoredFileError
from openpacs.services.peers import find_destination
from openpacs.services.retrieve import InstanceRef

if TYPE_CHECKING:
    from openpacs.dimse.node import DicomNode

log = logging.getLogger("openpacs.dimse")

__all__ = ["handle_get", "handle_move", "store_response_received"]


def handle_move(node: DicomNode, event: evt.Event) -> Iterator[Any]:
    record = node.record(event.assoc)
    model = MOVE_MODELS[str(event.request.AffectedSOPClassUID)]
    request_primitive = cast(C_MOVE, event.request)
    destination_title = str(request_primitive.MoveDestination or "").strip()
    destination = find_destination(
        node.services.db, record.peer.principal.account_id, destination_title
    )
    if destination is None:
        detail = f"C-MOVE to unknown destination {destination_title!r}"
        node.trail.event(record, "dicom.move", detail)
        yield None, None  # A801 Move Destination unknown
        return
    try:
        request = parse_retrieve_identifier(event.identifier, model)
    except FindError as exc:
        node.trail.event(record, "dicom.move", f"C-MOVE refused: {exc.reason}")
        # pynetdicom takes a failure only once the sub-association is open.
        yield destination.host, destination.port
        yield 1
        yield status_dataset(exc.status, exc.reason), None
        return
    refs = _instances(node, record, request)
    counts = SubOperations()
    store_assoc: list[Association] = []

    def established(sub: evt.Event) -> None:
        store_assoc.append(sub.assoc)

    def received(sub: evt.Event) -> None:
        message = sub.message
        if type(message).__name__ == "C_STORE_RSP":
            counts.response(int(message.command_set.Status))

    contexts = sub_association_contexts((r.sop_class_uid, r.transfer_syntax_uid) for r in refs)
    handlers = [
        (evt.EVT_CONN_OPEN, no_delay_on_open),
        (evt.EVT_ESTABLISHED, established),
        (evt.EVT_DIMSE_RECV, received),
    ]
    yield destination.host, destination.port, {"contexts": contexts, "evt_handlers": handlers}
    yield len(refs)
    accepted = _accepted(store_assoc[0]) if store_assoc else []
    yield from _send(node, event, refs, accepted, counts)
    where = f"to {destination_title} ({destination.host}:{destination.port})"
    _audit(node, record, "study.move", refs, f"C-MOVE {where}", counts)


def handle_get(node: DicomNode, event: evt.Event) -> Iterator[Any]:
    record = node.record(event.assoc)
    model = GET_MODELS[str(event.request.AffectedSOPClassUID)]
    try:
        request = parse_retrieve_identifier(event.identifier, model)
    except FindError as exc:
        node.trail.event(record, "dicom.get", f"C-GET refused: {exc.reason}")
        yield 1  # pynetdicom takes a failure status only once sub-operations are counted
        yield status_dataset(exc.status, exc.reason), None
        return
    refs = _instances(node, record, request)
    counts = SubOperations()
    record.sub_operations = counts
    try:
        yield len(refs)
        accepted = [(cls, ts) for cls, ts, as_scu in _roles(event.assoc) if as_scu]
        yield from _send(node, event, refs, accepted, counts)
    finally:
        record.sub_operations = None
    _audit(node, record, "study.get", refs, "C-GET", counts)


def store_response_received(node: DicomNode, event: evt.Event) -> None:
    """EVT_DIMSE_RECV on the node's associations: C-STORE responses of a running C-GET."""
    if type(event.message).__name__ != "C_STORE_RSP":
        return
    record = node.find_record(event.assoc)
    if record is not None and record.sub_operations is not None:
        record.sub_operations.response(int(event.message.command_set.Status))


def _instances(
    node: DicomNode, record: AssociationRecord, request: RetrieveRequest
) -> list[InstanceRef]:
    return instances_to_retrieve(
        node.services.db,
        record.peer.principal,
        base_url=node.services.settings.dicomweb_root,
        patient_ids=request.patient_ids,
        study_uids=request.study_uids,
        series_uids=request.series_uids,
        sop_uids=request.sop_uids,
    )


def _send(
    node: DicomNode,
    event: evt.Event,
    refs: list[InstanceRef],
    accepted: list[tuple[str, str]],
    counts: SubOperations,
) -> Iterator[tuple[int, Dataset]]:
    for ref in refs:
        if event.is_cancelled:
            yield CANCEL, Dataset()
            return
        counts.per_study[ref.study_uid] += 1
        yield PENDING, _dataset(node, ref, accepted)


def _dataset(node: DicomNode, ref: InstanceRef, accepted: list[tuple[str, str]]) -> Dataset:
    """The instance ready to send, or (when it cannot be) a data set that pynetdicom
    cannot send: its sub-operation then fails and names the instance."""
    syntax = outgoing_syntax(
        ref.sop_class_uid, ref.transfer_syntax_uid, accepted, has_pixel_data=ref.has_pixel_data
    )
    reason = "the peer accepted no transfer syntax we can produce for its SOP class"
    if syntax is not None:
        try:
            return outgoing_dataset(node.services.blobs, ref, syntax)
        except (NotSendable, StoredFileError) as exc:
            reason = str(exc)
        except Exception as exc:  # a damaged file: this instance fails, the others go on
            log.exception("cannot read instance %s", ref.sop_uid)
            reason = str(exc)
    log.warning("instance %s not sent: %s", ref.sop_uid, reason)
    unsendable = Dataset()  # no File Meta: pynetdicom's send fails, counting it failed
    unsendable.SOPClassUID = ref.sop_class_uid
    unsendable.SOPInstanceUID = ref.sop_uid
    return unsendable


def _accepted(assoc: Association) -> list[tuple[str, str]]:
    return [(str(c.abstract_syntax), str(c.transfer_syntax[0])) for c in assoc.accepted_contexts]


def _roles(assoc: Association) -> Iterable[tuple[str, str, bool]]:
    for cx in assoc.accepted_contexts:
        yield str(cx.abstract_syntax), str(cx.transfer_syntax[0]), bool(cx.as_scu)


def _audit(
    node: DicomNode,
    record: AssociationRecord,
    action: str,
    refs: list[InstanceRef],
    what: str,
    counts: SubOperations,
) -> None:
    studies = list(dict.fromkeys(ref.study_uid for ref in refs))
    for study in studies:
        sent = counts.per_study[study]
        detail = f"{what}: {sent} instance(s) of this study sent; in all {counts.describe()}"
        node.trail.event(record, action, detail, study)
    if not studies:
        node.trail.event(record, action, f"{what}: nothing matched")
