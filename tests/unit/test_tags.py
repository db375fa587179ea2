"""Tag ids as the custom API accepts them."""

from __future__ import annotations

import pytest

from openpacs.dicom.tags import InvalidTag, parse_tag, tag_key


@pytest.mark.parametrize(
    "text",
    [
        "00100010",
        "(0010,0010)",
        "0010,0010",
        "(0010, 0010)",
        " 00100010 ",
        "PatientName",
        "0x00100010",
    ],
)
def test_forms_of_patient_name(text: str) -> None:
    assert parse_tag(text) == 0x00100010


def test_lower_case_hex_and_private_tags() -> None:
    assert parse_tag("7fe00010") == 0x7FE00010
    assert parse_tag("(0029,10ab)") == 0x002910AB


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0010",
        "(0010,001)",
        "0010-0010",
        "NotAKeyword",
        "PatientName1",
        "(00100010)",
        "g0100010",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidTag) as info:
        parse_tag(text)
    assert repr(text) in str(info.value)


def test_tag_key() -> None:
    assert tag_key(0x0020000D) == "0020000D"
    assert tag_key(parse_tag("StudyInstanceUID")) == "0020000D"
