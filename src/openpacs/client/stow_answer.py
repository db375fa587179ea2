"""Reading a STOW-RS answer (PS3.18 Annex I, DICOM JSON) back onto the files sent.

Standard attributes: ReferencedSOPSequence items (stored, with an optional Warning
Reason) and FailedSOPSequence items (Failure Reason, and the readable Error Comment
``(0000,0902)`` many servers add, at most 64 characters: an LO value).

openpacs extensions, read when present and ignored otherwise, in a private block of
each item whose Private Creator ``(gggg,00xx)`` is ``OPENPACS`` (any odd group, any
block): ``(gggg,xx01)`` UT, the whole readable reason of a failure or warning; and
``(gggg,xx02)`` CS ``ALREADY_STORED`` on an instance that was stored before; and
``(gggg,xx03)`` UL, the 1-based position of the item's part in the request. Answers are
mapped to the files by that position: a SOP Instance UID cannot tell apart two files of
one instance, nor name a part the server could not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpacs.client.local_files import LocalFile
from openpacs.client.results import FileResult, UploadStatus
from openpacs.protocol.stow_response import (
    ERROR_COMMENT,
    FAILED_SOP_SEQUENCE,
    FAILURE_REASON,
    REFERENCED_SOP_INSTANCE_UID,
    REFERENCED_SOP_SEQUENCE,
    WARNING_REASON,
)

PRIVATE_CREATOR = "OPENPACS"
DETAIL_ELEMENT = 0x01  # UT: the whole readable reason
STATE_ELEMENT = 0x02  # CS: ALREADY_STORED
PART_ELEMENT = 0x03  # UL: the item's part, 1-based
ALREADY_STORED = "ALREADY_STORED"

# PS3.4 Annex B / PS3.18 Annex I codes, for readable messages.
FAILURE_TEXT = {
    0x0110: "processing failure",
    0x0111: "already stored elsewhere",
    0x0122: "SOP class not supported",
    0x0124: "not authorised",
    0xA700: "out of resources",
    0xA770: "out of resources",
    0xA900: "data set does not match SOP class",
    0xA901: "study instance UID mismatch",
    0xB000: "coercion of data elements",
    0xB006: "elements discarded",
    0xB007: "data set does not match SOP class (warning)",
    0xC000: "cannot understand",
    0xC122: "referenced transfer syntax not supported",
    0xC409: "study instance UID mismatch",
}


def first_value(item: dict[str, Any], tag: str) -> Any:
    element = item.get(tag)
    if isinstance(element, dict):
        values = element.get("Value")
        if isinstance(values, list) and values:
            return values[0]
    return None


def sequence_items(data: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    element = data.get(tag)
    if isinstance(element, dict) and isinstance(element.get("Value"), list):
        return [item for item in element["Value"] if isinstance(item, dict)]
    return []


def private_value(item: dict[str, Any], element: int, creator: str = PRIVATE_CREATOR) -> Any:
    """The value of ``element`` in the private block that ``creator`` reserved in ``item``."""
    for tag in item:
        if len(tag) != 8 or not _is_creator_tag(tag):
            continue
        if str(first_value(item, tag) or "").strip() != creator:
            continue
        block = int(tag[6:8], 16)
        return first_value(item, f"{tag[:4]}{block:02X}{element:02X}".upper())
    return None


def _is_creator_tag(tag: str) -> bool:
    try:
        group, elem = int(tag[:4], 16), int(tag[4:], 16)
    except ValueError:
        return False
    return group % 2 == 1 and 0x10 <= elem <= 0xFF


def failure_text(code: int | None, comment: str) -> str:
    known = FAILURE_TEXT.get(code, "") if code is not None else ""
    label = f"0x{code:04X}" + (f" {known}" if known else "") if code is not None else ""
    comment = " ".join(comment.split())
    if comment and label:
        return f"{comment} ({label})"
    return comment or label or "failed (no reason given)"


def _reason(item: dict[str, Any], code: int | None) -> str:
    detail = private_value(item, DETAIL_ELEMENT)
    comment = (
        detail if isinstance(detail, str) and detail.strip() else first_value(item, ERROR_COMMENT)
    )
    return failure_text(code, str(comment or ""))


def _stored_status(item: dict[str, Any]) -> UploadStatus:
    state = private_value(item, STATE_ELEMENT)
    return "already_stored" if str(state or "").strip() == ALREADY_STORED else "stored"


def _code(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class _Answer:
    """One item of the answer, read."""

    part: int | None  # 1-based; None from a server without the extension
    uid: str
    status: UploadStatus
    reason: str
    failure_code: int | None = None
    warning_code: int | None = None

    def result(self, local: LocalFile) -> FileResult:
        return FileResult(
            local.path,
            self.status,
            local.sop_instance_uid,
            local.size,
            self.reason,
            self.failure_code,
            self.warning_code,
        )


def _answers(data: dict[str, Any]) -> list[_Answer]:
    out = []
    for item in sequence_items(data, REFERENCED_SOP_SEQUENCE):
        warning = _code(first_value(item, WARNING_REASON))
        reason = _reason(item, warning) if warning is not None else ""
        uid = str(first_value(item, REFERENCED_SOP_INSTANCE_UID) or "")
        out.append(_Answer(_part(item), uid, _stored_status(item), reason, None, warning))
    for item in sequence_items(data, FAILED_SOP_SEQUENCE):
        code = _code(first_value(item, FAILURE_REASON))
        uid = str(first_value(item, REFERENCED_SOP_INSTANCE_UID) or "")
        out.append(_Answer(_part(item), uid, "failed", _reason(item, code), code))
    return out


def _part(item: dict[str, Any]) -> int | None:
    return _code(private_value(item, PART_ELEMENT))


def results_from_answer(
    batch: Sequence[LocalFile], data: Any, fallback_reason: str
) -> list[FileResult]:
    """Per-file results from a STOW-RS response dataset (DICOM JSON).

    An item with its part's position goes to the file sent in that part. An item
    without one (another server) goes to the first file not yet answered with its SOP
    Instance UID; a failed item whose UID names no such file (the server could not read
    the part) goes to a file the answer does not otherwise mention. Files that are still
    unaccounted for are failed with ``fallback_reason``.
    """
    answers = _answers(data if isinstance(data, dict) else {})
    found: dict[int, _Answer] = {}
    unplaced: list[_Answer] = []
    for answer in answers:
        index = answer.part - 1 if answer.part is not None else -1
        if 0 <= index < len(batch) and index not in found:
            found[index] = answer
        else:
            unplaced.append(answer)
    anonymous: list[_Answer] = []
    for answer in unplaced:
        index = next(
            (
                k
                for k, local in enumerate(batch)
                if k not in found and answer.uid and local.sop_instance_uid == answer.uid
            ),
            -1,
        )
        if index >= 0:
            found[index] = answer
        elif answer.status == "failed" and not any(
            local.sop_instance_uid == answer.uid for local in batch
        ):
            anonymous.append(answer)
    out: list[FileResult] = []
    for index, local in enumerate(batch):
        placed = found.get(index) or (anonymous.pop(0) if anonymous else None)
        if placed is None:
            placed = _Answer(None, local.sop_instance_uid, "failed", fallback_reason)
        out.append(placed.result(local))
    return out
