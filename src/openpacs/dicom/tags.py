"""DICOM tag ids as people write them: ``00100010``, ``(0010,0010)``, ``0010,0010``, keywords."""

from __future__ import annotations

import re

from openpacs.dicom.dictionary import tag_for_keyword

_HEX_PAIR = re.compile(r"^\(?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)?$")
_HEX_EIGHT = re.compile(r"^(?:0[xX])?([0-9A-Fa-f]{8})$")
_KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class InvalidTag(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(f"not a DICOM tag id or keyword: {text!r}")
        self.text = text


def parse_tag(text: str) -> int:
    """The tag number of ``text``; raises InvalidTag.

    Accepted: eight hex digits (``00100010``, ``0x00100010``), a group and element pair
    with or without parentheses (``(0010,0010)``, ``0010,0010``) and a keyword of the
    DICOM dictionary (``PatientName``).
    """
    value = text.strip()
    if match := _HEX_EIGHT.match(value):
        return int(match.group(1), 16)
    if match := _HEX_PAIR.match(value):
        return (int(match.group(1), 16) << 16) | int(match.group(2), 16)
    if _KEYWORD.match(value):
        tag = tag_for_keyword(value)
        if tag is not None:
            return int(tag)
    raise InvalidTag(text)


def tag_key(tag: int) -> str:
    """The DICOM JSON attribute name of a tag: eight upper-case hex digits."""
    return f"{tag:08X}"
