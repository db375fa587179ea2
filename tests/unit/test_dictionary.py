"""openpacs/dicom/dictionary.py answers as pydicom's ``datadict`` does, for every entry:
it reads pydicom's own data, without pydicom's runtime, so a server starts without it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydicom import datadict
from pydicom._dicom_dict import DicomDictionary

from openpacs.dicom import dictionary


def test_every_keyword_names_the_tag_pydicom_gives_it() -> None:
    keywords = {entry[4] for entry in DicomDictionary.values()}
    wrong = [k for k in keywords if dictionary.tag_for_keyword(k) != datadict.tag_for_keyword(k)]
    assert not wrong
    assert dictionary.tag_for_keyword("PatientName") == 0x00100010
    assert dictionary.tag_for_keyword("NoSuchKeyword") is None


# Public tags, repeating groups (curves, overlays, 1000-series), group lengths, private
# tags and creators, and tags no one defined.
SAMPLES = [
    *sorted(DicomDictionary)[::7],
    0x60003000, 0x60023000, 0x601E0010, 0x50000005, 0x50FE3000, 0x10000000,
    0x00080000, 0x00090010, 0x00091001, 0x00290010, 0x7FE00010, 0x00420011,
    0x00020099, 0x7FFF0010, 0xFFFEE000,
]  # fmt: skip


@pytest.mark.parametrize("tag", SAMPLES, ids=lambda tag: f"{tag:08X}")
def test_keyword_and_vr_of_a_tag_are_pydicoms(tag: int) -> None:
    assert dictionary.keyword_for_tag(tag) == datadict.keyword_for_tag(tag)
    try:
        expected = datadict.dictionary_VR(tag)
    except KeyError:
        with pytest.raises(KeyError):
            dictionary.dictionary_vr(tag)
    else:
        assert dictionary.dictionary_vr(tag) == expected


def test_it_loads_without_pydicom_and_uses_pydicoms_copy_once_loaded() -> None:
    probe = (
        "import sys; from openpacs.dicom import dictionary; "
        "assert 'pydicom' not in sys.modules, 'pydicom was imported'; "
        "assert dictionary.tag_for_keyword('StudyInstanceUID') == 0x0020000D; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    assert dictionary.DICTIONARY is DicomDictionary or DicomDictionary == dictionary.DICTIONARY
