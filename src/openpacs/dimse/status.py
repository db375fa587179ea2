"""DIMSE statuses: the store service's failure codes as C-STORE statuses, and status
data sets with an Error Comment (pure).

The store service names its refusals with the codes STOW-RS reports
(``openpacs.dicom.status``), which reuse the C-STORE statuses of PS3.4 B.2.3 and the
general ones of PS3.7 C: A7xx out of resources, A9xx data set does not match the SOP
class, Cxxx cannot understand, 0110 processing failure, 0111 duplicate SOP instance, 0122
SOP class not supported; B000 coercion of data elements is a warning. They are sent
as they are, except A901 (a STOW code for "not the study of the URL", which a C-STORE
cannot meet), sent as A900.
"""

from __future__ import annotations

from typing import Final

from pydicom.dataset import Dataset

from openpacs.dicom import status

__all__ = [
    "CANCEL",
    "ERROR_COMMENT_LENGTH",
    "IDENTIFIER_DOES_NOT_MATCH",
    "PENDING",
    "PENDING_WARNING",
    "SUCCESS",
    "c_store_status",
    "status_dataset",
]

SUCCESS: Final = 0x0000
PENDING: Final = 0xFF00
#: Pending, but one or more optional keys were not supported for matching (C-FIND).
PENDING_WARNING: Final = 0xFF01
CANCEL: Final = 0xFE00
#: C-FIND/C-MOVE/C-GET: Identifier does not match SOP Class.
IDENTIFIER_DOES_NOT_MATCH: Final = 0xA900
# Error Comment (0000,0902) is an LO: 64 characters at most.
ERROR_COMMENT_LENGTH = 64

_AS_C_STORE = {status.STUDY_UID_MISMATCH: status.DATASET_DOES_NOT_MATCH_SOP_CLASS}


def c_store_status(code: int) -> int:
    """The C-STORE status for a store service outcome code."""
    return _AS_C_STORE.get(code, code)


def status_dataset(code: int, comment: str = "") -> Dataset:
    """A response status with an Error Comment (one line of ASCII, 64 characters at
    most) when ``comment`` is given."""
    answer = Dataset()
    answer.Status = code
    if comment:
        text = " ".join(comment.split()).encode("ascii", "replace").decode("ascii")
        if len(text) > ERROR_COMMENT_LENGTH:
            text = text[: ERROR_COMMENT_LENGTH - 3] + "..."
        answer.ErrorComment = text
    return answer
