"""English wording shared by the command line and the web pages."""

from __future__ import annotations

_SAME_IN_PLURAL = ("series", "equipment")


def plural(noun: str, count: int) -> str:
    """``"files"`` for many, ``"file"`` for one (``"series"`` for both)."""
    if count != 1 or noun.endswith(_SAME_IN_PLURAL) or not noun.endswith("s"):
        return noun
    return noun[:-1]


def counted(count: int, noun: str) -> str:
    """``"1 file"``, ``"3 files"``: ``noun`` is given in the plural."""
    return f"{count} {plural(noun, count)}"
