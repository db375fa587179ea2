"""DICOM JSON (PS3.18 Annex F) -> the Native DICOM Model XML of PS3.19 Annex A.1.

Pure: one dataset in, one UTF-8 XML document out. QIDO results and ``/metadata`` are
built as DICOM JSON; a client that asks for ``multipart/related;
type="application/dicom+xml"`` gets each dataset (one per result, one per instance)
converted here into one part.

Mapping (PS3.18 F.2 and PS3.19 A.1 describe the same model twice):

* every attribute is a ``DicomAttribute`` with ``tag`` (eight upper-case hex digits),
  ``vr``, ``keyword`` when the dictionary knows it, and ``privateCreator`` for a private
  element whose creator is in the same dataset;
* values are ``Value number="n"`` elements (numbered from 1), person names
  ``PersonName number="n"`` with ``Alphabetic``/``Ideographic``/``Phonetic`` groups split
  into ``FamilyName``, ``GivenName``, ``MiddleName``, ``NamePrefix`` and ``NameSuffix``,
  sequence items ``Item number="n"``, bulk data ``BulkData uri="..."`` and inline binary
  ``InlineBinary`` (base64 as in JSON);
* an attribute without a value is an empty ``DicomAttribute``; a null inside a value list
  is an empty ``Value`` (or ``PersonName``) that keeps its number.

Characters XML 1.0 cannot carry at all (C0 controls other than tab, line feed and
carriage return, which DICOM text never holds legitimately) become U+FFFD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from openpacs.dicom.dictionary import keyword_for_tag
from openpacs.protocol.media_types import DICOM_XML
from openpacs.protocol.multipart import part_header

__all__ = ["DICOM_XML", "NATIVE_DICOM_MODEL_NS", "dataset_to_xml", "xml_parts"]

NATIVE_DICOM_MODEL_NS = "http://dicom.nema.org/PS3.19/models/NativeDICOM"

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
_PN_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# A parser turns a literal CR into LF, and tab or LF inside an attribute value into a
# space: character references keep them as they are (LT and UT text has CR LF lines).
_ESCAPES = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "\r": "&#13;", "\n": "&#10;", "\t": "&#9;",
}  # fmt: skip
_SPECIAL = re.compile('[&<>"\r]')
_SPECIAL_IN_ATTRIBUTE = re.compile('[&<>"\r\n\t]')


def _text(value: object, special: re.Pattern[str] = _SPECIAL) -> str:
    """Element text: escaped, and valid XML 1.0 characters only."""
    text = _NOT_XML.sub("\ufffd", value if isinstance(value, str) else _number(value))
    return special.sub(lambda m: _ESCAPES[m.group()], text)


def _attr(value: str) -> str:
    """An attribute value (between double quotes)."""
    return _text(value, _SPECIAL_IN_ATTRIBUTE)


def _number(value: object) -> str:
    # JSON numbers (IS, DS, US, FL, ...): repr of a float is the shortest text that
    # reads back as the same number.
    if isinstance(value, bool):  # never in DICOM JSON, but not "True"
        return "1" if value else "0"
    return repr(value) if isinstance(value, float) else str(value)


def dataset_to_xml(dataset: Mapping[str, Any]) -> bytes:
    """One DICOM JSON object -> a whole Native DICOM Model document (UTF-8 bytes)."""
    out: list[str] = [
        _XML_DECLARATION,
        f'<NativeDicomModel xmlns="{NATIVE_DICOM_MODEL_NS}" xml:space="preserve">',
    ]
    _attributes(out, dataset)
    out.append("</NativeDicomModel>\n")
    return "".join(out).encode("utf-8")


def xml_parts(
    datasets: Iterable[Mapping[str, Any] | bytes], boundary: str, *, first: bool
) -> bytes:
    """Parts of a ``multipart/related; type="application/dicom+xml"`` body, one document
    per dataset (a DICOM JSON object, or its serialised bytes as the index stores it).

    ``first`` says whether these are the body's first parts (see
    :func:`openpacs.protocol.multipart.part_header`); the caller adds the closing
    delimiter after the last batch.
    """
    out: list[bytes] = []
    for dataset in datasets:
        data = orjson.loads(dataset) if isinstance(dataset, bytes) else dataset
        out.append(part_header(boundary, {"Content-Type": DICOM_XML}, first=first))
        out.append(dataset_to_xml(data))
        first = False
    return b"".join(out)


def _attributes(out: list[str], dataset: Mapping[str, Any]) -> None:
    for key in sorted(dataset, key=str.upper):
        element = dataset[key]
        if not isinstance(element, Mapping):
            continue  # not an attribute (a malformed fragment): nothing to say about it
        _attribute(out, key.upper(), element, dataset)


def _attribute(
    out: list[str], key: str, element: Mapping[str, Any], dataset: Mapping[str, Any]
) -> None:
    vr = str(element.get("vr", "UN"))
    head = f'<DicomAttribute tag="{_attr(key)}" vr="{_attr(vr)}"'
    try:
        tag = int(key, 16)
    except ValueError:
        tag = -1
    if tag >= 0:
        keyword = keyword_for_tag(tag) if not _is_private(tag) else ""
        if keyword:
            head += f' keyword="{keyword}"'
        creator = _private_creator(tag, dataset)
        if creator:
            head += f' privateCreator="{_attr(creator)}"'
    body: list[str] = []
    if "Value" in element:
        _values(body, vr, element["Value"])
    elif "BulkDataURI" in element:
        body.append(f'<BulkData uri="{_attr(str(element["BulkDataURI"]))}"/>')
    elif "InlineBinary" in element:
        body.append(f"<InlineBinary>{_text(str(element['InlineBinary']))}</InlineBinary>")
    if body:
        out.append(head + ">")
        out.extend(body)
        out.append("</DicomAttribute>")
    else:
        out.append(head + "/>")


def _values(out: list[str], vr: str, values: Iterable[Any]) -> None:
    for number, value in enumerate(values, start=1):
        if vr == "SQ":
            out.append(f'<Item number="{number}">')
            if isinstance(value, Mapping):
                _attributes(out, value)
            out.append("</Item>")
        elif vr == "PN":
            _person_name(out, number, value)
        elif value is None:
            out.append(f'<Value number="{number}"/>')
        else:
            out.append(f'<Value number="{number}">{_text(value)}</Value>')


def _person_name(out: list[str], number: int, value: Any) -> None:
    groups: list[str] = []
    if isinstance(value, Mapping):
        for group in _PN_GROUPS:
            text = value.get(group)
            if not text:
                continue
            parts = str(text).split("^")
            components = "".join(
                f"<{name}>{_text(part)}</{name}>"
                for name, part in zip(_PN_COMPONENTS, parts, strict=False)
                if part
            )
            if components:  # "^^" has no component worth a group element
                groups.append(f"<{group}>{components}</{group}>")
    if groups:
        out.append(f'<PersonName number="{number}">{"".join(groups)}</PersonName>')
    else:
        out.append(f'<PersonName number="{number}"/>')


def _is_private(tag: int) -> bool:
    return bool((tag >> 16) & 1)


def _private_creator(tag: int, dataset: Mapping[str, Any]) -> str | None:
    """The creator of a private data element (gggg,xxyy): the value of (gggg,00xx)."""
    if not _is_private(tag) or (tag & 0xFFFF) < 0x1000:
        return None
    group, block = tag >> 16, (tag >> 8) & 0xFF
    creator = dataset.get(f"{group:04X}{block:04X}") or dataset.get(f"{group:04x}{block:04x}")
    if not isinstance(creator, Mapping):
        return None
    values = creator.get("Value") or []
    return str(values[0]).strip() if values and values[0] else None
