"""The STOW-RS request checks of protocol/stow_request.py (no server)."""

from __future__ import annotations

import pytest

from openpacs.protocol.multipart import MultipartError
from openpacs.protocol.stow_request import UnsupportedMediaType, part_refusal, request_boundary


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/related; type=application/dicom; boundary=abc",
        'multipart/related; boundary="abc"; type="application/dicom"',
        "Multipart/Related; boundary=abc",  # the part type defaults to DICOM
    ],
)
def test_the_boundary_of_a_dicom_multipart_request(content_type: str) -> None:
    assert request_boundary(content_type) == "abc"


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("", "Content-Type is missing"),
        ("application/dicom", "unsupported media type application/dicom"),
        ("multipart/form-data; boundary=x", "unsupported media type multipart/form-data"),
        ("multipart/related; type=application/dicom+json; boundary=x", "unsupported part type"),
    ],
)
def test_other_media_types_are_unsupported(content_type: str, words: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=words):
        request_boundary(content_type)


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("multipart/related; type=application/dicom", "no boundary"),
        ("multipart/related; boundary=", "no boundary"),
        ("multipart related; boundary=x", "malformed Content-Type"),
    ],
)
def test_a_malformed_header_is_a_multipart_error(content_type: str, words: str) -> None:
    with pytest.raises(MultipartError, match=words):
        request_boundary(content_type)


def test_parts_without_a_type_or_of_dicom_are_stored_others_refused() -> None:
    assert part_refusal({}) is None
    assert part_refusal({"content-type": "application/dicom"}) is None
    assert part_refusal({"content-type": "Application/DICOM; transfer-syntax=*"}) is None
    refusal = part_refusal({"content-type": "image/jpeg"})
    assert refusal is not None and "image/jpeg" in refusal
    unreadable = part_refusal({"content-type": "/"})
    assert unreadable is not None and "unreadable" in unreadable
