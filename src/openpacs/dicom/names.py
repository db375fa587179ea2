"""Person-name forms shared by ingest (index columns) and QIDO (query values).

Both sides must canonicalise and normalise names identically for matching to work, so
the rules live here, apart from either.
"""

from __future__ import annotations

import unicodedata
from typing import Final

_ACCENT_RANGES: Final = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)


def _is_accent(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _ACCENT_RANGES)


def normalize_name(value: str) -> str:
    """Upper-case, accent-free form for case-insensitive and prefix search.

    NFKD, then the "Combining Diacritical Marks" blocks are dropped, then NFC (so marks
    that are not accents, such as the kana voicing marks, recompose), then upper case.
    ``^``, ``=`` and wildcards are kept, so QIDO can apply it to query values too.
    """
    decomposed = unicodedata.normalize("NFKD", value)
    if decomposed.isascii():
        return decomposed.upper()
    kept = "".join(ch for ch in decomposed if not _is_accent(ch))
    return unicodedata.normalize("NFC", kept).upper()


def canonical_person_name(value: str) -> str:
    """Drop trailing empty components of each group and trailing empty groups."""
    groups = [group.rstrip("^") for group in value.split("=")]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def name_words(value: str) -> str:
    """Space-separated normalised words of every component of every group (deduplicated)."""
    words: dict[str, None] = {}
    for group in normalize_name(value).split("="):
        for component in group.split("^"):
            for word in component.split():
                words[word] = None
    return " ".join(words)


def normalise_person_name(value: str) -> str:
    """Any PN value (stored or searched for) in the form of the ``*_name_norm`` columns.

    ``Müller^Jürgen`` -> ``MULLER^JURGEN``; ``DOE^JOHN^^`` -> ``DOE^JOHN``; wildcards pass
    through. Orders, studies and queries all use this, so both sides always agree.
    """
    return normalize_name(canonical_person_name(value.strip()))
