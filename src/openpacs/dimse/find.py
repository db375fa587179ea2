"""C-FIND SCP (Patient Root, Study Root): identifier -> QIDO query -> pending responses.

The identifier is parsed into the QIDO query model (``identifier.py``), matched by the
search service (``services/find.py``: the same index, SQL and rules as QIDO-RS) and
each match sent back as a response identifier with exactly the requested keys. A
C-CANCEL stops the search between two matches (status FE00). One ``dicom.find`` audit
event per request names the level, the model, the keys with values and the count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset
from pynetdicom import evt

from openpacs.dimse.contexts import FIND_MODELS
from openpacs.dimse.identifier import FindError, parse_identifier, response_identifier
from openpacs.dimse.status import CANCEL, PENDING, PENDING_WARNING, status_dataset
from openpacs.services.find import find_matches

if TYPE_CHECKING:
    from openpacs.dimse.node import DicomNode

log = logging.getLogger("openpacs.dimse")

__all__ = ["handle_find", "matching_summary"]


def handle_find(node: DicomNode, event: evt.Event) -> Iterator[tuple[Any, Dataset | None]]:
    record = node.record(event.assoc)
    model = FIND_MODELS[str(event.request.AffectedSOPClassUID)]
    identifier = event.identifier
    try:
        request = parse_identifier(identifier, model)
    except FindError as exc:
        node.trail.event(record, "dicom.find", f"C-FIND refused: {exc.reason}")
        yield status_dataset(exc.status, exc.reason), None
        return
    services = node.services
    matches = find_matches(
        services.db,
        record.peer.principal,
        request.query,
        base_url=services.settings.dicomweb_root,
        patients=request.level == "PATIENT",
        cancelled=lambda: bool(event.is_cancelled),
    )
    pending = PENDING_WARNING if request.partial else PENDING
    count = 0
    outcome = "matched"
    for match in matches:
        if event.is_cancelled:
            outcome = "cancelled after"
            break
        answer = response_identifier(match.item, request, ae_title=node.ae_title,
                                     extra=match.computed)  # fmt: skip
        count += 1
        yield pending, answer
    if event.is_cancelled:
        outcome = "cancelled after"
        yield CANCEL, None
    detail = (
        f"C-FIND {request.level} ({model} root) {outcome} {count}: {matching_summary(identifier)}"
    )
    node.trail.event(record, "dicom.find", detail)


def matching_summary(identifier: Dataset) -> str:
    """The keys with values of an identifier, for the audit trail (cut to 300 chars)."""
    parts = [
        f"{element.keyword or element.tag}={element.value}"
        for element in identifier
        if element.VR != "SQ" and not element.is_empty and element.keyword != "QueryRetrieveLevel"
    ]
    text = " ".join(parts) or "(all)"
    return text if len(text) <= 300 else text[:297] + "..."
