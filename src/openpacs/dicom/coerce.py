"""Attribute coercion of a missing Study or Series Instance UID (opt-in:
``OPENPACS_COERCE_MISSING_UIDS=true``; by default such files are refused with 0xA900).

Real files from old modalities and test sets lack them. An archive that accepts them must
file them somewhere, and the same file must always land in the same place (a re-send,
or the other images of the same exam), so the UIDs are *derived*, never random:

* Study Instance UID: from the patient (Patient ID, Issuer of Patient ID, Patient's
  Name, Birth Date) and the study's identifying attributes (Accession Number, Study ID,
  Study Date, Study Time): the images of one old exam come together in one study. When
  none of the study attributes is present, nothing says which images belong together:
  the SOP Instance UID is added, so each such image is a study of its own rather than
  merged with unrelated ones.
* Series Instance UID: from the Study Instance UID (the file's or the derived one) and
  Modality, Series Number, Series Date, Series Time and Series Description.

Each UID is ``2.25.`` followed by the integer of a name-based (SHA-1, version 5) UUID of
those values (PS3.5 B.2: no registered root is needed), the same scheme PixelMed uses
for reproducible UIDs. Only absent (or empty) UIDs are filled in; a present but invalid
UID is still refused.

The stored file carries the derived UIDs: a retrieved instance must match the index
(a Part-10 file without Study Instance UID, filed under study X, would confuse every
client). As dcm4chee's attribute coercion does, the change is recorded in the file: an
Original Attributes Sequence (0400,0561) item with Reason for the Attribute Modification
``COERCE``, Modifying System ``openpacs`` and the attributes that were absent (zero
length) in its Modified Attributes Sequence. The file is read whole and written again
with pydicom, in its own transfer syntax: this is the rare path, the usual store path
never comes here.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from pydicom import dcmread, dcmwrite
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

#: Fixed for ever: changing it would change every derived UID.
NAMESPACE: Final = uuid.UUID("6f1e4c2a-8d7b-5e3f-9a41-0c5d2b7e9f13")
MODIFYING_SYSTEM: Final = "openpacs"

_PATIENT: Final = ("PatientID", "IssuerOfPatientID", "PatientName", "PatientBirthDate")
_STUDY: Final = ("AccessionNumber", "StudyID", "StudyDate", "StudyTime")
_SERIES: Final = ("Modality", "SeriesNumber", "SeriesDate", "SeriesTime", "SeriesDescription")
_STUDY_UID: Final = 0x0020000D
_SERIES_UID: Final = 0x0020000E


class CoercionError(ValueError):
    """The file could not be read or written again (the message says why)."""


@dataclass(frozen=True)
class Coercion:
    """What was filled in: the derived UIDs (None for a UID the file had)."""

    sop_instance_uid: str
    study_instance_uid: str | None
    series_instance_uid: str | None

    def describe(self) -> str:
        """One line for the audit trail."""
        filled = [
            f"{name} {uid}"
            for name, uid in (
                ("Study Instance UID", self.study_instance_uid),
                ("Series Instance UID", self.series_instance_uid),
            )
            if uid is not None
        ]
        return (
            f"instance {self.sop_instance_uid} stored under derived {' and '.join(filled)} "
            "(missing in the file)"
        )


def _text(ds: Dataset, keyword: str) -> str:
    """An attribute's value as text, the same across pydicom versions ("" if absent)."""
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue | list):
        return "\\".join(str(item) for item in value)
    return str(value).strip("\x00 ")


def _uid(kind: str, parts: list[str]) -> str:
    name = "\x00".join([kind, *parts])
    return f"2.25.{uuid.uuid5(NAMESPACE, name).int}"


def _values(ds: Dataset, keywords: tuple[str, ...]) -> list[str]:
    return [f"{keyword}={_text(ds, keyword)}" for keyword in keywords]


def derive_study_uid(ds: Dataset) -> str:
    """The Study Instance UID of ``ds`` from its patient and study attributes."""
    parts = _values(ds, _PATIENT) + _values(ds, _STUDY)
    if not any(_text(ds, keyword) for keyword in _STUDY):
        parts.append(f"SOPInstanceUID={_text(ds, 'SOPInstanceUID')}")
    return _uid("study", parts)


def derive_series_uid(ds: Dataset, study_uid: str) -> str:
    """The Series Instance UID of ``ds`` in study ``study_uid``."""
    return _uid("series", [f"StudyInstanceUID={study_uid}", *_values(ds, _SERIES)])


def coerce_missing_uids(source: bytes | Path) -> tuple[bytes, Coercion]:
    """The Part-10 file ``source`` with its missing Study/Series Instance UIDs derived
    and recorded (see the module docstring), and what was filled in."""
    try:
        ds = dcmread(io.BytesIO(source) if isinstance(source, bytes) else source)
    except Exception as exc:  # pydicom raises many types for malformed input
        raise CoercionError(f"the file cannot be read again: {type(exc).__name__}: {exc}") from exc
    study = _text(ds, "StudyInstanceUID") or None
    series = _text(ds, "SeriesInstanceUID") or None
    derived_study = None if study else derive_study_uid(ds)
    study_uid = study or derived_study
    assert study_uid is not None
    derived_series = None if series else derive_series_uid(ds, study_uid)
    absent = [
        tag for tag, new in ((_STUDY_UID, derived_study), (_SERIES_UID, derived_series)) if new
    ]
    if derived_study is not None:
        ds.StudyInstanceUID = derived_study
    if derived_series is not None:
        ds.SeriesInstanceUID = derived_series
    _record(ds, absent)
    out = io.BytesIO()
    try:
        dcmwrite(out, ds, enforce_file_format=False)
    except Exception as exc:
        raise CoercionError(
            f"the file cannot be written again: {type(exc).__name__}: {exc}"
        ) from exc
    coercion = Coercion(_text(ds, "SOPInstanceUID"), derived_study, derived_series)
    return out.getvalue(), coercion


def _record(ds: Dataset, absent: list[int]) -> None:
    """Add an Original Attributes Sequence item: these attributes were absent."""
    modified = Dataset()
    for tag in absent:
        modified.add(DataElement(tag, "UI", ""))
    item = Dataset()
    item.SourceOfPreviousValues = ""
    item.AttributeModificationDateTime = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    item.ModifyingSystem = MODIFYING_SYSTEM
    item.ReasonForTheAttributeModification = "COERCE"
    item.ModifiedAttributesSequence = Sequence([modified])
    history = list(ds.get("OriginalAttributesSequence") or [])
    ds.OriginalAttributesSequence = Sequence([*history, item])
