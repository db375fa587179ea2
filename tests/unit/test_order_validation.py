"""Orders refuse what cannot be: a birth date in the future or two centuries ago, a
modality code that DICOM does not define (the API answers 400 naming the key)."""

from __future__ import annotations

from datetime import date

import pytest

from openpacs.services.errors import BadRequest
from openpacs.services.orders import check_birthdate, checked_modality

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize("code", ["CT", "mr", " us ", "RTSTRUCT", "OT", "DX", "SEG"])
def test_dicom_modalities_are_accepted_in_capitals(code: str) -> None:
    assert checked_modality(code) == code.strip().upper()


@pytest.mark.parametrize("code", ["XYZ", "C T", "CAT", "", "MRI", "ct1"])
def test_other_codes_are_refused(code: str) -> None:
    with pytest.raises(BadRequest, match=r"^Modality: .* is not a DICOM modality code"):
        checked_modality(code)


@pytest.mark.parametrize("born", [date(1930, 2, 28), date(2026, 6, 15), date(1877, 1, 1)])
def test_possible_birth_dates(born: date) -> None:
    check_birthdate(born, TODAY)


@pytest.mark.parametrize(
    ("born", "why"),
    [(date(2031, 1, 1), "is in the future"), (date(1850, 5, 1), "more than 150 years ago")],
)
def test_impossible_birth_dates(born: date, why: str) -> None:
    with pytest.raises(BadRequest, match=rf"^PatientBirthdate: .* {why}"):
        check_birthdate(born, TODAY)
