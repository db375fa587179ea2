"""Positional reads and structure checks on an uploaded Part-10 file, beside pydicom.

pydicom is asked to defer large values and cannot describe encapsulated items or a cut
file, so the byte-level work (deferred values, item-header scans, truncation checks) is
done here. The errors it raises are in ``dicom/invalid.py``.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import IO, Any, Final

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

from openpacs.dicom import status
from openpacs.dicom.dictionary import DICTIONARY
from openpacs.dicom.invalid import InvalidInstance

#: Value length of undefined-length elements and items.
UNDEFINED_LENGTH: Final = 0xFFFFFFFF


@dataclass
class Encapsulated:
    offsets: list[int]  # Basic Offset Table
    fragments: list[tuple[int, int, int]]  # (item position, data offset, data length)
    value_length: int  # up to the Sequence Delimitation Item
    end: int  # first byte after the Sequence Delimitation Item


class RawFile:
    """Positional reads on the open file, independent of pydicom's position."""

    def __init__(self, fp: IO[bytes], size: int) -> None:
        self.fp = fp
        self.size = size
        # In memory: slices of the bytes (getvalue() of an unmodified BytesIO made from
        # bytes is that object, not a copy); on disk: pread (pydicom's position untouched).
        self._memory = fp.getvalue() if isinstance(fp, io.BytesIO) else None
        self._fd = fp.fileno() if self._memory is None and hasattr(os, "pread") else None
        self._scans: dict[int, Encapsulated] = {}

    def read_at(self, offset: int, length: int) -> bytes:
        if self._memory is not None:
            return self._memory[offset : offset + length]
        if self._fd is not None:
            return os.pread(self._fd, length, offset)
        position = self.fp.tell()  # pragma: no cover - platforms without pread
        self.fp.seek(offset)  # pragma: no cover
        try:  # pragma: no cover
            return self.fp.read(length)
        finally:  # pragma: no cover
            self.fp.seek(position)

    def scan(self, start: int) -> Encapsulated:
        """Item headers of an undefined-length non-SQ value (seeking past the data)."""
        if start not in self._scans:
            self._scans[start] = self._scan(start)
        return self._scans[start]

    def _scan(self, start: int) -> Encapsulated:
        items: list[tuple[int, int, int]] = []
        pos = start
        while True:
            header = self.read_at(pos, 8)
            if len(header) < 8:
                raise InvalidInstance(
                    f"file is truncated: the encapsulated value at offset {start} has no "
                    "Sequence Delimitation Item before the end of file",
                    status.CANNOT_UNDERSTAND,
                )
            group, elem, length = struct.unpack("<HHL", header)
            if (group, elem) == (0xFFFE, 0xE0DD):
                break
            if (group, elem) != (0xFFFE, 0xE000) or length == UNDEFINED_LENGTH:
                raise InvalidInstance(
                    f"invalid encapsulated value: unexpected ({group:04X},{elem:04X}) with "
                    f"length {length:#x} at offset {pos}",
                    status.CANNOT_UNDERSTAND,
                )
            if pos + 8 + length > self.size:
                raise InvalidInstance(
                    f"file is truncated: the fragment at offset {pos} declares {length} bytes "
                    f"but the file ends after {self.size} bytes",
                    status.CANNOT_UNDERSTAND,
                )
            items.append((pos, pos + 8, length))
            pos += 8 + length
        offsets: list[int] = []
        if items and items[0][2]:
            table = self.read_at(items[0][1], items[0][2] // 4 * 4)
            offsets = list(struct.unpack(f"<{len(table) // 4}L", table))
        return Encapsulated(offsets, items[1:], pos - start, pos + 8)


def tag_name(tag: int) -> str:
    entry = DICTIONARY.get(tag)
    label = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{entry[2]} {label}" if entry else label


def elements_in_order(dataset: Dataset) -> list[tuple[int, Any]]:
    """(tag, element) of every element, by tag, as ``get_item(tag, keep_deferred=True)``
    gives them (deferred values stay unread): read from the dataset's element dict at
    once, without a ``Tag()`` conversion and a pydicom-level comparison per look-up,
    which cost more than the rest of the walk on a typical header."""
    return sorted(((int(tag), element) for tag, element in dataset._dict.items()),
                  key=_first)  # fmt: skip


def _first(item: tuple[int, Any]) -> int:
    return item[0]


def tag_list(dataset: Dataset) -> list[int]:
    keys = dataset.keys()  # iterating a Dataset yields elements, not tags
    return [int(tag) for tag in keys]


def raw_value(file: RawFile, dataset: Dataset, tag: int, base: int = 0) -> bytes | None:
    """The encoded value of a defined-length element, reading deferred values ourselves."""
    element = dataset.get_item(tag, keep_deferred=True)
    if isinstance(element, RawDataElement):
        if element.value is not None:
            return element.value
        if element.length == UNDEFINED_LENGTH:
            return None
        return file.read_at(base + element.value_tell, element.length)
    if element is not None and isinstance(element.value, bytes):
        return element.value
    return None


def _position(element: RawDataElement | DataElement) -> int:
    if isinstance(element, RawDataElement):
        return element.value_tell
    return element.file_tell or 0


def _dataset_end(
    file: RawFile, dataset: Dataset, base: int, little: bool
) -> tuple[int, int] | None:
    """(end offset, tag) of the last element of an in-stream dataset, None if unknown."""
    elements = [element for _, element in elements_in_order(dataset)]
    present = [e for e in elements if e is not None and e.tag >> 16 != 0]
    if not present:
        return None
    last = max(present, key=_position)
    tag = int(last.tag)
    if isinstance(last, RawDataElement):
        if last.length != UNDEFINED_LENGTH:
            return base + last.value_tell + last.length, tag
        return (file.scan(base + last.value_tell).end, tag) if little else None
    if last.VR != "SQ" or not last.is_undefined_length:
        return None
    if not last.value:
        return base + _position(last) + 8, tag
    item = last.value[-1]
    item_tell = base + int(item.seq_item_tell)
    if item.is_undefined_length_sequence_item:
        inner = _dataset_end(file, item, base, little)
        item_end = item_tell + 16 if inner is None else inner[0] + 8
    else:
        (length,) = struct.unpack("<L" if little else ">L", file.read_at(item_tell + 4, 4))
        item_end = item_tell + 8 + length
    return item_end + 8, tag


def check_complete(file: RawFile, dataset: Dataset, little: bool) -> None:
    """Reject files whose last element runs past the end, or that end with unparsed bytes
    (pydicom silently drops an element whose undefined-length value hits the end)."""
    result = _dataset_end(file, dataset, 0, little)
    if result is None:
        if not any(tag >> 16 for tag in tag_list(dataset)):  # pydicom drops all on EOF
            raise InvalidInstance(
                "the data set is empty or could not be parsed (truncated or corrupt file)",
                status.CANNOT_UNDERSTAND,
            )
        return
    end, tag = result
    if end > file.size:
        raise InvalidInstance(
            f"file is truncated: {tag_name(tag)} ends at byte {end} but the file has "
            f"{file.size} bytes",
            status.CANNOT_UNDERSTAND,
        )
    # Trailing bytes that are not an element: a cut element header, or an element pydicom
    # dropped silently. Zero padding (some media writers add it) is tolerated.
    tail = file.read_at(end, min(file.size - end, 1 << 20)) if end < file.size else b""
    if end < file.size and (end + len(tail) < file.size or tail.count(0) != len(tail)):
        raise InvalidInstance(
            f"file is truncated or corrupt: {file.size - end} bytes after {tag_name(tag)} "
            "could not be parsed",
            status.CANNOT_UNDERSTAND,
        )
