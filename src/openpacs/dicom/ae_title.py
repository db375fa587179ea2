"""AE titles (PS3.5 6.2, VR AE): checked once, wherever one is configured."""

from __future__ import annotations

__all__ = ["check_ae_title"]


def check_ae_title(value: str) -> str:
    """The AE title without its insignificant leading and trailing spaces; ValueError
    unless it has 1 to 16 printable ASCII characters, none a backslash."""
    title = value.strip(" ")
    if not title or len(title) > 16:
        raise ValueError(f"an AE title has 1 to 16 characters, not {value!r}")
    if not title.isascii() or "\\" in title or any(ord(c) < 32 or ord(c) == 127 for c in title):
        raise ValueError(
            f"an AE title holds printable ASCII characters without a backslash, not {value!r}"
        )
    return title
