"""Rendered images for WADO-RS (PS3.18 8.3.5 and 10.4.1 rendered resources).

Pipeline for one frame (PS3.4 N.2 grayscale/colour pipelines, simplified to 8 bits):

1. decode the frame (:func:`openpacs.dicom.pixels.read_frame`, YBR_* arrives as RGB);
2. grayscale: Modality LUT (Rescale Slope/Intercept or Modality LUT Sequence), then VOI
   (query ``window`` > header Window Center/Width > VOI LUT Sequence > frame min/max),
   then MONOCHROME1 inversion; Bits Allocated 1 (binary SEG) becomes 0/255;
3. PALETTE COLOR through its LUTs; RGB scaled to 8 bits when Bits Stored > 8;
4. optional source region / viewport scaling, then Pillow encodes JPEG, PNG or GIF.

Enhanced multi-frame objects keep rescale and window values in functional groups; they
are applied for the requested frame. Overlays and presentation states are not applied.
"""

from __future__ import annotations

import io
import math
from typing import cast

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut
from pydicom.uid import UID

from openpacs.dicom.pixels import (
    DecodedFrame,
    PixelSource,
    read_frame,
)
from openpacs.dicom.render_params import WINDOW_FUNCTIONS, RenderError, Viewport, Window

__all__ = ["MEDIA_TYPES", "render_frame", "to_display_array"]

# Rendered media type -> Pillow format name.
MEDIA_TYPES: dict[str, str] = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}

# Functional group macros whose attributes override the top-level ones for a frame.
_FRAME_MACROS = ("PixelValueTransformationSequence", "FrameVOILUTSequence")


def render_frame(
    path: PixelSource,
    index: int,
    *,
    media_type: str = "image/jpeg",
    window: Window | None = None,
    viewport: tuple[int, int] | Viewport | None = None,
    quality: int = 90,
) -> bytes:
    """Render frame `index` (0-based) as an 8-bit image of `media_type`.

    Raises :class:`RenderError` for an unsupported media type, quality or image, and
    :class:`openpacs.dicom.pixels.PixelDataError` when the frame cannot be decoded.
    """
    image_format = _image_format(media_type)
    if not 1 <= quality <= 100:
        raise RenderError(f"quality must be between 1 and 100, got {quality}")
    frame = read_frame(path, index)
    image = _to_image(to_display_array(frame, index=index, window=window))
    if viewport is not None:
        if not isinstance(viewport, Viewport):
            viewport = Viewport(*viewport)
        image = _apply_viewport(image, viewport)
    return _encode(image, image_format, quality)


def to_display_array(
    frame: DecodedFrame, *, index: int = 0, window: Window | None = None
) -> np.ndarray:
    """Map a decoded frame to uint8 (rows, cols) grayscale or (rows, cols, 3) RGB.

    `index` selects the per-frame functional groups of enhanced multi-frame objects;
    `window` overrides the header's VOI for grayscale images and is ignored for colour.
    """
    header = _frame_header(frame.header, index)
    arr = frame.array
    pi = frame.photometric_interpretation
    if pi in ("MONOCHROME1", "MONOCHROME2"):
        if arr.ndim != 2:
            raise RenderError(f"{pi} image with {arr.shape[-1]} samples per pixel")
        if int(header.get("BitsAllocated", 8)) == 1:
            # Binary segmentation / bitmap: no LUTs make sense, show it as black/white.
            gray: np.ndarray = np.where(arr != 0, 255, 0).astype(np.uint8)
        else:
            gray = _grayscale(arr, header, window)
        return np.subtract(255, gray, dtype=np.uint8) if pi == "MONOCHROME1" else gray
    if pi == "PALETTE COLOR":
        return _palette_to_rgb(arr, header)
    if pi == "RGB":
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise RenderError(f"RGB image with unexpected shape {arr.shape}")
        return _rgb_to_8bit(arr, int(header.get("BitsStored", 8) or 8))
    raise RenderError(f"cannot render Photometric Interpretation {pi or '(missing)'!r}")


# -- pipeline steps ------------------------------------------------------------------


def _frame_header(header: Dataset, index: int) -> Dataset:
    """Header with the frame's functional-group rescale/VOI values promoted to top level."""
    shared = header.get("SharedFunctionalGroupsSequence")
    per_frame = header.get("PerFrameFunctionalGroupsSequence")
    items: list[Dataset] = []
    if shared:
        items.append(shared[0])
    if per_frame and 0 <= index < len(per_frame):
        items.append(per_frame[index])  # per-frame values win over shared ones
    if not items:
        return header
    out = Dataset()
    out.update(header)
    if hasattr(header, "file_meta"):
        out.file_meta = header.file_meta  # LUT decoding needs the byte order
    out.set_original_encoding(*header.original_encoding)
    for item in items:
        for keyword in _FRAME_MACROS:
            macro = item.get(keyword)
            if macro:
                for elem in macro[0]:
                    out[elem.tag] = elem
    return out


def _grayscale(arr: np.ndarray, header: Dataset, window: Window | None) -> np.ndarray:
    try:
        values = apply_modality_lut(arr, header)
    except (ValueError, KeyError, AttributeError, TypeError, IndexError) as exc:
        raise RenderError(f"invalid Modality LUT: {exc}") from exc
    values = values.astype(np.float64, copy=False)
    if window is None:
        window = _header_window(header)
    if window is not None:
        return _apply_window(values, window)
    lut = _apply_voi_lut(values, header)
    if lut is not None:
        return lut
    return _stretch(values)


def _header_window(header: Dataset) -> Window | None:
    """First Window Center/Width pair of the header, or None when absent or unusable."""
    try:
        center = _first_value(header.get("WindowCenter"))
        width = _first_value(header.get("WindowWidth"))
        if center is None or width is None:
            return None
        function = WINDOW_FUNCTIONS.get(str(header.get("VOILUTFunction", "LINEAR")).lower())
        return Window(center, width, function or "linear")
    except (TypeError, ValueError):
        return None  # malformed header values: fall back to the next VOI source


def _first_value(value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        if not value:
            return None
        value = value[0]
    return float(cast(float, value))


def _apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """PS3.3 C.11.2.1.2 / C.11.2.1.3 with an output range of 0..255."""
    c, w = window.center, window.width
    if window.function == "sigmoid":
        out = 255.0 / (1.0 + np.exp(-4.0 * (values - c) / w))
    elif window.function == "linear_exact":
        out = ((values - c) / w + 0.5) * 255.0
    elif w > 1:
        out = ((values - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    else:  # width 1 is a threshold at the center (PS3.3 C.11.2.1.2.1)
        out = np.where(values <= c - 0.5, 0.0, 255.0)
    return _to_uint8(out)


def _apply_voi_lut(values: np.ndarray, header: Dataset) -> np.ndarray | None:
    seq = header.get("VOILUTSequence")
    if not seq:
        return None
    item = seq[0]
    descriptor = item.get("LUTDescriptor")
    if not descriptor or len(descriptor) != 3 or item.get("LUTData") is None:
        return None
    # Applied here rather than with pydicom's apply_voi, which indexes with the LUT's
    # entry type and so wraps inputs above 255 for 8-bit LUTs.
    entries = int(descriptor[0]) or 2**16
    first_mapped = int(descriptor[1])
    lut = _lut_values(item["LUTData"].value, entries, _is_little_endian(header))
    if lut.size == 0:
        return None
    index = np.clip(np.rint(values) - first_mapped, 0, lut.size - 1).astype(np.intp)
    # Some LUTs declare 16 bits but use fewer; scale by the larger of both ranges.
    top = max(float(2 ** int(descriptor[2]) - 1), float(lut.max()), 1.0)
    return _to_uint8(lut[index].astype(np.float64) * (255.0 / top))


def _lut_values(data: object, entries: int, little_endian: bool) -> np.ndarray:
    """LUT Data (US values or OW bytes) as an integer array of at most `entries` items."""
    if isinstance(data, bytes):
        if len(data) >= 2 * entries:
            words: np.ndarray = np.frombuffer(data, dtype="<u2" if little_endian else ">u2")
            return words[:entries].astype(np.int64)
        return np.frombuffer(data, dtype=np.uint8)[:entries].astype(np.int64)  # packed 8-bit
    if isinstance(data, int):
        return np.asarray([data], dtype=np.int64)
    return np.asarray(list(cast("list[int]", data)), dtype=np.int64)[:entries]


def _is_little_endian(header: Dataset) -> bool:
    meta = getattr(header, "file_meta", None)
    tsyntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if tsyntax:
        return bool(UID(str(tsyntax)).is_little_endian)
    return header.original_encoding[1] is not False


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Round and saturate display values to 0..255."""
    out: np.ndarray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out


def _stretch(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return _to_uint8((np.nan_to_num(values, nan=low) - low) * (255.0 / (high - low)))


def _palette_to_rgb(arr: np.ndarray, header: Dataset) -> np.ndarray:
    if arr.ndim != 2:
        raise RenderError("PALETTE COLOR image must have one sample per pixel")
    try:
        rgb = apply_color_lut(arr, header)[..., :3]
        if rgb.dtype == np.uint8:
            return np.ascontiguousarray(rgb)
        # 16-bit entries: some writers store 8-bit values in them, so check the LUT.
        descriptor = header.RedPaletteColorLookupTableDescriptor
        entries = int(descriptor[0]) or 2**16
        full = apply_color_lut(np.arange(int(descriptor[1]), int(descriptor[1]) + entries), header)
    except (ValueError, KeyError, AttributeError, TypeError, IndexError) as exc:
        raise RenderError(f"invalid Palette Color Lookup Table: {exc}") from exc
    shift = 8 if int(full[..., :3].max()) > 255 else 0
    return (rgb >> shift).astype(np.uint8)


def _rgb_to_8bit(arr: np.ndarray, bits_stored: int) -> np.ndarray:
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    top = float(2 ** min(max(bits_stored, 1), 32) - 1)
    out = arr.astype(np.float64) * (255.0 / top)
    return _to_uint8(out)


# -- imaging -------------------------------------------------------------------------


def _to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(arr), mode="L" if arr.ndim == 2 else "RGB")


def _apply_viewport(image: Image.Image, viewport: Viewport) -> Image.Image:
    cols, rows = image.size
    left, right, flip_x = _region(viewport.sx, viewport.sw, cols, "horizontal")
    top, bottom, flip_y = _region(viewport.sy, viewport.sh, rows, "vertical")
    if (left, top, right, bottom) != (0, 0, cols, rows):
        image = image.crop((left, top, right, bottom))
    if flip_x:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if flip_y:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    width, height = image.size
    scale = min(viewport.width / width, viewport.height / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS)


def _region(start: float, extent: float | None, limit: int, axis: str) -> tuple[int, int, bool]:
    """Pixel bounds [low, high) of a region axis clipped to the image, and whether to flip."""
    end = limit if extent is None else start + extent
    low, high = sorted((start, end))
    low_px, high_px = max(0, math.floor(low)), min(limit, math.ceil(high))
    if high_px <= low_px:
        raise RenderError(f"viewport source region is outside the image ({axis} axis)")
    return low_px, high_px, extent is not None and extent < 0


def _encode(image: Image.Image, image_format: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
    elif image_format == "GIF":
        # GIF is palette-based: grayscale maps 1:1, RGB needs an adaptive palette.
        if image.mode == "RGB":
            image = image.quantize(colors=256)
        image.save(buffer, format="GIF")
    else:
        image.save(buffer, format=image_format)
    return buffer.getvalue()


def _image_format(media_type: str) -> str:
    key = media_type.split(";", 1)[0].strip().lower()
    try:
        return MEDIA_TYPES[key]
    except KeyError:
        supported = ", ".join(MEDIA_TYPES)
        raise RenderError(
            f"unsupported rendered media type {media_type!r} (supported: {supported})"
        ) from None
