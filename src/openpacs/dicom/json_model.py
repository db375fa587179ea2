"""DICOM JSON (PS3.18 F.2) of a dataset built from its encoded elements.

pydicom's own conversion decodes every value and loads bulk data; the walker here works
on raw elements, so large values become BulkDataURIs with byte ranges instead of being
read. The accessors of that JSON are in ``dicom/json_values.py``.
"""

from __future__ import annotations

import base64
import struct
from typing import Any, Final

from pydicom.charset import decode_bytes
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.hooks import hooks
from pydicom.valuerep import AMBIGUOUS_VR, TEXT_VR_DELIMS

from openpacs.dicom import status
from openpacs.dicom.invalid import InvalidInstance
from openpacs.dicom.json_values import JsonObject
from openpacs.dicom.rawfile import (
    UNDEFINED_LENGTH,
    RawFile,
    elements_in_order,
    raw_value,
)

#: Binary values longer than this many bytes become BulkDataURIs.
BULK_THRESHOLD: Final = 1024
PIXEL_TAGS: Final = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float, Double Float
#: Sequences nested deeper than this are refused. Real files (structured reports
#: included) stay far below it; the DICOM JSON of a deeper one would exceed what the JSON
#: encoder writes (254 levels, three per sequence) and what pydicom reads recursively.
MAX_SEQUENCE_DEPTH: Final = 64
TOO_DEEP: Final = (
    f"sequences are nested more than {MAX_SEQUENCE_DEPTH} levels deep; such a file cannot be stored"
)

_BINARY_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_SWAP_SIZE: Final = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_NUMBER_FORMATS: Final = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d",
                          "UV": "Q", "SV": "q"}  # fmt: skip
_CHARSET_MULTI_VRS: Final = frozenset({"SH", "LO", "UC"})
_CHARSET_SINGLE_VRS: Final = frozenset({"ST", "LT", "UT"})
_ASCII_MULTI_VRS: Final = frozenset({"AS", "CS", "DA", "DT", "TM", "UI"})


def _decode_text(value: bytes, encodings: list[str]) -> str:
    # ISO 2022 escape sequences are ASCII bytes: only escape-free ASCII takes the fast path.
    if value.isascii() and 0x1B not in value:
        return value.decode("ascii")
    return decode_bytes(value, encodings, TEXT_VR_DELIMS)


def _parse_int(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        real = float(text)  # "12.0" is tolerated as pydicom does; "1A" raises
        if not real.is_integer():
            raise
        number = int(real)
    if abs(number) >= 2**63:
        raise ValueError(f"IS value out of range: {text}")
    return number


def _parse_float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def _text_values(vr: str, value: bytes, encodings: list[str]) -> list[str] | None:
    """Decode a string VR like pydicom's converters; None if not a string VR."""
    if vr in _ASCII_MULTI_VRS:
        return value.decode("latin-1").rstrip(" \x00").split("\\")
    if vr == "AE":
        return [part.strip() for part in value.decode("latin-1").split("\\")]
    if vr in _CHARSET_MULTI_VRS:
        return [part.rstrip("\x00 ") for part in _decode_text(value, encodings).split("\\")]
    if vr in _CHARSET_SINGLE_VRS:
        return [_decode_text(value, encodings).rstrip("\x00 ")]
    if vr == "UR":
        return [value.decode("latin-1").rstrip()]
    if vr == "PN":
        return _decode_text(value.rstrip(b"\x00 "), encodings).split("\\")
    return None


def _leaf_json(vr: str, value: bytes, little: bool, encodings: list[str]) -> dict[str, Any]:
    """DICOM JSON of a non-sequence element from its encoded value (inline binary)."""
    element: dict[str, Any] = {"vr": vr}
    if not value:
        return element
    if vr in _BINARY_VRS:
        size = _SWAP_SIZE.get(vr)
        if not little and size and len(value) % size == 0:
            value = _byteswap(value, size)
        element["InlineBinary"] = base64.b64encode(value).decode("ascii")
        return element
    texts = _text_values(vr, value, encodings)
    result: list[Any]
    try:
        if texts is not None:
            if len(texts) == 1 and not texts[0]:
                return element
            # PS3.18 F.2.5: an empty value among several is null, not "".
            if vr == "PN":
                keys = ("Alphabetic", "Ideographic", "Phonetic")
                result = [
                    dict(zip(keys, _pn_groups(name), strict=False)) if name else None
                    for name in texts
                ]
            else:
                result = [text or None for text in texts]
        elif vr in ("IS", "DS"):
            parts = value.decode("latin-1").strip(" \x00").split("\\")
            parse = _parse_int if vr == "IS" else _parse_float
            result = [parse(part) for part in parts]
            if len(result) == 1 and result[0] is None:
                return element
        elif vr in _NUMBER_FORMATS:
            fmt = _NUMBER_FORMATS[vr]
            count = len(value) // struct.calcsize("<" + fmt)
            result = list(struct.unpack(f"{'<' if little else '>'}{count}{fmt}", value))
        elif vr == "AT":
            count = len(value) // 2
            halves = struct.unpack(f"{'<' if little else '>'}{count}H", value)
            result = [f"{halves[i]:04X}{halves[i + 1]:04X}" for i in range(0, count - 1, 2)]
        else:  # unknown VR: keep the bytes
            element["vr"] = "UN"
            element["InlineBinary"] = base64.b64encode(value).decode("ascii")
            return element
    except (ValueError, struct.error):
        return element  # junk value in an attribute we do not interpret: no "Value"
    element["Value"] = result
    return element


def _pn_groups(name: str) -> list[str]:
    groups = name.split("=")[:3]
    while len(groups) > 1 and not groups[-1]:
        groups.pop()  # trailing empty groups are absent, as pydicom does
    return groups


def _byteswap(value: bytes, size: int) -> bytes:
    out = bytearray(len(value))
    for i in range(size):
        out[i::size] = value[size - 1 - i :: size]
    return bytes(out)


def _converted_json(element: DataElement) -> dict[str, Any]:
    try:
        return element.to_json_dict(None, BULK_THRESHOLD)
    except (ValueError, TypeError):
        return {"vr": element.VR}


def _encodings(dataset: Dataset) -> list[str]:
    charset = dataset.original_character_set or dataset._character_set
    return [charset] if isinstance(charset, str) else list(charset)


def _us_value(file: RawFile, dataset: Dataset, tag: int, little: bool) -> int | None:
    value = raw_value(file, dataset, tag)
    if value is None or len(value) < 2:
        return None
    return int(struct.unpack("<H" if little else ">H", value[:2])[0])


class Walker:
    """Builds the DICOM JSON of a dataset from raw elements, recording bulk byte ranges."""

    def __init__(self, file: RawFile, servable: bool, encapsulated: bool, little: bool) -> None:
        self.file = file
        self._depth = 0  # sequences open around the dataset being walked
        self.servable = servable
        self.encapsulated = encapsulated
        self.little = little
        self.bulk: dict[str, tuple[int, int]] = {}
        self.bulk_elements: list[tuple[dict[str, Any], str]] = []

    def walk(self, dataset: Dataset, base: int, prefix: str) -> JsonObject:
        out: JsonObject = {}
        encodings = _encodings(dataset)
        for tag, element in elements_in_order(dataset):
            if tag & 0xFFFF == 0 or tag >> 16 in (0x0000, 0x0002) or tag == 0xFFFCFFFC:
                continue
            key = f"{tag:08X}"
            if isinstance(element, RawDataElement):
                out[key] = self._raw(dataset, element, tag, base, prefix + key, encodings)
            elif element is not None:
                out[key] = self._converted(element, base, prefix + key)
        return out

    def _raw(
        self,
        dataset: Dataset,
        raw: RawDataElement,
        tag: int,
        base: int,
        path: str,
        encodings: list[str],
    ) -> dict[str, Any]:
        data: dict[str, Any] = {}
        hooks.raw_element_vr(raw, data, encoding=encodings, ds=dataset)
        vr = str(data["VR"])
        offset = base + raw.value_tell
        if tag in PIXEL_TAGS:
            if vr in AMBIGUOUS_VR:  # implicit VR: OB if compressed or <= 8 bits, else OW
                bits = _us_value(self.file, dataset, 0x00280100, self.little) or 16
                vr = "OB" if self.encapsulated or bits <= 8 else "OW"
            if raw.value is not None:
                length = len(raw.value)
            elif raw.length == UNDEFINED_LENGTH:
                length = self.file.scan(offset).value_length
            else:
                length = raw.length
            return self._bulk(vr, path, offset, length)
        if vr == "SQ":
            return self._converted(dataset[tag], base, path)  # pydicom parses the items
        if vr in AMBIGUOUS_VR:  # pydicom corrects US/SS, OB/OW from the context
            try:
                return self._converted(dataset[tag], base, path)
            except Exception:  # an inconsistent context: keep the bytes
                vr = "UN"
        if vr in _BINARY_VRS:
            length = len(raw.value) if raw.value is not None else raw.length
            if length > BULK_THRESHOLD:
                return self._bulk(vr, path, offset, length)
        value = raw.value
        if value is None:  # deferred top-level value that we need
            value = self.file.read_at(offset, raw.length)
        return _leaf_json(vr, value, raw.is_little_endian, encodings)

    def _converted(self, element: DataElement, base: int, path: str) -> dict[str, Any]:
        if element.VR == "SQ":
            # Items of an undefined-length sequence were parsed in-stream; those of a
            # defined-length one from a buffer that starts at the sequence's value.
            items_base = base if element.is_undefined_length else base + (element.file_tell or 0)
            if self._depth >= MAX_SEQUENCE_DEPTH:
                raise InvalidInstance(TOO_DEEP, status.CANNOT_UNDERSTAND)
            self._depth += 1
            try:
                values = [
                    self.walk(item, items_base, f"{path}/{index}/")
                    for index, item in enumerate(element.value)
                ]
            finally:
                self._depth -= 1
            return {"vr": "SQ", "Value": values} if values else {"vr": "SQ"}
        value = element.value
        if element.VR in _BINARY_VRS and isinstance(value, bytes) and len(value) > BULK_THRESHOLD:
            offset = None if element.file_tell is None else base + element.file_tell
            return self._bulk(element.VR, path, offset, len(value))
        return _converted_json(element)

    def _bulk(self, vr: str, path: str, offset: int | None, length: int) -> dict[str, Any]:
        if self.servable and offset is not None:
            self.bulk[path] = (offset, length)
        element: dict[str, Any] = {"vr": vr, "BulkDataURI": ""}
        self.bulk_elements.append((element, path))
        return element
