"""The presentation contexts the DICOM node accepts (its conformance, in one place).

Storage: every storage SOP class pynetdicom knows, in every transfer syntax it lists
(uncompressed little and big endian, deflate, JPEG baseline/extended/lossless, JPEG-LS,
JPEG 2000, HTJ2K, RLE, MPEG-2/4, HEVC, JPEG XL, ...): instances are stored as received,
never transcoded on the way in. Both roles are accepted for them, so that a C-GET
requester can take the SCP role and receive its instances on the same association.

Query/retrieve, worklist, verification and storage commitment: the uncompressed little
endian syntaxes (and deflate, big endian), which is what every peer proposes.

Which transfer syntax of a proposed context is accepted: the first one the requestor
lists that we support (:func:`contexts_for`). pynetdicom would pick the first
of *our* list, and no order of ours is right for every peer: a modality sending a JPEG
file proposes [JPEG, Explicit, Implicit] and cannot decompress it, while one proposing
[Explicit, JPEG lossy] for an uncompressed image would compress it lossily if we
preferred JPEG. The requestor's own preference keeps what it has as it is.
"""

from __future__ import annotations

from functools import cache
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
    "contexts_for",
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


#: What a supported context is: its transfer syntaxes and the SCU and SCP roles it is
#: accepted in (None: the default role only).
Supported = tuple[frozenset[str], bool | None, bool | None]

_SERVICES: Final[tuple[str, ...]] = (
    VERIFICATION,
    *FIND_MODELS,
    *MOVE_MODELS,
    *GET_MODELS,
    WORKLIST_FIND,
    STORAGE_COMMITMENT,
)


@cache
def _supported() -> dict[str, Supported]:
    """Abstract syntax -> what is accepted for it. Made from the tables, not from
    pynetdicom's contexts: building 188 of those checks every UID and took 50-90 ms of
    the first association after a restart."""
    storage = frozenset(STORAGE_TRANSFER_SYNTAXES)
    supported: dict[str, Supported] = {uid: (storage, True, True) for uid in STORAGE_CLASSES}
    # A C-GET requester receives its instances as storage SCP: both roles for storage.
    uncompressed = frozenset(UNCOMPRESSED)
    supported.update((uid, (uncompressed, None, None)) for uid in _SERVICES)
    return supported


def supported_contexts() -> list[PresentationContext]:
    """Every context the node accepts, with the roles it accepts them in."""
    contexts = []
    for uid, (syntaxes, scu_role, scp_role) in _supported().items():
        ordered = STORAGE_TRANSFER_SYNTAXES if uid in STORAGE_CLASSES else UNCOMPRESSED
        context = build_context(uid, [ts for ts in ordered if ts in syntaxes])
        context.scu_role, context.scp_role = scu_role, scp_role
        contexts.append(context)
    return contexts


def contexts_for(requested: list[PresentationContext]) -> list[PresentationContext]:
    """The supported contexts to negotiate ``requested`` with: one per proposed abstract
    syntax we support, holding for each proposed context its first transfer syntax we
    support (so negotiation accepts the requestor's own first choice), in its order.

    Made per association from the proposal, they are a handful of small contexts: far
    cheaper than pynetdicom's deep copy of every supported context with every syntax
    (tens of milliseconds per association).
    """
    supported = _supported()
    chosen: dict[str, list[str]] = {}
    for proposal in requested:
        uid = str(proposal.abstract_syntax)
        if uid not in supported:
            continue
        ours = supported[uid][0]
        first = next((str(ts) for ts in proposal.transfer_syntax if str(ts) in ours), None)
        syntaxes = chosen.setdefault(uid, [])
        if first is not None and first not in syntaxes:
            syntaxes.append(first)
    contexts = []
    for uid, syntaxes in chosen.items():
        ours, scu_role, scp_role = supported[uid]
        # None in common: offer them all, so the context is refused for its syntaxes.
        context = build_context(uid, syntaxes or sorted(ours))
        context.scu_role, context.scp_role = scu_role, scp_role
        contexts.append(context)
    return contexts
