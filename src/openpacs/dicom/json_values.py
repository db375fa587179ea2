"""Reading values out of DICOM JSON (PS3.18 F.2): the accessors of the index columns,
the frame tables and the search side.

Pure (no pydicom): the index and the read side load them without the parser.
"""

from __future__ import annotations

from typing import Any

from openpacs.dicom.names import canonical_person_name

JsonObject = dict[str, dict[str, Any]]


def element_values(meta: JsonObject, key: str) -> list[Any]:
    element = meta.get(key)
    return list(element.get("Value", [])) if element else []


def element_text(meta: JsonObject, key: str, joiner: str = "\\") -> str:
    """All values of a string/number element as one string; PN groups joined with '='."""
    parts: list[str] = []
    for value in element_values(meta, key):
        if isinstance(value, dict):
            groups = [value.get(k, "") for k in ("Alphabetic", "Ideographic", "Phonetic")]
            parts.append(canonical_person_name("=".join(groups)))
        elif value is not None:
            parts.append(str(value))
    return joiner.join(parts)


def element_first_int(meta: JsonObject, key: str) -> int | None:
    values = element_values(meta, key)
    return values[0] if values and isinstance(values[0], int) else None
