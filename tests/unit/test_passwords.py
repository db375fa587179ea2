"""What a user's password must be: long enough and not among the commonest; and the hash a
sign-in naming no user is checked against."""

from __future__ import annotations

import pytest

from openpacs.services import passwords
from openpacs.services.passwords import (
    MIN_PASSWORD_LENGTH,
    UNKNOWN_USER_HASH,
    WeakPassword,
    check_password_strength,
    hash_password,
    random_password,
    verify_password,
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


def test_the_unknown_user_hash_costs_what_a_real_hash_costs() -> None:
    """Same algorithm and parameters as a user's hash (else an unknown e-mail address
    would answer sooner or later than a known one), and no password matches it."""
    assert not passwords._hasher.check_needs_rehash(UNKNOWN_USER_HASH)
    assert UNKNOWN_USER_HASH.split("$")[:4] == hash_password("x" * 12).split("$")[:4]
    assert not verify_password(UNKNOWN_USER_HASH, "")
    assert not verify_password(UNKNOWN_USER_HASH, random_password())
