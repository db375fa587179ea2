"""Rendered images (openpacs.dicom.render) against the real DICOM corpus."""

from __future__ import annotations

import dataclasses
import io
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset

from openpacs.dicom.pixels import DecodedFrame, PixelDataError, number_of_frames, read_frame
from openpacs.dicom.render import render_frame, to_display_array
from openpacs.dicom.render_params import (
    MAX_VIEWPORT_SIDE,
    RenderError,
    Viewport,
    Window,
    parse_viewport_region,
    parse_window,
)

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR IS")

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dicom"
ALL_FILES = sorted(CORPUS.glob("*.dcm"))


@cache
def pydicom_can_decode(name: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dcmread(CORPUS / name, force=True).pixel_array  # noqa: B018
    except Exception:
        return False
    return True


def decode_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_array(path: Path, index: int = 0, **kwargs: object) -> np.ndarray:
    data = render_frame(path, index, media_type="image/png", **kwargs)  # type: ignore[arg-type]
    return np.asarray(decode_image(data))


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_decodable_image_renders(path: Path) -> None:
    if not pydicom_can_decode(path.name):
        # No pixel data, or corrupt on purpose: a clear error, never a crash.
        with pytest.raises(PixelDataError):
            render_frame(path, 0)
        return
    ds = dcmread(path, stop_before_pixels=True, force=True)
    size = (int(ds.Columns), int(ds.Rows))
    frames = number_of_frames(ds)
    for index in sorted({0, frames - 1}):
        image = decode_image(render_frame(path, index, media_type="image/png"))
        assert image.format == "PNG"
        assert image.size == size
        assert image.mode in ("L", "RGB")
    jpeg = decode_image(render_frame(path, 0))
    assert (jpeg.format, jpeg.size) == ("JPEG", size)
    thumb = decode_image(render_frame(path, 0, viewport=Viewport(64, 64)))
    assert max(thumb.size) == 64
    assert abs(thumb.size[0] / thumb.size[1] - size[0] / size[1]) < 0.1


# RG3 (CR, MONOCHROME1, 1760 x 1760): a lower leg between collimator blades. Direct
# exposure around the leg is stored high and must show dark; bone and the unexposed
# collimated margins are stored low and show bright, as on film.
RG3 = CORPUS / "pydicom-data__RG3_J2KI.dcm"
RG3_AIR = (slice(150, 880), slice(500, 590))
RG3_TIBIA = (slice(300, 880), slice(830, 870))


def test_monochrome1_is_inverted() -> None:
    frame = read_frame(RG3, 0)
    shown = to_display_array(frame)
    not_inverted = to_display_array(
        dataclasses.replace(frame, photometric_interpretation="MONOCHROME2")
    )
    assert np.array_equal(shown.astype(int), 255 - not_inverted.astype(int))
    assert shown[RG3_AIR].mean() < 40 < 200 < not_inverted[RG3_AIR].mean()
    assert shown[RG3_TIBIA].mean() > 150 > 100 > not_inverted[RG3_TIBIA].mean()


def test_rendered_monochrome1_file_has_dark_background() -> None:
    image = decode_image(render_frame(RG3, 0, media_type="image/png", viewport=(440, 440)))
    pixels = np.asarray(image, dtype=float)  # 1/4 scale
    assert image.mode == "L"
    air = pixels[40:220, 125:147].mean()
    assert air < 40
    assert pixels[75:220, 208:217].mean() - air > 100  # tibia much brighter than air


def test_narrow_window_saturates_more_than_wide_window() -> None:
    path = CORPUS / "pydicom__CT_small.dcm"
    narrow = png_array(path, window=Window(40, 20))
    wide = png_array(path, window=Window(40, 4000))

    def saturated(a: np.ndarray) -> int:
        return int(np.count_nonzero((a == 0) | (a == 255)))

    assert saturated(narrow) > 2 * saturated(wide)
    assert len(np.unique(narrow)) < len(np.unique(wide)) or saturated(wide) == 0


@pytest.mark.parametrize("function", ["linear", "linear_exact", "sigmoid"])
def test_window_functions_are_monotonic(function: str) -> None:
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 16, 12, 0
    frame = DecodedFrame(np.arange(4096, dtype=np.uint16).reshape(64, 64), ds, "MONOCHROME2")
    out = to_display_array(frame, window=Window(2048, 1000, function))  # type: ignore[arg-type]
    flat = out.ravel().astype(int)
    assert np.all(np.diff(flat) >= 0)
    assert flat[0] == 0 and flat[-1] == 255
    assert abs(int(out.ravel()[2048]) - 128) <= 1


def test_linear_window_matches_ps33_definition() -> None:
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 8, 8, 0
    frame = DecodedFrame(np.arange(256, dtype=np.uint8).reshape(16, 16), ds, "MONOCHROME2")
    out = to_display_array(frame, window=Window(128, 1)).ravel()
    # Width 1 is a threshold: values below the center are black, the rest white.
    assert out[127] == 0 and out[128] == 255
    out = to_display_array(frame, window=Window(100.5, 101)).ravel()  # 50..150 -> 0..255
    assert out[50] == 0 and out[150] == 255 and abs(int(out[100]) - 128) <= 1


def test_header_window_is_used_by_default() -> None:
    path = CORPUS / "nibabel__0.dcm"  # Window Center 468 / Width 1016
    assert np.array_equal(png_array(path), png_array(path, window=Window(468, 1016)))


def test_first_of_multiple_header_windows_is_used() -> None:
    path = CORPUS / "pydicom__examples_overlay.dcm"  # Window Center [450, 200]
    assert np.array_equal(png_array(path), png_array(path, window=Window(450, 790)))


def test_enhanced_ct_uses_functional_group_window_and_rescale() -> None:
    path = CORPUS / "pydicom-data__eCT_Supplemental.dcm"
    # Shared functional groups: rescale -1024/1, window 49/102 (in HU).
    default = png_array(path, 1)
    assert np.array_equal(default, png_array(path, 1, window=Window(49, 102)))
    raw = read_frame(path, 1).array.astype(float) - 1024
    low, high = 49 - 0.5 - 101 / 2, 49 - 0.5 + 101 / 2
    assert np.all(default[raw <= low] == 0)
    assert np.all(default[raw > high] == 255)


def test_voi_lut_sequence_is_applied() -> None:
    path = CORPUS / "pydicom-data__vlut_04.dcm"  # 8-bit identity LUT with 16-bit entries
    stored = read_frame(path, 0).array
    assert np.array_equal(png_array(path), stored)


def test_palette_colour_is_rendered_in_colour() -> None:
    rgb = png_array(CORPUS / "pydicom__examples_palette.dcm")
    assert rgb.shape == (350, 800, 3)
    assert np.count_nonzero(rgb[..., 0].astype(int) != rgb[..., 2].astype(int)) > 100


def test_binary_segmentation_is_black_and_white() -> None:
    out = png_array(CORPUS / "pydicom-data__liver.dcm", 1)
    assert set(np.unique(out).tolist()) <= {0, 255}
    assert np.count_nonzero(out) > 0


def test_ybr_jpeg_renders_like_rgb_original() -> None:
    rgb = png_array(CORPUS / "pydicom__SC_rgb_rle.dcm").astype(int)
    for name in ["pydicom__SC_rgb_jpeg_dcmtk.dcm", "pydicom__SC_ybr_full_422_uncompressed.dcm"]:
        other = png_array(CORPUS / name).astype(int)
        assert np.abs(other - rgb).mean() < 3, name


def test_big_endian_renders_like_little_endian() -> None:
    assert np.array_equal(
        png_array(CORPUS / "pydicom__MR_small_bigendian.dcm"),
        png_array(CORPUS / "pydicom__MR_small.dcm"),
    )


def test_rgb_with_more_than_8_bits_is_scaled() -> None:
    ds = Dataset()
    ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 16, 12, 0
    arr = np.zeros((2, 2, 3), dtype=np.uint16)
    arr[0, 0] = (4095, 2048, 0)
    out = to_display_array(DecodedFrame(arr, ds, "RGB"))
    assert out.dtype == np.uint8
    assert out[0, 0].tolist() == [255, 128, 0]


def test_unsupported_photometric_interpretation() -> None:
    ds = Dataset()
    ds.BitsAllocated, ds.BitsStored = 8, 8
    with pytest.raises(RenderError, match="Photometric Interpretation"):
        to_display_array(DecodedFrame(np.zeros((2, 2, 4), np.uint8), ds, "CMYK"))


@pytest.mark.parametrize(
    ("media_type", "fmt"),
    [("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/gif", "GIF"), ("IMAGE/PNG", "PNG")],
)
def test_media_types(media_type: str, fmt: str) -> None:
    for name in ["pydicom__CT_small.dcm", "pydicom__SC_rgb_rle.dcm"]:
        image = decode_image(render_frame(CORPUS / name, 0, media_type=media_type))
        assert image.format == fmt


@pytest.mark.parametrize("media_type", ["image/webp", "application/dicom", "text/html", ""])
def test_unsupported_media_type(media_type: str) -> None:
    with pytest.raises(RenderError, match="unsupported rendered media type"):
        render_frame(CORPUS / "pydicom__CT_small.dcm", 0, media_type=media_type)


def test_quality_changes_jpeg_size_and_is_validated() -> None:
    path = CORPUS / "pydicom-data__JPGLosslessP14SV1_1s_1f_8b.dcm"
    assert len(render_frame(path, 0, quality=20)) < len(render_frame(path, 0, quality=95))
    for quality in (0, 101):
        with pytest.raises(RenderError, match="quality"):
            render_frame(path, 0, quality=quality)


@pytest.mark.parametrize(
    ("name", "viewport", "size"),
    [
        ("pydicom__MR_small.dcm", (256, 128), (128, 128)),  # scaled up, limited by height
        ("pydicom__MR_small.dcm", (32, 64), (32, 32)),
        ("pydicom__JPGExtended.dcm", (100, 100), (25, 100)),  # 256 x 1024
        ("pydicom-data__US1_J2KI.dcm", (320, 320), (320, 240)),  # 640 x 480
    ],
)
def test_viewport_fits_keeping_aspect_ratio(
    name: str, viewport: tuple[int, int], size: tuple[int, int]
) -> None:
    data = render_frame(CORPUS / name, 0, media_type="image/png", viewport=viewport)
    assert decode_image(data).size == size


def test_viewport_source_region_crops_and_flips() -> None:
    path = CORPUS / "pydicom__CT_small.dcm"  # 128 x 128
    full = png_array(path)
    quadrant = png_array(path, viewport=Viewport(64, 64, 0, 0, 64, 64))
    assert np.array_equal(quadrant, full[:64, :64])
    flipped = png_array(path, viewport=Viewport(128, 128, 128, 0, -128, None))
    assert np.array_equal(flipped, full[:, ::-1])
    flipped_v = png_array(path, viewport=parse_viewport_region("128,128,0,128,,-128"))
    assert np.array_equal(flipped_v, full[::-1, :])
    with pytest.raises(RenderError, match="outside the image"):
        render_frame(path, 0, viewport=Viewport(10, 10, 500, 0, 10, 10))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("40,400", Window(40, 400, "linear")),
        ("40,400,linear", Window(40, 400, "linear")),
        (" -600.5 , 1500 , LINEAR-EXACT ", Window(-600.5, 1500, "linear_exact")),
        ("40,400,linear_exact", Window(40, 400, "linear_exact")),
        ("1e3,2e3,sigmoid", Window(1000, 2000, "sigmoid")),
        ("40,0.5,sigmoid", Window(40, 0.5, "sigmoid")),
    ],
)
def test_parse_window(value: str, expected: Window) -> None:
    assert parse_window(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "center,width"),
        ("40", "center,width"),
        ("40,400,linear,extra", "center,width"),
        ("abc,400", "window center must be a number"),
        ("40,", "window width must be a number"),
        ("nan,400", "must be a number"),
        ("40,400,cubic", "linear, linear-exact or sigmoid"),
        ("40,0", "width"),
        ("40,0.5", ">= 1"),
        ("40,-5,sigmoid", "> 0"),
    ],
)
def test_parse_window_rejects(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_window(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("512,512", (512, 512)), (" 64 , 32 ", (64, 32)), ("512,256,10,10,100,100", (512, 256))],
)
def test_parse_viewport(value: str, expected: tuple[int, int]) -> None:
    viewport = parse_viewport_region(value)
    assert (viewport.width, viewport.height) == expected


def test_parse_viewport_region() -> None:
    assert parse_viewport_region("100,50") == Viewport(100, 50)
    assert parse_viewport_region("100,50,,,40,") == Viewport(100, 50, 0, 0, 40, None)
    assert parse_viewport_region("100,50,1.5,2,-30,20") == Viewport(100, 50, 1.5, 2, -30, 20)


@pytest.mark.parametrize(
    "value",
    ["", "512", "0,10", "10,0", "-5,10", "a,b", "1.5,10", "10,10,1,2", "10,10,-1,0,5,5",
     "10,10,0,0,0,5", "10,10,x,0,5,5"],
)  # fmt: skip
def test_parse_viewport_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="viewport"):
        parse_viewport_region(value)


def test_window_is_ignored_for_colour_images() -> None:
    path = CORPUS / "pydicom__SC_rgb_rle.dcm"
    assert np.array_equal(png_array(path), png_array(path, window=Window(10, 2)))


def test_render_errors_for_bad_frames() -> None:
    with pytest.raises(PixelDataError, match="out of range"):
        render_frame(CORPUS / "pydicom__CT_small.dcm", 1)
    with pytest.raises(PixelDataError, match="no pixel data"):
        render_frame(CORPUS / "pydicom__test-SR.dcm", 0)


@pytest.mark.parametrize("value", ["100000,100000", "8193,10", "10,8193", "9000,9000,0,0,1,1"])
def test_a_viewport_beyond_the_bound_is_refused_before_any_work(value: str) -> None:
    # Unbounded, 100000x100000 on a 64x64 image grew the server past 4 GB.
    with pytest.raises(ValueError, match=f"at most {MAX_VIEWPORT_SIDE} pixels"):
        parse_viewport_region(value)


def test_the_largest_viewport_is_still_rendered() -> None:
    data = render_frame(
        CORPUS / "pydicom__CT_small.dcm",
        0,
        media_type="image/png",
        viewport=(MAX_VIEWPORT_SIDE, 16),
    )
    assert decode_image(data).size == (16, 16)
