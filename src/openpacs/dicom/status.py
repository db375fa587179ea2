"""DICOM status codes used as STOW-RS Failure / Warning Reasons (and, later, C-STORE statuses).

They live in ``dicom/`` because they are DICOM's (PS3.7), not the web's: the ingest
parser raises them, STOW-RS reports them and a C-STORE SCP will answer with them.

Failure Reason (0008,1197) values come from PS3.18 Annex I, Table I.2-2 "Store Instances
Response Failure Reason Values"; they reuse the C-STORE statuses of PS3.4 Table B.2-1
(A7xx, A9xx, Cxxx ranges) and the general statuses of PS3.7 Annex C (0110, 0122, C122).
"Additional codes may be used ... In the event that multiple codes may apply, the single
most appropriate code shall be used." Warning Reason (0008,1196) values come from
Table I.2-1.

Which code we use for what (decided here, relied upon by the STOW response builder):

* ``PROCESSING_FAILURE`` - our fault or the environment's: an I/O error while reading
  the spooled upload, an unexpected server-side error.
* ``CANNOT_UNDERSTAND`` - the bytes are not a parseable DICOM Part-10 file: no preamble /
  ``DICM`` / File Meta Information, a truncated file (a value or encapsulated fragment
  runs past the end), a malformed element, or an unparseable value in an attribute we
  must interpret (e.g. Number of Frames ``1A``).
* ``DATASET_DOES_NOT_MATCH_SOP_CLASS`` - parseable, but a Type 1 attribute we rely on is
  missing or invalid (Study/Series/SOP Instance UID, SOP Class UID, Rows/Columns for an
  image), a UID is not a valid UID, or Pixel Data is shorter than the image needs.
* ``STUDY_UID_MISMATCH`` - the instance's Study Instance UID differs from the study in
  the request URL (``POST /studies/{study}``). PS3.18 has no dedicated code for this; we
  use an implementation-specific code of the A9xx range, as microsoft/dicom-server does
  (43265), so the response builder can tell it apart (PS3.18 10.5.3 suggests HTTP 409
  Conflict for "Study Instance UID mismatch").
* ``SOP_CLASS_NOT_SUPPORTED`` - a SOP Class we refuse to store, e.g. a DICOMDIR (Media
  Storage Directory Storage), which is a file-set index, not a composite instance.
* ``TRANSFER_SYNTAX_NOT_SUPPORTED`` - a Transfer Syntax UID that is not a registered
  DICOM Transfer Syntax (e.g. a private one we cannot parse).
* ``OUT_OF_RESOURCES`` - storage full, quota exceeded, memory exhausted.
* ``DUPLICATE_SOP_INSTANCE`` - reserved for the store service when it refuses to replace
  an existing instance (PS3.7 C.5: 0111 Duplicate SOP Instance).
* ``NOT_AUTHORIZED`` - the caller may not store this instance: a user limited to some
  institutions sending images of a study whose order is in another institution, or a
  caller without the write permission (PS3.7 C.5: 0124 Refused: Not Authorized).
"""

from __future__ import annotations

from typing import Final

SUCCESS: Final = 0x0000

# --- Failure Reason (0008,1197), PS3.18 Table I.2-2 -----------------------------------
#: 0110 Processing failure: a general failure in processing the operation.
PROCESSING_FAILURE: Final = 0x0110
#: 0111 Duplicate SOP Instance (PS3.7 Annex C general status).
DUPLICATE_SOP_INSTANCE: Final = 0x0111
#: 0122 Referenced SOP Class not supported.
SOP_CLASS_NOT_SUPPORTED: Final = 0x0122
#: 0124 Refused: Not Authorized (PS3.7 Annex C general status).
NOT_AUTHORIZED: Final = 0x0124
#: A700 (A7xx) Refused: Out of Resources.
OUT_OF_RESOURCES: Final = 0xA700
#: A900 (A9xx) Error: Data Set does not match SOP Class.
DATASET_DOES_NOT_MATCH_SOP_CLASS: Final = 0xA900
#: A901: implementation-specific A9xx code: Study Instance UID differs from the URL's.
STUDY_UID_MISMATCH: Final = 0xA901
#: C000 (Cxxx) Error: Cannot understand.
CANNOT_UNDERSTAND: Final = 0xC000
#: C122 Referenced Transfer Syntax not supported.
TRANSFER_SYNTAX_NOT_SUPPORTED: Final = 0xC122

# --- Warning Reason (0008,1196), PS3.18 Table I.2-1 -----------------------------------
#: B000 Coercion of Data Elements.
COERCION_OF_DATA_ELEMENTS: Final = 0xB000


def is_warning(code: int) -> bool:
    """True for warning statuses (PS3.7 C.1: Bxxx, 0001, 0107 and 0116)."""
    return 0xB000 <= code <= 0xBFFF or code in (0x0001, 0x0107, 0x0116)


def is_failure(code: int) -> bool:
    """True for failure statuses (anything that is neither success, pending nor warning)."""
    return code != SUCCESS and code not in (0xFF00, 0xFF01) and not is_warning(code)
