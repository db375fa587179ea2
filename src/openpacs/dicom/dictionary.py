"""The DICOM data dictionary (keyword, tag, VR), read from pydicom's data without its runtime.

The search side of the server (QIDO, the attribute table, tag parsing, XML metadata)
needs only the dictionary. ``import pydicom`` also loads NumPy, its pixel handlers and the
codecs' plugins, about a quarter of a server's start, which a restarted server must not
wait for before its first answer ("answer within 1 s"). pydicom's dictionary is a data
module (``pydicom/_dicom_dict.py``, two dict literals, no imports); it is executed here on
its own, from pydicom's installed files, so the dictionary stays pydicom's. Once pydicom
itself is loaded, its copy is used instead.

The look-ups answer as pydicom's ``datadict`` functions of the same names do (tested
against them for every entry).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: VR, VM, name, "Retired" or "", keyword
Entry = tuple[str, str, str, str, str]


def _data_module() -> ModuleType:
    loaded = sys.modules.get("pydicom._dicom_dict")
    if loaded is not None:
        return loaded
    # find_spec of a top-level name locates the package without executing it.
    package = importlib.util.find_spec("pydicom")
    if package is None or not package.submodule_search_locations:
        raise ImportError("pydicom is not installed")
    source = Path(next(iter(package.submodule_search_locations))) / "_dicom_dict.py"
    spec = importlib.util.spec_from_file_location("openpacs.dicom._pydicom_dictionary", source)
    if spec is None or spec.loader is None:
        raise ImportError(f"pydicom's dictionary is missing: {source}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its compiled form is cached beside it, as for any import
    return module


_data = _data_module()
DICTIONARY: dict[int, Entry] = _data.DicomDictionary
_REPEATERS: dict[str, Entry] = _data.RepeatersDictionary
_KEYWORDS: dict[str, int] = {entry[4]: tag for tag, entry in DICTIONARY.items()}
# A repeating group's mask such as "60xx3000": the tag bits that must equal the mask's
# digits, and the digits themselves ("x" positions cleared in both).
_MASKS: list[tuple[int, int, str]] = [
    (
        int(mask.replace("x", "0"), 16),
        int("".join("0" if c == "x" else "F" for c in mask), 16),
        mask,
    )
    for mask in _REPEATERS
]


def entry(tag: int) -> Entry:
    """The dictionary entry of a public tag, repeating groups (60xx, 50xx, ...) included;
    raises KeyError for a tag the dictionary does not name (private ones among them)."""
    found = DICTIONARY.get(tag)
    if found is not None:
        return found
    if not (tag >> 16) & 1:
        for digits, significant, mask in _MASKS:
            if (tag ^ digits) & significant == 0:
                return _REPEATERS[mask]
    raise KeyError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) is not in the DICOM dictionary")


def tag_for_keyword(keyword: str) -> int | None:
    """The tag of a keyword (``PatientName`` -> 0x00100010), None when none has it."""
    return _KEYWORDS.get(keyword)


def keyword_for_tag(tag: int) -> str:
    """The keyword of a tag, "" when the dictionary does not name it."""
    try:
        return entry(tag)[4]
    except KeyError:
        return ""


def dictionary_vr(tag: int) -> str:
    """The VR the dictionary gives a tag ("US or SS" stays so); raises KeyError as ``entry``."""
    return entry(tag)[0]
