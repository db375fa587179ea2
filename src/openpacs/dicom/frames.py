"""Byte ranges of each frame of Pixel Data in the stored file (``/frames`` without decoding).

Native frames are cut by geometry; encapsulated fragments are grouped into frames from
the offset tables, the fragment count or the codestream start markers. Kept apart from
ingest because none of it touches the index columns or the DICOM JSON.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Final

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

from openpacs.dicom import status
from openpacs.dicom.invalid import InvalidInstance
from openpacs.dicom.json_model import PIXEL_TAGS
from openpacs.dicom.json_values import JsonObject, element_first_int, element_text
from openpacs.dicom.rawfile import (
    UNDEFINED_LENGTH,
    Encapsulated,
    RawFile,
    raw_value,
    tag_list,
    tag_name,
)

# Spectroscopy Data, Pixel Data Provider URL: legitimately images without Pixel Data.
_NO_PIXEL_TAGS: Final = frozenset({0x56000020, 0x00287FE0})
_IS_RE: Final = re.compile(r"\+?[0-9]{1,12}")
_TS: Final = "1.2.840.10008.1.2.4."
_J2K_TS: Final = frozenset(_TS + s for s in ("90", "91", "92", "93", "201", "202", "203"))
_JPEGXL_TS: Final = frozenset(_TS + s for s in ("110", "111", "112"))
_VIDEO_TS: Final = frozenset(_TS + s for s in ("100", "100.1", "101", "101.1", "102", "102.1",
    "103", "103.1", "104", "104.1", "105", "105.1", "106", "106.1", "107", "108"))  # fmt: skip


# PS3.3 C.7.6.3.1.1-2 (4 samples and ARGB, CMYK, HSV are retired, but stored as they are).
_SAMPLES_PER_PIXEL: Final = frozenset({1, 3, 4})
_PHOTOMETRIC: Final = frozenset({"MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB",
    "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT",
    "XYB", "HSV", "ARGB", "CMYK"})  # fmt: skip


@dataclass(frozen=True)
class Image:
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    samples: int
    frames: int | None  # Number of Frames (0028,0008) if present


def read_image(file: RawFile, dataset: Dataset, meta: JsonObject) -> Image:
    """Image geometry; a Number of Frames that is not an integer rejects the instance."""
    raw = raw_value(file, dataset, 0x00280008)
    frames: int | None = None
    if raw is not None and raw.strip(b" \x00"):
        text = raw.decode("latin-1").strip(" \x00")
        if not _IS_RE.fullmatch(text):
            raise InvalidInstance(
                f"Number of Frames (0028,0008) has an invalid value {text!r}: not an integer",
                status.CANNOT_UNDERSTAND,
            )
        frames = int(text)
    return Image(
        element_first_int(meta, "00280010"),
        element_first_int(meta, "00280011"),
        element_first_int(meta, "00280100"),
        element_first_int(meta, "00280002") or 1,
        frames,
    )


def _native_frames(
    image: Image, photometric: str, tag: int, offset: int, length: int, servable: bool
) -> list[list[tuple[int, int]]] | None:
    rows, columns, frames = image.rows or 0, image.columns or 0, image.frames or 1
    bits = image.bits_allocated or {0x7FE00008: 32, 0x7FE00009: 64}.get(tag, 0)
    if bits != 1 and (bits % 8 or not bits):
        raise InvalidInstance(
            f"Bits Allocated (0028,0100) is {bits or 'missing'}, not 1 or a multiple of 8",
            status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    frame_bits = rows * columns * image.samples * bits
    if photometric == "YBR_FULL_422" and image.samples == 3:
        frame_bits = frame_bits * 2 // 3  # two pixels share one Cb and one Cr sample
    needed = (frame_bits * frames + 7) // 8
    if length < needed:
        raise InvalidInstance(
            f"{tag_name(tag)} has {length} bytes, fewer than the {needed} needed for "
            f"{frames} frame(s) of {rows}x{columns}x{image.samples} samples of {bits} bits",
            status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    if not servable or (frame_bits % 8 and frames > 1):
        return None  # big endian/deflated, or bit-packed frames not on byte boundaries
    size = (frame_bits + 7) // 8
    return [[(offset + index * size, size)] for index in range(frames)]


def _group_by_offsets(
    fragments: list[tuple[int, int, int]], offsets: list[int], frames: int
) -> list[list[tuple[int, int]]] | None:
    if len(offsets) != frames or not fragments:
        return None
    first = fragments[0][0]
    starts = {position - first: index for index, (position, _, _) in enumerate(fragments)}
    if any(o not in starts for o in offsets) or offsets != sorted(set(offsets)) or offsets[0]:
        return None
    bounds = [starts[o] for o in offsets] + [len(fragments)]
    return [[(off, n) for _, off, n in fragments[bounds[i] : bounds[i + 1]]] for i in range(frames)]


def _frame_marker(ts: str) -> tuple[bytes, ...] | None:
    if ts in _J2K_TS:
        return (b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  ")
    if ts in _JPEGXL_TS:
        return (b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")
    if ts.startswith(_TS) and ts not in _VIDEO_TS:
        return (b"\xff\xd8",)
    return None


def _encapsulated_frames(
    file: RawFile, dataset: Dataset, ts: str, frames: int, scan: Encapsulated
) -> list[list[tuple[int, int]]] | None:
    fragments = scan.fragments
    if len(fragments) < frames:
        raise InvalidInstance(
            f"encapsulated Pixel Data has {len(fragments)} fragment(s), fewer than the "
            f"{frames} frame(s) of Number of Frames",
            status.CANNOT_UNDERSTAND,
        )
    if ts in _VIDEO_TS:
        return None  # one video stream: frames cannot be cut out of it
    if frames == 1:
        return [[(offset, length) for _, offset, length in fragments]]
    eot = raw_value(file, dataset, 0x7FE00001)
    if eot:
        grouped = _group_by_offsets(
            fragments, list(struct.unpack(f"<{len(eot) // 8}Q", eot[: len(eot) // 8 * 8])), frames
        )
        if grouped:
            return grouped
    if scan.offsets and (grouped := _group_by_offsets(fragments, scan.offsets, frames)):
        return grouped
    if len(fragments) == frames:
        return [[(offset, length)] for _, offset, length in fragments]
    markers = _frame_marker(ts)
    if markers is None:
        return None
    groups: list[list[tuple[int, int]]] = []
    for _, offset, length in fragments:
        if file.read_at(offset, 8).startswith(markers):
            groups.append([])
        if not groups:
            return None
        groups[-1].append((offset, length))
    return groups if len(groups) == frames else None


def _check_pixel_description(meta: JsonObject) -> None:
    """Refuse Pixel Data that no decoder can ever turn into an image: a Samples per Pixel
    other than 1, 3 (or the retired 4) and a Photometric Interpretation that is not one
    of the standard's terms. Stored, such an instance could only ever answer errors."""
    samples = element_first_int(meta, "00280002")
    if samples is not None and samples not in _SAMPLES_PER_PIXEL:
        raise InvalidInstance(
            f"Samples per Pixel (0028,0002) is {samples}: an image has 1 or 3 samples per pixel",
            status.CANNOT_UNDERSTAND,
        )
    photometric = element_text(meta, "00280004").strip()
    if photometric and photometric not in _PHOTOMETRIC:
        raise InvalidInstance(
            f"Photometric Interpretation (0028,0004) {photometric[:40]!r} is not a DICOM term "
            "(MONOCHROME2, RGB, YBR_FULL...)",
            status.CANNOT_UNDERSTAND,
        )


def frame_ranges(
    file: RawFile, dataset: Dataset, meta: JsonObject, image: Image, ts: str, servable: bool
) -> list[list[tuple[int, int]]] | None:
    """(offset, length) ranges of each frame in the file, None when frames cannot be served
    from byte ranges; rejects pixel-less images and Pixel Data inconsistent with them."""
    tag = next((t for t in PIXEL_TAGS if t in dataset), None)
    if tag is None:
        # An image without pixels (spectroscopy and JPIP-referenced pixels aside) is most
        # likely a file cut at an element boundary before Pixel Data.
        sop_class = UID(element_text(meta, "00080016"))
        is_image = image.rows or image.columns or "Image Storage" in sop_class.name
        if is_image and not (_NO_PIXEL_TAGS & set(tag_list(dataset))):
            raise InvalidInstance(
                f"{sop_class.name} without Pixel Data (7FE0,0010) (truncated file?)",
                status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
            )
        return None
    element = dataset.get_item(tag, keep_deferred=True)
    if not isinstance(element, RawDataElement):
        return None
    encapsulated = tag == 0x7FE00010 and UID(ts).is_encapsulated
    if encapsulated != (element.length == UNDEFINED_LENGTH):
        kind = "encapsulated (undefined length)" if encapsulated else "of defined length"
        raise InvalidInstance(
            f"Pixel Data must be {kind} with Transfer Syntax {ts}", status.CANNOT_UNDERSTAND
        )
    if not image.rows or not image.columns or image.frames == 0:
        raise InvalidInstance(
            f"{tag_name(tag)} is present but Rows, Columns or Number of Frames is missing, "
            "invalid or zero",
            status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    if tag == 0x7FE00010:
        _check_pixel_description(meta)
    if encapsulated:
        frames = image.frames or 1
        return _encapsulated_frames(file, dataset, ts, frames, file.scan(element.value_tell))
    length = len(element.value) if element.value is not None else element.length
    photometric = element_text(meta, "00280004").strip()
    return _native_frames(image, photometric, tag, element.value_tell, length, servable)
