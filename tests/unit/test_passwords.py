"""What a user's password must be: long enough and not among the commonest."""

from __future__ import annotations

import pytest

from openpacs.services.passwords import (
    MIN_PASSWORD_LENGTH,
    WeakPassword,
    check_password_strength,
    random_password,
)


@pytest.mark.parametrize("password", ["", "x", "123456789", "a" * (MIN_PASSWORD_LENGTH - 1)])
def test_a_short_password_is_refused(password: str) -> None:
    with pytest.raises(WeakPassword, match=f"at least {MIN_PASSWORD_LENGTH} characters"):
        check_password_strength(password)


@pytest.mark.parametrize("password", ["1234567890", "qwertyuiop", "Password123", " iloveyou1 "])
def test_a_common_password_is_refused_whatever_its_case(password: str) -> None:
    with pytest.raises(WeakPassword, match="10,000 most common"):
        check_password_strength(password)


@pytest.mark.parametrize("password", ["correct horse battery", "pw-clinic-b-2024"])
def test_a_long_uncommon_password_is_accepted(password: str) -> None:
    check_password_strength(password)


def test_the_first_start_password_passes_its_own_check() -> None:
    check_password_strength(random_password())
