"""A DICOMDIR built from index metadata alone, for patient-CD folders and ZIP downloads.

A streamed ZIP cannot go back and read the files it sent, and pydicom's ``FileSet``
wants the datasets themselves (it stages a copy of each). This module needs only what
the index keeps per instance (patient, study, series and instance keys, SOP class, SOP
instance and transfer syntax UIDs) and returns two things:

- :func:`plan_file_set`: the File ID of every instance, in the PS3.10/PS3.11 form
  (``DICOM/PAT00001/STU00001/SER00001/IMG00001``: at most 8 components of at most
  8 characters from ``A-Z0-9_``), so the ZIP entries or files get those names;
- :func:`build_dicomdir`: the Part-10 bytes of the ``DICOMDIR`` (Media Storage Directory,
  Explicit VR Little Endian) with PATIENT, STUDY, SERIES and IMAGE (or the record type
  of the SOP class) records, linked by byte offsets.

Pure: no I/O. The offsets count from the first byte of the file (the preamble), as
PS3.10 and readers such as pydicom's ``FileSet`` expect; every record is encoded once to
learn its length, then once more with the offsets filled in (their values have a fixed
size, so the lengths do not change).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_dataset
from pydicom.uid import ExplicitVRLittleEndian, MediaStorageDirectoryStorage, generate_uid

ROOT = "DICOM"
MAX_PER_LEVEL = 99_999
_PREAMBLE = 128 + 4  # preamble and "DICM"
_ITEM_HEADER = 8  # item tag and length

# Fourth-level record types of the common non-image SOP classes (PS3.3 F.5); any other
# class gets an IMAGE record.
_RECORD_TYPES = {
    "1.2.840.10008.5.1.4.1.1.481.2": "RT DOSE",
    "1.2.840.10008.5.1.4.1.1.481.3": "RT STRUCTURE SET",
    "1.2.840.10008.5.1.4.1.1.481.5": "RT PLAN",
    "1.2.840.10008.5.1.4.1.1.481.4": "RT TREAT RECORD",
    "1.2.840.10008.5.1.4.1.1.88.11": "SR DOCUMENT",
    "1.2.840.10008.5.1.4.1.1.88.22": "SR DOCUMENT",
    "1.2.840.10008.5.1.4.1.1.88.33": "SR DOCUMENT",
    "1.2.840.10008.5.1.4.1.1.88.59": "KEY OBJECT DOC",
    "1.2.840.10008.5.1.4.1.1.11.1": "PRESENTATION",
    "1.2.840.10008.5.1.4.1.1.104.1": "ENCAP DOC",
    "1.2.840.10008.5.1.4.1.1.9.1.1": "WAVEFORM",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "WAVEFORM",
}


@dataclass(frozen=True)
class DicomdirInstance:
    """What a DICOMDIR needs of one instance (all text as decoded strings)."""

    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    study_instance_uid: str
    series_instance_uid: str
    patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    study_id: str = ""
    accession_number: str = ""
    modality: str = ""
    series_number: int | None = None
    instance_number: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> DicomdirInstance:
        """From a dataset read with its file meta (``dcmread(..., stop_before_pixels=True)``)."""
        meta = getattr(ds, "file_meta", None)
        syntax = str(getattr(meta, "TransferSyntaxUID", "") or ExplicitVRLittleEndian)
        return cls(
            sop_instance_uid=_text(ds.get("SOPInstanceUID")),
            sop_class_uid=_text(ds.get("SOPClassUID")),
            transfer_syntax_uid=syntax,
            study_instance_uid=_text(ds.get("StudyInstanceUID")),
            series_instance_uid=_text(ds.get("SeriesInstanceUID")),
            patient_id=_text(ds.get("PatientID")),
            patient_name=_text(ds.get("PatientName")),
            patient_birth_date=_text(ds.get("PatientBirthDate")),
            patient_sex=_text(ds.get("PatientSex")),
            study_date=_text(ds.get("StudyDate")),
            study_time=_text(ds.get("StudyTime")),
            study_description=_text(ds.get("StudyDescription")),
            study_id=_text(ds.get("StudyID")),
            accession_number=_text(ds.get("AccessionNumber")),
            modality=_text(ds.get("Modality")),
            series_number=_number(ds.get("SeriesNumber")),
            instance_number=_number(ds.get("InstanceNumber")),
        )

    @classmethod
    def from_json(cls, item: Mapping[str, Any], transfer_syntax_uid: str) -> DicomdirInstance:
        """From an instance's DICOM JSON (PS3.18 F.2), as the index keeps it."""

        def get(tag: str) -> Any:
            element = item.get(tag)
            values = element.get("Value") if isinstance(element, dict) else None
            if not values:
                return None
            value = values[0]
            return value.get("Alphabetic", "") if isinstance(value, dict) else value

        return cls(
            sop_instance_uid=_text(get("00080018")),
            sop_class_uid=_text(get("00080016")),
            transfer_syntax_uid=transfer_syntax_uid or ExplicitVRLittleEndian,
            study_instance_uid=_text(get("0020000D")),
            series_instance_uid=_text(get("0020000E")),
            patient_id=_text(get("00100020")),
            patient_name=_text(get("00100010")),
            patient_birth_date=_text(get("00100030")),
            patient_sex=_text(get("00100040")),
            study_date=_text(get("00080020")),
            study_time=_text(get("00080030")),
            study_description=_text(get("00081030")),
            study_id=_text(get("00200010")),
            accession_number=_text(get("00080050")),
            modality=_text(get("00080060")),
            series_number=_number(get("00200011")),
            instance_number=_number(get("00200013")),
        )


def _text(value: Any) -> str:
    value = getattr(value, "value", value)
    return "" if value is None else str(value).strip()


def _number(value: Any) -> int | None:
    value = getattr(value, "value", value)
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- file IDs


@dataclass(frozen=True)
class FileSetPlan:
    """The File ID of each instance, by SOP Instance UID, and the tree they form."""

    file_ids: dict[str, tuple[str, ...]]
    patients: list[_Patient]

    def path(self, sop_instance_uid: str) -> str:
        """The File ID as a relative path with ``/`` (a ZIP entry name)."""
        return "/".join(self.file_ids[sop_instance_uid])


@dataclass
class _Series:
    first: DicomdirInstance
    instances: list[DicomdirInstance]


@dataclass
class _Study:
    first: DicomdirInstance
    series: list[_Series]


@dataclass
class _Patient:
    first: DicomdirInstance
    studies: list[_Study]


def _sorted_instances(instances: Iterable[DicomdirInstance]) -> list[DicomdirInstance]:
    def key(i: DicomdirInstance) -> tuple[Any, ...]:
        return (
            i.patient_id,
            i.patient_name,
            i.study_date,
            i.study_instance_uid,
            i.series_number if i.series_number is not None else 1 << 31,
            i.series_instance_uid,
            i.instance_number if i.instance_number is not None else 1 << 31,
            i.sop_instance_uid,
        )

    unique = {i.sop_instance_uid: i for i in instances}
    return sorted(unique.values(), key=key)


def plan_file_set(instances: Iterable[DicomdirInstance]) -> FileSetPlan:
    """Group the instances into patients, studies and series and name every file.

    Instances are ordered by patient, study date, series number and instance number
    (so the numbers in the names follow what a viewer shows); the same SOP Instance UID
    twice is one instance. ValueError when a level holds more than 99,999 entries.
    """
    patients: dict[tuple[str, str], _Patient] = {}
    studies: dict[str, _Study] = {}
    series: dict[str, _Series] = {}
    for item in _sorted_instances(instances):
        patient = patients.get((item.patient_id, item.patient_name))
        if patient is None:
            patient = patients[(item.patient_id, item.patient_name)] = _Patient(item, [])
        study = studies.get(item.study_instance_uid)
        if study is None:
            study = studies[item.study_instance_uid] = _Study(item, [])
            patient.studies.append(study)
        group = series.get(item.series_instance_uid)
        if group is None:
            group = series[item.series_instance_uid] = _Series(item, [])
            study.series.append(group)
        group.instances.append(item)
    file_ids: dict[str, tuple[str, ...]] = {}
    ordered = list(patients.values())
    for p, patient in enumerate(_limited(ordered), 1):
        for s, study in enumerate(_limited(patient.studies), 1):
            for r, group in enumerate(_limited(study.series), 1):
                for i, item in enumerate(_limited(group.instances), 1):
                    file_ids[item.sop_instance_uid] = (
                        ROOT,
                        f"PAT{p:05d}",
                        f"STU{s:05d}",
                        f"SER{r:05d}",
                        f"IMG{i:05d}",
                    )
    return FileSetPlan(file_ids, ordered)


def _limited(items: list[Any]) -> list[Any]:
    if len(items) > MAX_PER_LEVEL:
        raise ValueError(f"a DICOMDIR level holds at most {MAX_PER_LEVEL} entries")
    return items


# --------------------------------------------------------------------------- records


@dataclass
class _Record:
    dataset: Dataset
    children: list[_Record]
    offset: int = 0


def _new_record(kind: str, charset_of: Sequence[str]) -> Dataset:
    record = Dataset()
    if any(not text.isascii() for text in charset_of):
        record.SpecificCharacterSet = "ISO_IR 192"
    record.OffsetOfTheNextDirectoryRecord = 0
    record.RecordInUseFlag = 0xFFFF
    record.OffsetOfReferencedLowerLevelDirectoryEntity = 0
    record.DirectoryRecordType = kind
    return record


def _patient_record(i: DicomdirInstance) -> Dataset:
    record = _new_record("PATIENT", [i.patient_name, i.patient_id])
    record.PatientName = i.patient_name
    record.PatientID = i.patient_id
    if i.patient_birth_date:
        record.PatientBirthDate = i.patient_birth_date
    if i.patient_sex:
        record.PatientSex = i.patient_sex
    return record


def _study_record(i: DicomdirInstance) -> Dataset:
    record = _new_record("STUDY", [i.study_description, i.study_id, i.accession_number])
    record.StudyDate = i.study_date
    record.StudyTime = i.study_time
    record.StudyDescription = i.study_description
    record.StudyInstanceUID = i.study_instance_uid
    record.StudyID = i.study_id
    record.AccessionNumber = i.accession_number
    return record


def _series_record(i: DicomdirInstance) -> Dataset:
    record = _new_record("SERIES", [])
    record.Modality = i.modality or "OT"
    record.SeriesInstanceUID = i.series_instance_uid
    record.SeriesNumber = i.series_number if i.series_number is not None else ""
    return record


def _instance_record(i: DicomdirInstance, file_id: tuple[str, ...]) -> Dataset:
    record = _new_record(_RECORD_TYPES.get(i.sop_class_uid, "IMAGE"), [])
    record.ReferencedFileID = list(file_id)
    record.ReferencedSOPClassUIDInFile = i.sop_class_uid
    record.ReferencedSOPInstanceUIDInFile = i.sop_instance_uid
    record.ReferencedTransferSyntaxUIDInFile = i.transfer_syntax_uid
    record.InstanceNumber = i.instance_number if i.instance_number is not None else ""
    return record


def _tree(plan: FileSetPlan) -> list[_Record]:
    return [
        _Record(
            _patient_record(patient.first),
            [
                _Record(
                    _study_record(study.first),
                    [
                        _Record(
                            _series_record(group.first),
                            [
                                _Record(
                                    _instance_record(item, plan.file_ids[item.sop_instance_uid]),
                                    [],
                                )
                                for item in group.instances
                            ],
                        )
                        for group in study.series
                    ],
                )
                for study in patient.studies
            ],
        )
        for patient in plan.patients
    ]


def _preorder(records: list[_Record]) -> list[_Record]:
    out: list[_Record] = []
    for record in records:
        out.append(record)
        out += _preorder(record.children)
    return out


def _encoded_length(ds: Dataset) -> int:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, ds)
    return len(fp.getvalue())


def _link(records: list[_Record]) -> None:
    for index, record in enumerate(records):
        following = records[index + 1] if index + 1 < len(records) else None
        record.dataset.OffsetOfTheNextDirectoryRecord = following.offset if following else 0
        lower = record.children[0].offset if record.children else 0
        record.dataset.OffsetOfReferencedLowerLevelDirectoryEntity = lower
        _link(record.children)


# --------------------------------------------------------------------------- DICOMDIR


def build_dicomdir(plan: FileSetPlan, *, file_set_id: str = "OPENPACS") -> bytes:
    """The ``DICOMDIR`` of a planned file set, as Part-10 bytes."""
    roots = _tree(plan)
    ds = _directory_dataset(file_set_id)
    head = _encoded_length(_without_records(ds))  # up to and with the empty sequence
    offset = _PREAMBLE + _meta_length(ds) + head
    # The empty sequence above already counts its 12-byte header.
    for record in _preorder(roots):
        record.offset = offset
        offset += _ITEM_HEADER + _encoded_length(record.dataset)
    _link(roots)
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = roots[0].offset if roots else 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = roots[-1].offset if roots else 0
    ds.DirectoryRecordSequence = [record.dataset for record in _preorder(roots)]
    out = io.BytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def _directory_dataset(file_set_id: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MediaStorageDirectoryStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.FileSetID = file_set_id[:16]
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.FileSetConsistencyFlag = 0
    ds.DirectoryRecordSequence = []
    return ds


def _without_records(ds: Dataset) -> Dataset:
    copy = Dataset()
    for element in ds:
        copy.add(element)
    copy.DirectoryRecordSequence = []
    return copy


def _meta_length(ds: Dataset) -> int:
    out = io.BytesIO()
    empty = Dataset()
    empty.file_meta = ds.file_meta
    dcmwrite(out, empty, enforce_file_format=True)
    return len(out.getvalue()) - _PREAMBLE
