"""The presentation contexts the DICOM node accepts (its conformance, in one place).

Storage: every storage SOP class pynetdicom knows, in every transfer syntax it lists
(uncompressed little and big endian, deflate, JPEG baseline/extended/lossless, JPEG-LS,
JPEG 2000, HTJ2K, RLE, MPEG-2/4, HEVC, JPEG XL, ...): instances are stored as received,
never transcoded on the way in. Both roles are accepted for them, so that a C-GET
requester can take the SCP role and receive its instances on the same association.

Query/retrieve, worklist, verification and storage commitment: the uncompressed little
endian syntaxes (and deflate, big endian), which is what every peer proposes.

Which transfer syntax of a proposed context is accepted: the first one the requestor
lists that we support (:func:`prefer_requested_order`). pynetdicom would pick the first
of *our* list, and no order of ours is right for every peer: a modality sending a JPEG
file proposes [JPEG, Explicit, Implicit] and cannot decompress it, while one proposing
[Explicit, JPEG lossy] for an uncompressed image would compress it lossily if we
preferred JPEG. The requestor's own preference keeps what it has as it is.
"""

from __future__ import annotations

from typing import Final

from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import ALL_TRANSFER_SYNTAXES, sop_class
from pynetdicom.presentation import PresentationContext, build_context

__all__ = [
    "FIND_MODELS",
    "GET_MODELS",
    "MOVE_MODELS",
    "STORAGE_CLASSES",
    "STORAGE_TRANSFER_SYNTAXES",
    "UNCOMPRESSED",
    "prefer_requested_order",
    "supported_contexts",
]

#: Transfer syntaxes offered for every non-storage service.
UNCOMPRESSED: Final[tuple[str, ...]] = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
)
STORAGE_TRANSFER_SYNTAXES: Final[tuple[str, ...]] = tuple(ALL_TRANSFER_SYNTAXES)
#: Every storage SOP class pynetdicom knows, the non-patient ones (colour palettes,
#: hanging protocols, ...) too (UID -> keyword).
STORAGE_CLASSES: Final[dict[str, str]] = {
    str(uid): name
    for name, uid in sorted(
        {**sop_class._STORAGE_CLASSES, **sop_class._NON_PATIENT_OBJECT_CLASSES}.items()
    )
}

PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"  # Patient Root Q/R Information Model - FIND
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"  # Study Root Q/R Information Model - FIND
PATIENT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
PATIENT_GET = "1.2.840.10008.5.1.4.1.2.1.3"
STUDY_GET = "1.2.840.10008.5.1.4.1.2.2.3"
WORKLIST_FIND = "1.2.840.10008.5.1.4.31"  # Modality Worklist Information Model - FIND
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"  # Storage Commitment Push Model SOP Class
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"  # its well-known SOP Instance
VERIFICATION = "1.2.840.10008.1.1"

#: Information model SOP class -> "patient" or "study" (its root).
FIND_MODELS: Final[dict[str, str]] = {PATIENT_FIND: "patient", STUDY_FIND: "study"}
MOVE_MODELS: Final[dict[str, str]] = {PATIENT_MOVE: "patient", STUDY_MOVE: "study"}
GET_MODELS: Final[dict[str, str]] = {PATIENT_GET: "patient", STUDY_GET: "study"}


def supported_contexts() -> list[PresentationContext]:
    """Every context the node accepts, with the roles it accepts them in."""
    contexts: list[PresentationContext] = []
    for uid in STORAGE_CLASSES:
        context = build_context(uid, list(STORAGE_TRANSFER_SYNTAXES))
        context.scu_role = True
        context.scp_role = True  # a C-GET requester receives as storage SCP
        contexts.append(context)
    services = (
        VERIFICATION,
        *FIND_MODELS,
        *MOVE_MODELS,
        *GET_MODELS,
        WORKLIST_FIND,
        STORAGE_COMMITMENT,
    )
    contexts += [build_context(uid, list(UNCOMPRESSED)) for uid in services]
    return contexts


def prefer_requested_order(
    supported: list[PresentationContext], requested: list[PresentationContext]
) -> None:
    """Put the transfer syntaxes of each supported context in the order the requestor
    proposed them (those it did not propose after), so that negotiation accepts its
    first choice among ours. Changes ``supported`` (an association's own copy)."""
    ours = {str(context.abstract_syntax): context for context in supported}
    for proposal in requested:
        context = ours.get(str(proposal.abstract_syntax))
        if context is None:
            continue
        offered = list(context.transfer_syntax)
        first = [ts for ts in proposal.transfer_syntax if ts in offered]
        if first:
            ordered: list[str | bytes | UID] = [*first, *(ts for ts in offered if ts not in first)]
            context.transfer_syntax = ordered
