"""Transfer syntax conversion for WADO-RS ``transfer-syntax=`` (PS3.18 8.7.3.5).

:func:`transcode` writes a complete Part-10 file in the target transfer syntax. The SOP
Instance UID is kept. Rules:

* native <-> native (Explicit/Implicit VR Little Endian, Deflated, from Big Endian):
  pixel values unchanged; big endian sources are byte-swapped.
* compressed -> native: every frame is decoded. Lossless sources keep their exact
  sample values (no colour conversion, so e.g. YBR_FULL stays YBR_FULL); lossy sources
  are decoded to RGB like the frames endpoint and get Lossy Image Compression "01".
* -> RLE / JPEG-LS lossless / JPEG 2000 lossless: only from lossless sources, since
  re-encoding a lossy image losslessly would misrepresent its history.
"""

from __future__ import annotations

import os
import shutil
from typing import BinaryIO

import numpy as np
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.encoders.base import get_encoder
from pydicom.pixels.utils import get_expected_length
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from openpacs.dicom.pixels import (
    PixelDataError,
    PixelSource,
    frame_to_bytes,
    has_pixel_data,
    iter_decoded_frames,
    number_of_frames,
    source_transfer_syntax,
)

__all__ = [
    "NATIVE_TARGETS",
    "TRANSCODABLE_TARGETS",
    "TranscodeError",
    "is_lossy_transfer_syntax",
    "transcode",
    "transcode_problem",
]

# Uncompressed targets pydicom writes itself (Big Endian is retired: read, not written).
NATIVE_TARGETS: frozenset[str] = frozenset(
    {ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
)
_LOSSLESS_ENCODED = (RLELossless, JPEGLSLossless, JPEG2000Lossless)


def _encoder_available(tsyntax: str) -> bool:
    try:
        return bool(get_encoder(tsyntax).is_available)
    except NotImplementedError:
        return False


# Compressed targets depend on the installed plugins: pylibjpeg-rle or pydicom (RLE),
# pyjpegls (JPEG-LS), pylibjpeg-openjpeg (JPEG 2000).
TRANSCODABLE_TARGETS: frozenset[str] = NATIVE_TARGETS | frozenset(
    ts for ts in _LOSSLESS_ENCODED if _encoder_available(ts)
)

# Compressed syntaxes whose data is always reversible. Everything else that is
# compressed (JPEG baseline/extended, JPEG-LS near-lossless, JPEG 2000 "lossy or
# lossless", HTJ2K, video...) is treated as lossy: the header cannot be trusted to say.
_LOSSLESS_COMPRESSED = frozenset(
    {
        "1.2.840.10008.1.2.4.57",  # JPEG Lossless, Process 14
        "1.2.840.10008.1.2.4.70",  # JPEG Lossless, Process 14 SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless Only
        "1.2.840.10008.1.2.4.92",  # JPEG 2000 Part 2 Multi-component Lossless Only
        "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
        "1.2.840.10008.1.2.4.202",  # HTJ2K Lossless RPCL
        "1.2.840.10008.1.2.5",  # RLE Lossless
    }
)
# Value for Lossy Image Compression Method (0028,2114) per source syntax (PS3.3 C.7.6.1.1.5).
_LOSSY_METHODS = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1",
    "1.2.840.10008.1.2.4.51": "ISO_10918_1",
    "1.2.840.10008.1.2.4.81": "ISO_14495_1",
    "1.2.840.10008.1.2.4.91": "ISO_15444_1",
    "1.2.840.10008.1.2.4.93": "ISO_15444_2",
    "1.2.840.10008.1.2.4.203": "ISO_15444_15",
}
# Big endian values of these VRs are raw bytes pydicom will not swap when writing.
_SWAP_WIDTH = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}
_PIXEL_DATA = Tag(0x7FE0, 0x0010)
_EXTENDED_OFFSETS = (Tag(0x7FE0, 0x0001), Tag(0x7FE0, 0x0002))


class TranscodeError(ValueError):
    """The instance cannot be converted to the requested transfer syntax."""


def is_lossy_transfer_syntax(tsyntax: str) -> bool:
    """True if pixel data in `tsyntax` may have been lossy compressed."""
    uid = UID(tsyntax)
    if not uid.is_transfer_syntax:
        return True  # unknown: assume the worst
    return uid.is_compressed and uid not in _LOSSLESS_COMPRESSED


def transcode_problem(source_ts: str, target_ts: str, *, has_pixel_data: bool) -> str | None:
    """Why `source_ts` cannot be converted to `target_ts` (None if it can)."""
    source, target = UID(source_ts), UID(target_ts)
    if source == target:
        return None
    if target not in TRANSCODABLE_TARGETS:
        supported = ", ".join(sorted(TRANSCODABLE_TARGETS))
        return f"cannot encode {_name(target)} (supported targets: {supported})"
    if not has_pixel_data:
        # Without pixel data every target syntax encodes the dataset as explicit or
        # implicit VR little endian, which pydicom can always write.
        return None
    if not source.is_transfer_syntax:
        return f"unknown source transfer syntax {source}: its pixel data cannot be decoded"
    if source.is_compressed:
        try:
            decoder_ok = get_decoder(source).is_available
        except NotImplementedError:
            decoder_ok = False
        if not decoder_ok:
            return f"no installed decoder for {_name(source)} pixel data"
    if target.is_compressed and is_lossy_transfer_syntax(source):
        return (
            f"{_name(source)} pixel data may be lossy; re-encoding it as {_name(target)} "
            "would claim lossless compression (use an uncompressed transfer syntax)"
        )
    return None


def transcode(src: PixelSource, dst: BinaryIO, target_ts: str) -> None:
    """Write `src` to `dst` as a Part-10 file in `target_ts`.

    Raises :class:`TranscodeError` with a readable reason when impossible (unsupported
    target, lossy source to lossless target, codec rejects the image, corrupt data).
    """
    target = UID(target_ts)
    ds = _read_dataset(src)
    source = source_transfer_syntax(ds)
    pixels = has_pixel_data(ds)
    problem = transcode_problem(source, target, has_pixel_data=pixels)
    if problem:
        raise TranscodeError(problem)

    if _PIXEL_DATA in ds and not source.is_compressed:
        _check_native_pixels(ds)
    if source == target and _is_part10(ds):
        _copy_source(src, dst)  # identity: serve the stored bytes unchanged
        return

    _prepare_file_meta(ds, source)
    # Float/Double Float Pixel Data is native only and handled like any OF/OD value.
    integer_pixels = _PIXEL_DATA in ds
    if pixels and not integer_pixels and target.is_compressed:
        raise TranscodeError(f"float pixel data cannot be encoded as {_name(target)}")
    try:
        if integer_pixels and (source.is_compressed or not source.is_little_endian):
            _decode_to_native(ds, source)
        elif not source.is_little_endian:
            _swap_raw_values(ds)
        if integer_pixels and target.is_compressed and target != source:
            _encode(ds, target)
    except PixelDataError as exc:
        raise TranscodeError(f"cannot transcode to {_name(target)}: {exc}") from exc

    ds.file_meta.TransferSyntaxUID = target
    try:
        dcmwrite(dst, ds, enforce_file_format=True)
    except (ValueError, AttributeError, TypeError, KeyError, OverflowError) as exc:
        raise TranscodeError(f"cannot write {_name(target)} file: {exc}") from exc


# -- steps ---------------------------------------------------------------------------


def _read_dataset(src: PixelSource) -> Dataset:
    try:
        if isinstance(src, (str, os.PathLike)):
            return dcmread(src, force=True)
        src.seek(0)
        return dcmread(src, force=True)
    except (ValueError, EOFError, KeyError, TypeError, AttributeError) as exc:
        raise TranscodeError(f"cannot read the DICOM file: {exc}") from exc


def _is_part10(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    return getattr(ds, "preamble", None) is not None and bool(
        meta is not None and meta.get("TransferSyntaxUID")
    )


def _copy_source(src: PixelSource, dst: BinaryIO) -> None:
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            shutil.copyfileobj(f, dst)
    else:
        src.seek(0)
        shutil.copyfileobj(src, dst)


def _prepare_file_meta(ds: Dataset, source: UID) -> None:
    """Give raw datasets (no Part-10 header) the file meta needed to write one."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = source
    for meta_kw, ds_kw in (
        ("MediaStorageSOPClassUID", "SOPClassUID"),
        ("MediaStorageSOPInstanceUID", "SOPInstanceUID"),
    ):
        if meta_kw not in meta:
            if ds_kw not in ds:
                raise TranscodeError(f"the dataset has no {ds_kw}, cannot write a Part-10 file")
            setattr(meta, meta_kw, getattr(ds, ds_kw))


def _check_native_pixels(ds: Dataset) -> None:
    """Refuse to re-encode native pixel data that does not match its header."""
    try:
        number_of_frames(ds)
        expected = get_expected_length(ds, unit="bytes")
    except (PixelDataError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise TranscodeError(f"invalid Image Pixel attributes: {exc}") from exc
    actual = len(ds.PixelData)
    if actual < expected:
        raise TranscodeError(
            f"corrupt pixel data: {actual} bytes where the header requires {expected}"
        )


def _decode_to_native(ds: Dataset, source: UID) -> None:
    """Replace compressed or big endian pixel data by native little endian data."""
    lossy = is_lossy_transfer_syntax(source)
    bits_allocated = int(ds.BitsAllocated)
    pixel_representation = int(ds.get("PixelRepresentation", 0) or 0)
    # Lossless sources keep their samples exactly; lossy ones become RGB like frames.
    frames = list(iter_decoded_frames(ds, as_rgb=lossy))
    props = frames[-1][1]
    # 1-bit frames are packed back to back, not one byte-aligned buffer per frame.
    arr = np.stack([frame for frame, _ in frames])
    data = frame_to_bytes(arr, bits_allocated, pixel_representation)
    if len(data) % 2:
        data += b"\x00"

    if not source.is_little_endian:
        _swap_raw_values(ds)
    for tag in _EXTENDED_OFFSETS:
        if tag in ds:
            del ds[tag]
    ds.PixelData = data
    elem = ds[_PIXEL_DATA]
    elem.VR = "OB" if bits_allocated <= 8 else "OW"
    elem.is_undefined_length = False

    pi = str(props.get("photometric_interpretation", ds.get("PhotometricInterpretation", "")))
    # Decoded arrays are never subsampled, whatever the codestream was.
    ds.PhotometricInterpretation = "YBR_FULL" if pi == "YBR_FULL_422" else pi
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1:
        ds.PlanarConfiguration = 0
    if lossy:
        ds.LossyImageCompression = "01"
        method = _LOSSY_METHODS.get(source)
        if method and "LossyImageCompressionMethod" not in ds:
            ds.LossyImageCompressionMethod = method
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian


def _encode(ds: Dataset, target: UID) -> None:
    """Compress native little endian pixel data losslessly into `target`."""
    frames = list(iter_decoded_frames(ds, as_rgb=False))
    props = frames[-1][1]
    pi = str(props.get("photometric_interpretation", ds.PhotometricInterpretation))
    arr = np.stack([frame for frame, _ in frames])
    if len(frames) == 1:
        arr = arr[0]
    # Native YBR_FULL_422 is decoded (expanded) to YBR_FULL: record that before encoding.
    ds.PhotometricInterpretation = "YBR_FULL" if pi == "YBR_FULL_422" else pi
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1:
        ds.PlanarConfiguration = 0
    try:
        ds.compress(target, arr, generate_instance_uid=False)
    except (ValueError, RuntimeError, NotImplementedError, TypeError, AttributeError) as exc:
        raise TranscodeError(f"cannot encode this image as {_name(target)}: {exc}") from exc


def _swap_raw_values(ds: Dataset) -> None:
    """Byte-swap big endian OW/OL/OF/OD/OV values (pydicom writes raw bytes as they are)."""
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                _swap_raw_values(item)
        elif elem.tag != _PIXEL_DATA and elem.VR in _SWAP_WIDTH and isinstance(elem.value, bytes):
            width = _SWAP_WIDTH[elem.VR]
            usable = len(elem.value) - len(elem.value) % width
            swapped = np.frombuffer(elem.value[:usable], dtype=f">u{width}").byteswap()
            elem.value = swapped.tobytes() + elem.value[usable:]


def _name(tsyntax: UID) -> str:
    name = tsyntax.name
    return f"{name} ({tsyntax})" if name and name != str(tsyntax) else str(tsyntax)
