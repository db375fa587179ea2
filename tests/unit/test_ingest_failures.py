"""Failures of parse_instance name the instance whenever its dataset could be read."""

from __future__ import annotations

import io
import struct
from dataclasses import replace

import pydicom
import pytest
from bench.dataset import make_instance

from openpacs.dicom import ingest, status
from openpacs.dicom.ingest import parse_instance
from openpacs.dicom.invalid import InvalidInstance, MissingUid
from openpacs.dicom.json_model import MAX_SEQUENCE_DEPTH, TOO_DEEP
from tests.support.specs import small_spec

CT = "1.2.840.10008.5.1.4.1.1.2"


def failure(data: bytes, expected_study_uid: str | None = None) -> InvalidInstance:
    with pytest.raises(InvalidInstance) as caught:
        parse_instance(data, expected_study_uid=expected_study_uid)
    return caught.value


def test_a_study_mismatch_names_the_instance() -> None:
    spec = small_spec("named", 1, 1)
    error = failure(make_instance(spec), expected_study_uid="1.2.3")
    assert error.failure_code == status.STUDY_UID_MISMATCH
    assert (error.sop_class_uid, error.sop_instance_uid) == (CT, spec.sop_uid)


def test_a_truncated_file_names_the_instance() -> None:
    spec = small_spec("cut", 1, 1)
    error = failure(make_instance(spec)[:-20])
    assert error.failure_code == status.CANNOT_UNDERSTAND
    assert (error.sop_class_uid, error.sop_instance_uid) == (CT, spec.sop_uid)


def test_a_missing_study_uid_says_which_and_names_the_instance() -> None:
    spec = replace(small_spec("nostudy", 1, 1), study_uid="")
    error = failure(make_instance(spec))
    assert isinstance(error, MissingUid) and error.tag == "0020000D"
    assert error.failure_code == status.DATASET_DOES_NOT_MATCH_SOP_CLASS
    assert error.sop_instance_uid == spec.sop_uid


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # pydicom on the bad UID
def test_an_invalid_uid_is_not_repeated_back() -> None:
    spec = replace(small_spec("badsop", 1, 1), sop_uid="1.2.x")
    error = failure(make_instance(spec))
    assert "not a valid UID" in error.reason
    assert (error.sop_class_uid, error.sop_instance_uid) == (CT, "")


@pytest.mark.filterwarnings("ignore:End of file reached")  # pydicom on the junk
def test_what_is_not_a_dicom_file_names_nothing() -> None:
    error = failure(b"\0" * 128 + b"DICM" + b"\xff" * 40)
    assert (error.sop_class_uid, error.sop_instance_uid) == ("", "")
    error = failure(b"hello")
    assert (error.sop_class_uid, error.sop_instance_uid) == ("", "")


# -- refused with words a user understands, never a Python exception name ----------------


def nested_sequences(data: bytes, depth: int) -> bytes:
    """``data`` (Explicit VR Little Endian) with a Content Sequence nested ``depth`` deep,
    each level one undefined-length item, placed before Pixel Data (the last element)."""
    sequence = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF)
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    item_end = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    sequence_end = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    at = data.rindex(struct.pack("<HH", 0x7FE0, 0x0010))
    nested = (sequence + item) * depth + (item_end + sequence_end) * depth
    return data[:at] + nested + data[at:]


def with_values(data: bytes, **values: object) -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(data))
    for keyword, value in values.items():
        setattr(dataset, keyword, value)
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_sequences_nested_within_the_bound_are_stored() -> None:
    spec = small_spec("nested", 1, 1)
    parsed = parse_instance(nested_sequences(make_instance(spec), MAX_SEQUENCE_DEPTH))
    assert parsed.sop_instance_uid == spec.sop_uid


@pytest.mark.parametrize("depth", [MAX_SEQUENCE_DEPTH + 1, 3000])
def test_sequences_nested_thousands_deep_are_refused_in_words(depth: int) -> None:
    error = failure(nested_sequences(make_instance(small_spec("deep", 1, 1)), depth))
    assert error.failure_code == status.CANNOT_UNDERSTAND
    assert error.reason == TOO_DEEP
    assert f"more than {MAX_SEQUENCE_DEPTH} levels" in error.reason


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"SamplesPerPixel": 0}, "Samples per Pixel (0028,0002) is 0"),
        ({"SamplesPerPixel": 2}, "Samples per Pixel (0028,0002) is 2"),
        ({"PhotometricInterpretation": "JUNK"}, "'JUNK' is not a DICOM term"),
    ],
)
def test_pixel_data_that_can_never_be_decoded_is_refused_at_store_time(
    values: dict[str, object], reason: str
) -> None:
    spec = small_spec("undecodable", 1, 1)
    error = failure(with_values(make_instance(spec), **values))
    assert error.failure_code == status.CANNOT_UNDERSTAND
    assert reason in error.reason
    assert error.sop_instance_uid == spec.sop_uid


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (AttributeError("'NoneType' object has no attribute 'VR'"), "damaged or is not DICOM"),
        (TypeError("unsupported operand type(s) for +"), "damaged or is not DICOM"),
        (ValueError("Invalid tag length 7"), "Invalid tag length 7"),
        (EOFError("End of file reached before delimiter"), "End of file reached"),
    ],
)
def test_a_reader_failure_is_described_without_internal_names(
    monkeypatch: pytest.MonkeyPatch, raised: Exception, reason: str
) -> None:
    def broken_reader(*_args: object, **_kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(ingest, "dcmread", broken_reader)
    error = failure(make_instance(small_spec("damaged", 1, 1)))
    assert error.failure_code == status.CANNOT_UNDERSTAND
    assert error.reason == f"cannot parse the DICOM file: {reason}" or reason in error.reason
    assert type(raised).__name__ not in error.reason
    assert "NoneType" not in error.reason
