"""Frame access for WADO-RS (PS3.18 sections 9 and 10.4).

Pure functions on files: they take a path or a binary file object positioned at the
start of a DICOM file, decode exactly one frame and return native little-endian
bytes laid out as in an uncompressed Explicit VR Little Endian file.

Photometric interpretation of decoded frames
--------------------------------------------
Decoding follows pydicom's default (``as_rgb=True``): colour data that pydicom or the
codec converts is returned as RGB, everything else keeps its stored interpretation.
:func:`decoded_photometric_interpretation` gives the value that describes the returned
bytes:

* ``YBR_FULL`` and ``YBR_FULL_422`` (native or JPEG): RGB, and native 4:2:2 data is
  upsampled to one Cb/Cr pair per pixel (pydicom converts YCbCr to RGB);
* ``YBR_ICT`` and ``YBR_RCT`` (JPEG 2000): RGB (OpenJPEG applies the inverse MCT);
* MONOCHROME1/2, PALETTE COLOR, RGB and others: unchanged.

Multi-sample frames are always colour-by-pixel (Planar Configuration 0), and frames
with Bits Allocated 1 are bit-packed (little-endian bit order, as in PS3.5 8.1.1)
without padding.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError

# Imported from the defining modules: pydicom.pixels re-exports them without __all__.
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.utils import pack_bits, pixel_array
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

__all__ = [
    "DecodedFrame",
    "PixelDataError",
    "PixelSource",
    "decode_frame",
    "decoded_photometric_interpretation",
    "frame_to_bytes",
    "has_pixel_data",
    "iter_decoded_frames",
    "number_of_frames",
    "read_frame",
    "read_header",
    "source_transfer_syntax",
]

PixelSource = str | os.PathLike[str] | BinaryIO

# (7FE0,0008) Float Pixel Data, (7FE0,0009) Double Float Pixel Data, (7FE0,0010) Pixel Data
_PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
# Interpretations that pydicom or the JPEG 2000 codec hand back as RGB.
_DECODED_AS_RGB = frozenset({"YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"})
# pydicom/codec errors that mean "this frame cannot be decoded".
_DECODE_ERRORS = (
    ValueError,
    RuntimeError,
    NotImplementedError,
    AttributeError,
    KeyError,
    TypeError,
    EOFError,
    IndexError,
)


class PixelDataError(ValueError):
    """The pixel data is absent, out of range or cannot be decoded."""


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame plus the header needed to interpret it.

    ``array`` has shape (rows, columns) or (rows, columns, samples), native byte order,
    and for Bits Allocated 1 holds unpacked 0/1 values. ``header`` is the dataset
    without its pixel data. ``photometric_interpretation`` describes ``array``.
    """

    array: np.ndarray
    header: Dataset
    photometric_interpretation: str


def has_pixel_data(ds: Dataset) -> bool:
    """True if `ds` holds Pixel Data, Float Pixel Data or Double Float Pixel Data."""
    return any(tag in ds for tag in _PIXEL_TAGS)


def number_of_frames(ds: Dataset) -> int:
    """Number of frames of an image dataset (0 if it is not an image).

    Works on headers read with ``stop_before_pixels=True``: a dataset counts as an
    image if it has a pixel data element or Rows. A missing, empty or zero Number of
    Frames means one frame (as pydicom assumes); an unparsable or negative one raises
    :class:`PixelDataError` because frame addressing would be guesswork.
    """
    if not (has_pixel_data(ds) or "Rows" in ds):
        return 0
    try:
        raw = ds.get("NumberOfFrames")
        value = 1 if raw in (None, "") else int(raw)
    except (TypeError, ValueError) as exc:
        raise PixelDataError(f"invalid Number of Frames (0028,0008): {exc}") from exc
    if value < 0:
        raise PixelDataError(f"invalid Number of Frames (0028,0008): {value}")
    return value or 1


def decoded_photometric_interpretation(ds: Dataset) -> str:
    """Photometric Interpretation of frames returned by this module for `ds`."""
    pi = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if int(ds.get("SamplesPerPixel", 1) or 1) == 3 and pi in _DECODED_AS_RGB:
        return "RGB"
    return pi


def source_transfer_syntax(ds: Dataset) -> UID:
    """Transfer syntax of a dataset read from a file, guessed for raw datasets."""
    meta = getattr(ds, "file_meta", None)
    tsyntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if tsyntax:
        return UID(str(tsyntax))
    # Raw dataset without file meta: pydicom recorded how it actually parsed it.
    implicit, little = ds.original_encoding
    if little is False:
        return ExplicitVRBigEndian
    return ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian


def read_header(src: PixelSource) -> Dataset:
    """Read the dataset up to (not including) its pixel data.

    Unparsable content raises :class:`PixelDataError`; I/O errors propagate.
    """
    try:
        if isinstance(src, (str, os.PathLike)):
            return dcmread(src, stop_before_pixels=True, force=True)
        src.seek(0)
        return dcmread(src, stop_before_pixels=True, force=True)
    except (InvalidDicomError, struct.error, *_DECODE_ERRORS) as exc:
        raise PixelDataError(f"cannot read the DICOM file: {exc}") from exc


def frame_to_bytes(arr: np.ndarray, bits_allocated: int, pixel_representation: int = 0) -> bytes:
    """Serialise one or more decoded frames as uncompressed little-endian pixel data.

    Bit-packs Bits Allocated 1 data; other integer data is written in a container of
    exactly Bits Allocated (defensive: the decoder's array type is not part of its API).
    """
    if bits_allocated == 1:
        return pack_bits(np.ascontiguousarray(arr).ravel(), pad=False)
    if arr.dtype.kind in "iu" and bits_allocated in (8, 16, 32, 64):
        kind = "i" if pixel_representation else "u"
        target = np.dtype(f"<{kind}{bits_allocated // 8}")
    else:
        target = arr.dtype.newbyteorder("<")
    return np.ascontiguousarray(arr, dtype=target).tobytes()


def read_frame(src: PixelSource, index: int) -> DecodedFrame:
    """Decode the frame at 0-based `index`, reading only that frame's data.

    A file object must be opened in binary mode and contain the file from offset 0.
    Raises :class:`PixelDataError` if there is no pixel data, `index` is out of range
    or the frame cannot be decoded (corrupt data, no codec for the transfer syntax).
    """
    header = read_header(src)
    frames = number_of_frames(header)
    if frames == 0:
        raise PixelDataError("the instance has no pixel data")
    if not 0 <= index < frames:
        raise PixelDataError(
            f"frame index {index} is out of range: the instance has {frames} frame(s)"
        )
    tsyntax = source_transfer_syntax(header)
    try:
        if "TransferSyntaxUID" in getattr(header, "file_meta", {}) and not tsyntax.is_deflated:
            # pydicom seeks to the frame itself, so the rest of the file is not read.
            arr = pixel_array(src, index=index)
        else:
            # Deflated or raw datasets cannot be seeked into: read the whole dataset.
            arr = _pixel_array_from_dataset(src, index, tsyntax)
    except PixelDataError:
        raise
    except _DECODE_ERRORS as exc:
        raise PixelDataError(f"cannot decode frame {index} ({tsyntax.name}): {exc}") from exc
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return DecodedFrame(arr, header, decoded_photometric_interpretation(header))


def decode_frame(path: PixelSource, index: int) -> bytes:
    """The frame at 0-based `index` as ``application/octet-stream`` bytes.

    Layout is that of an uncompressed Explicit VR Little Endian file with the same
    Rows, Columns, Samples per Pixel and Bits Allocated; see the module docstring for
    the photometric interpretation (:func:`decoded_photometric_interpretation`).
    """
    frame = read_frame(path, index)
    header = frame.header
    return frame_to_bytes(
        frame.array,
        int(header.get("BitsAllocated", 8)),
        int(header.get("PixelRepresentation", 0) or 0),
    )


def iter_decoded_frames(
    ds: Dataset, *, as_rgb: bool = True
) -> Iterator[tuple[np.ndarray, dict[str, str | int]]]:
    """Decode every frame of a fully read dataset, one at a time.

    Yields each frame with pydicom's image pixel properties describing it (photometric
    interpretation, planar configuration...). With ``as_rgb=True`` frames are as
    :func:`read_frame` returns them; with False YCbCr is not converted to RGB (native
    YBR_FULL_422 is still upsampled and then reported as YBR_FULL).
    """
    tsyntax = source_transfer_syntax(ds)
    frames = number_of_frames(ds)
    if frames == 0 or not has_pixel_data(ds):
        raise PixelDataError("the instance has no pixel data")
    _ensure_transfer_syntax(ds, tsyntax)
    try:
        decoder = get_decoder(tsyntax)
        # Explicit indices make pydicom decode frame by frame into a container sized by
        # Bits Allocated and stop at Number of Frames (no JPEG "excess frames").
        for arr, props in decoder.iter_array(ds, indices=range(frames), as_rgb=as_rgb):
            if arr.dtype.byteorder == ">":
                arr = arr.astype(arr.dtype.newbyteorder("<"))
            yield arr, props
    except _DECODE_ERRORS as exc:
        raise PixelDataError(f"cannot decode pixel data ({tsyntax.name}): {exc}") from exc


def _pixel_array_from_dataset(src: PixelSource, index: int, tsyntax: UID) -> np.ndarray:
    if isinstance(src, (str, os.PathLike)):
        ds = dcmread(src, force=True)
    else:
        src.seek(0)
        ds = dcmread(src, force=True)
    if not has_pixel_data(ds):
        raise PixelDataError("the instance has no pixel data")
    _ensure_transfer_syntax(ds, tsyntax)
    return pixel_array(ds, index=index)


def _ensure_transfer_syntax(ds: Dataset, tsyntax: UID) -> None:
    # pydicom's decoders need file_meta.TransferSyntaxUID, which raw datasets lack.
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = tsyntax
