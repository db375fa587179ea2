"""Failures of parse_instance name the instance whenever its dataset could be read."""

from __future__ import annotations

from dataclasses import replace

import pytest
from bench.dataset import make_instance

from openpacs.dicom import status
from openpacs.dicom.ingest import InvalidInstance, MissingUid, parse_instance
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
