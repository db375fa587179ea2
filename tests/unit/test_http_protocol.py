"""Reading a chunk's size back from the bytes fed to the HTTP parser."""

from __future__ import annotations

import pytest

from openpacs.web.http_protocol import OVERFLOW, chunk_size


@pytest.mark.parametrize(
    ("buffer", "size"),
    [
        (b"ffffffffffffffff\r\n", 2**64 - 1),
        (b"...\r\n--b\r\n\r\n1a2b\r\n", 0x1A2B),
        (b"tail of the last chunk\r\n400;name=value\r\n", 0x400),
        (b"0000000000000000000010\r\n", 16),
        (b"not a size\r\n", None),
        (b"\r\n", None),
    ],
)
def test_the_size_is_the_last_line_of_what_was_fed(buffer: bytes, size: int | None) -> None:
    assert chunk_size(buffer) == size


def test_sixteen_f_is_an_overflow() -> None:
    assert (chunk_size(b"ffffffffffffffff\r\n") or 0) >= OVERFLOW
