"""The one HTTP Basic decoder, shared by the user middleware and share links."""

from __future__ import annotations

import base64

import pytest

from openpacs.protocol.basic_auth import basic_credentials


def header(text: str, scheme: str = "Basic") -> str:
    return f"{scheme} {base64.b64encode(text.encode()).decode()}"


def test_user_and_password() -> None:
    assert basic_credentials(header("dr@clinic.example:s3cret")) == ("dr@clinic.example", "s3cret")


def test_the_password_may_contain_colons_and_be_empty() -> None:
    assert basic_credentials(header("u:a:b")) == ("u", "a:b")
    assert basic_credentials(header("u:")) == ("u", "")


def test_the_scheme_is_case_insensitive_and_utf8_is_decoded() -> None:
    assert basic_credentials(header("müller:pässword", scheme="bAsIc")) == ("müller", "pässword")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer abc",
        "Basic",
        "Basic not*base64",
        header("no-colon"),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
    ids=["empty", "bearer", "no-token", "not-base64", "no-colon", "not-utf8"],
)
def test_anything_else_is_no_credentials(value: str) -> None:
    assert basic_credentials(value) is None
