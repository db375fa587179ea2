"""The presentation contexts the DICOM node accepts (its conformance, in one place).

Storage: every storage SOP class pynetdicom knows, in every transfer syntax it lists
(uncompressed little and big endian, deflate, JPEG baseline/extended/lossless, JPEG-LS,
JPEG 2000, HTJ2K, RLE, MPEG-2/4, HEVC, JPEG XL, ...): instances are stored as received,
never transcoded on the way in. Both roles are accepted for them, so that a C-GET
requester can take the SCP role and receive its instances on the same association.

Query/retrieve, worklist, verification and storage commitment: the uncompressed little
endian syntaxes (and deflate, big endian), which is what every peer proposes.
"""

from __future__ import annotations

from typing import Final

from pydicom.uid import (
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
#: Every storage SOP class pynetdicom knows (UID -> keyword).
STORAGE_CLASSES: Final[dict[str, str]] = {
    str(uid): name for name, uid in sorted(sop_class._STORAGE_CLASSES.items())
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
