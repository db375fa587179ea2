"""In which transfer syntax an instance goes out on C-MOVE/C-GET sub-operations (pure).

Stored instances are sent as they are stored whenever the peer accepted that transfer
syntax for their SOP class. When it did not, they are decoded to an uncompressed syntax
it accepted (Explicit, then Implicit VR Little Endian, ...) when we can produce it; when
no accepted syntax can be produced the sub-operation fails and is counted as such, with
the instance in the Failed SOP Instance UID List: never a silent skip.

For a C-MOVE we propose the sub-association's contexts ourselves: one per (SOP class,
stored syntax) with that syntax alone, so the peer accepts or refuses exactly what we
have, plus one per SOP class with the uncompressed syntaxes to fall back on.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom.presentation import PresentationContext, build_context

__all__ = ["FALLBACK", "MAX_CONTEXTS", "outgoing_syntax", "sub_association_contexts"]

#: The uncompressed syntaxes an instance may be decoded to, in order of preference.
FALLBACK = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
)
#: Presentation contexts one association may propose (IDs 1, 3, ... 255).
MAX_CONTEXTS = 128


def outgoing_syntax(
    sop_class: str,
    stored: str,
    accepted: Iterable[tuple[str, str]],
    *,
    has_pixel_data: bool,
) -> str | None:
    """The syntax to send an instance in, given the (SOP class, syntax) pairs the peer
    accepted; None when there is none we can produce."""
    offered = [ts for cls, ts in accepted if cls == sop_class]
    if stored in offered:
        return stored
    # The transcoder loads at the first instance that needs it, or after the server's
    # first answers (web/warm_up.py), not with the node.
    from openpacs.dicom.transcode import transcode_problem

    for ts in (*FALLBACK, *offered):
        if ts in offered and transcode_problem(stored, ts, has_pixel_data=has_pixel_data) is None:
            return ts
    return None


def sub_association_contexts(pairs: Iterable[tuple[str, str]]) -> list[PresentationContext]:
    """The contexts to propose for sending instances of these (SOP class, stored syntax)
    pairs: the exact pairs first, then a fallback per SOP class (at most 128 in all;
    beyond that the exact pairs of the rarest classes are left to their fallback)."""
    pairs = list(dict.fromkeys(pairs))
    classes = list(dict.fromkeys(cls for cls, _ in pairs))
    exact = [(cls, ts) for cls, ts in pairs if ts not in FALLBACK[:2]]
    room = max(0, MAX_CONTEXTS - len(classes))
    contexts = [build_context(cls, [ts]) for cls, ts in exact[:room]]
    contexts += [build_context(cls, list(FALLBACK[:2])) for cls in classes[:MAX_CONTEXTS]]
    return contexts
