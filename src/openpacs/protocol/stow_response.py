"""The STOW-RS response dataset (PS3.18 10.5.3) and the HTTP status it implies.

Two things the standard has no element for travel in a private block (creator
``OPENPACS``, group 0009), so the answer stays valid DICOM JSON that any client reads:

* the whole readable reason of a failure, (0009,1001) UT: the Error Comment (0000,0902)
  is an LO value of at most 64 characters, cut there at a word boundary;
* (0009,1002) CS ``ALREADY_STORED`` on an instance that was stored before (a re-send is
  idempotent and reported as stored; there is no standard warning code for it, and a
  Warning Reason would turn a harmless re-send into a 202);
* (0009,1003) UL, the item's part: the 1-based position of its part in the multipart
  request. The SOP Instance UID cannot tell the parts apart (two files may carry the
  same one, an unreadable part has none), so a client maps each answer to its file
  by this number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RETRIEVE_URL = "00081190"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"
REFERENCED_SOP_CLASS_UID = "00081150"
REFERENCED_SOP_INSTANCE_UID = "00081155"
FAILURE_REASON = "00081197"
WARNING_REASON = "00081196"
# Error Comment: a human-readable reason next to the numeric code (as dcm4chee does).
ERROR_COMMENT = "00000902"
ERROR_COMMENT_LENGTH = 64  # LO
PRIVATE_CREATOR = "OPENPACS"
_CREATOR_KEY = "00090010"
FULL_REASON = "00091001"
STORE_STATE = "00091002"
PART_POSITION = "00091003"
ALREADY_STORED = "ALREADY_STORED"


@dataclass(frozen=True)
class StoredInstance:
    sop_class_uid: str
    sop_instance_uid: str
    retrieve_url: str
    warning_code: int | None = None
    # The instance was there before this request (the first copy is kept).
    already_stored: bool = False
    # 1-based position of its part in the request (None: not from a multipart request).
    part: int | None = None


@dataclass(frozen=True)
class FailedInstance:
    sop_class_uid: str
    sop_instance_uid: str
    failure_code: int
    reason: str
    # 1-based position of its part in the request (None: not known).
    part: int | None = None


@dataclass
class StowResult:
    """Outcomes of one STOW request, in the order the parts arrived."""

    study_retrieve_url: str | None = None
    stored: list[StoredInstance] = field(default_factory=list)
    failed: list[FailedInstance] = field(default_factory=list)
    # The request went past a configured limit and was not read further (why).
    over_limit: str | None = None

    def http_status(self) -> int:
        """200 all stored; 202 some stored, some failed or warned; 409 none stored; 413
        a limit stopped the request (the dataset still lists what was stored before)."""
        if self.over_limit is not None:
            return 413
        if self.failed and not self.stored:
            return 409
        if self.failed or any(s.warning_code is not None for s in self.stored):
            return 202
        return 200

    def first_failure(self) -> str | None:
        if self.over_limit is not None:
            return self.over_limit
        if not self.failed:
            return None
        first = self.failed[0]
        more = f" (and {len(self.failed) - 1} more)" if len(self.failed) > 1 else ""
        return f"instance {first.sop_instance_uid or '?'} failed: {first.reason}{more}"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.study_retrieve_url and self.stored:
            body[RETRIEVE_URL] = {"vr": "UR", "Value": [self.study_retrieve_url]}
        if self.failed:
            body[FAILED_SOP_SEQUENCE] = {
                "vr": "SQ",
                "Value": [_failed_item(item) for item in self.failed],
            }
        if self.stored:
            body[REFERENCED_SOP_SEQUENCE] = {
                "vr": "SQ",
                "Value": [_stored_item(item) for item in self.stored],
            }
        return body


def _uid(value: str) -> dict[str, Any]:
    return {"vr": "UI", "Value": [value]} if value else {"vr": "UI"}


def _stored_item(item: StoredInstance) -> dict[str, Any]:
    out: dict[str, Any] = {
        REFERENCED_SOP_CLASS_UID: _uid(item.sop_class_uid),
        REFERENCED_SOP_INSTANCE_UID: _uid(item.sop_instance_uid),
        RETRIEVE_URL: {"vr": "UR", "Value": [item.retrieve_url]},
    }
    if item.warning_code is not None:
        out[WARNING_REASON] = {"vr": "US", "Value": [item.warning_code]}
    if item.already_stored:
        out[_CREATOR_KEY] = {"vr": "LO", "Value": [PRIVATE_CREATOR]}
        out[STORE_STATE] = {"vr": "CS", "Value": [ALREADY_STORED]}
    out.update(_part(item.part))
    return dict(sorted(out.items()))


def _failed_item(item: FailedInstance) -> dict[str, Any]:
    out: dict[str, Any] = {
        ERROR_COMMENT: {"vr": "LO", "Value": [error_comment(item.reason)]},
        _CREATOR_KEY: {"vr": "LO", "Value": [PRIVATE_CREATOR]},
        FULL_REASON: {"vr": "UT", "Value": [item.reason]},
        FAILURE_REASON: {"vr": "US", "Value": [item.failure_code]},
        REFERENCED_SOP_CLASS_UID: _uid(item.sop_class_uid),
        REFERENCED_SOP_INSTANCE_UID: _uid(item.sop_instance_uid),
    }
    out.update(_part(item.part))
    return dict(sorted(out.items()))


def _part(part: int | None) -> dict[str, Any]:
    """The private part position (with its creator), or nothing when it is not known."""
    if part is None:
        return {}
    return {
        _CREATOR_KEY: {"vr": "LO", "Value": [PRIVATE_CREATOR]},
        PART_POSITION: {"vr": "UL", "Value": [part]},
    }


def error_comment(reason: str) -> str:
    """``reason`` as an LO value: whole when it fits, else cut at a word and marked."""
    text = " ".join(reason.split())
    if len(text) <= ERROR_COMMENT_LENGTH:
        return text
    cut = text[: ERROR_COMMENT_LENGTH - 3]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "..."
