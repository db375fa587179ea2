"""Typed results of the SDK calls.

Every result built from a server answer keeps that answer in ``raw``: the typed fields
are a convenience, read tolerantly (unknown keys are ignored, missing ones are empty),
so a newer server or the hosted PostDICOM service with extra keys still works.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Acknowledgement",
    "DicomRecord",
    "DicomTagContent",
    "Equipment",
    "FileResult",
    "Folder",
    "FolderRef",
    "Institution",
    "OrderList",
    "OrderSeries",
    "PatientOrder",
    "RecordList",
    "RetrieveResult",
    "Share",
    "TagValue",
    "UploadResult",
    "UploadStatus",
    "User",
    "UserGroup",
]

# --------------------------------------------------------------------------- helpers


def _text(raw: Mapping[str, Any], *keys: str) -> str:
    """The first of ``keys`` present with a non-empty scalar value, as text."""
    for key in keys:
        value = raw.get(key)
        if value is None or isinstance(value, dict | list):
            continue
        if isinstance(value, bool):
            return "True" if value else "False"
        text = str(value)
        if text:
            return text
    return ""


def _flag(raw: Mapping[str, Any], *keys: str) -> bool | None:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if isinstance(value, int):
            return bool(value)
    return None


def _int(raw: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    return None


def _dicts(raw: Mapping[str, Any], *keys: str) -> list[dict[str, Any]]:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
    return []


def _strings(raw: Mapping[str, Any], *keys: str) -> list[str]:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, list):
            return [str(item) for item in value if isinstance(item, str | int)]
    return []


def list_in(raw: Any, *keys: str) -> list[dict[str, Any]]:
    """The list of objects in an answer: under one of ``keys``, else the only list there.

    A bare JSON list is accepted too (some servers answer lists without a wrapper).
    """
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, dict)]
    if not isinstance(raw, dict):
        return []
    for key in keys:
        if isinstance(raw.get(key), list):
            return _dicts(raw, key)
    lists = [key for key, value in raw.items() if isinstance(value, list)]
    if len(lists) == 1:
        return _dicts(raw, lists[0])
    return []


# --------------------------------------------------------------------------- DICOMweb


_TAGS = {
    "PatientID": "00100020",
    "PatientName": "00100010",
    "PatientBirthDate": "00100030",
    "PatientSex": "00100040",
    "StudyInstanceUID": "0020000D",
    "StudyDate": "00080020",
    "StudyTime": "00080030",
    "StudyDescription": "00081030",
    "StudyID": "00200010",
    "AccessionNumber": "00080050",
    "ModalitiesInStudy": "00080061",
    "Modality": "00080060",
    "SeriesInstanceUID": "0020000E",
    "SeriesNumber": "00200011",
    "SeriesDescription": "0008103E",
    "SOPInstanceUID": "00080018",
    "SOPClassUID": "00080016",
    "InstanceNumber": "00200013",
    "NumberOfFrames": "00280008",
    "NumberOfStudyRelatedSeries": "00201206",
    "NumberOfStudyRelatedInstances": "00201208",
    "NumberOfSeriesRelatedInstances": "00201209",
    "RetrieveURL": "00081190",
}


def tag_for(name: str) -> str:
    """``"PatientName"``, ``"00100010"``, ``"(0010,0010)"`` or ``"0010,0010"`` -> ``"00100010"``."""
    cleaned = name.strip().replace("(", "").replace(")", "").replace(",", "").replace(" ", "")
    if len(cleaned) == 8 and all(c in "0123456789abcdefABCDEF" for c in cleaned):
        return cleaned.upper()
    if name in _TAGS:
        return _TAGS[name]
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(name.strip())
    if tag is None:
        raise KeyError(f"unknown DICOM attribute {name!r}")
    return f"{int(tag):08X}"


def _person_name(value: Any) -> str:
    if isinstance(value, dict):
        groups = [str(value.get(k, "")) for k in ("Alphabetic", "Ideographic", "Phonetic")]
        while groups and not groups[-1]:
            groups.pop()
        return "=".join(groups)
    return "" if value is None else str(value)


@dataclass(frozen=True, repr=False)
class DicomRecord:
    """One QIDO result: a study, series or instance, with its DICOM JSON in ``raw``."""

    level: Literal["study", "series", "instance"]
    raw: dict[str, Any] = field(repr=False)

    def values(self, name: str) -> list[Any]:
        """All values of an attribute (keyword or tag); person names as strings."""
        element = self.raw.get(tag_for(name))
        if not isinstance(element, dict):
            return []
        values = element.get("Value")
        if not isinstance(values, list):
            return []
        if element.get("vr") == "PN":
            return [_person_name(v) for v in values]
        return list(values)

    def value(self, name: str, default: Any = None) -> Any:
        """The first value of an attribute (keyword or tag), or ``default``."""
        values = self.values(name)
        return values[0] if values else default

    def _str(self, name: str) -> str:
        value = self.value(name)
        return "" if value is None else str(value)

    def _count(self, name: str) -> int | None:
        value = self.value(name)
        try:
            return None if value is None else int(value)
        except (TypeError, ValueError):
            return None

    @property
    def patient_id(self) -> str:
        return self._str("PatientID")

    @property
    def patient_name(self) -> str:
        return self._str("PatientName")

    @property
    def patient_birth_date(self) -> str:
        return self._str("PatientBirthDate")

    @property
    def patient_sex(self) -> str:
        return self._str("PatientSex")

    @property
    def study_instance_uid(self) -> str:
        return self._str("StudyInstanceUID")

    @property
    def study_date(self) -> str:
        return self._str("StudyDate")

    @property
    def study_time(self) -> str:
        return self._str("StudyTime")

    @property
    def study_description(self) -> str:
        return self._str("StudyDescription")

    @property
    def accession_number(self) -> str:
        return self._str("AccessionNumber")

    @property
    def modalities(self) -> list[str]:
        """ModalitiesInStudy for a study; the series' Modality otherwise."""
        found = [str(v) for v in self.values("ModalitiesInStudy") if v]
        if not found and self.modality:
            found = [self.modality]
        return found

    @property
    def modality(self) -> str:
        return self._str("Modality")

    @property
    def series_instance_uid(self) -> str:
        return self._str("SeriesInstanceUID")

    @property
    def series_number(self) -> int | None:
        return self._count("SeriesNumber")

    @property
    def series_description(self) -> str:
        return self._str("SeriesDescription")

    @property
    def sop_instance_uid(self) -> str:
        return self._str("SOPInstanceUID")

    @property
    def sop_class_uid(self) -> str:
        return self._str("SOPClassUID")

    @property
    def instance_number(self) -> int | None:
        return self._count("InstanceNumber")

    @property
    def number_of_frames(self) -> int | None:
        return self._count("NumberOfFrames")

    @property
    def number_of_study_related_series(self) -> int | None:
        return self._count("NumberOfStudyRelatedSeries")

    @property
    def number_of_study_related_instances(self) -> int | None:
        return self._count("NumberOfStudyRelatedInstances")

    @property
    def number_of_series_related_instances(self) -> int | None:
        return self._count("NumberOfSeriesRelatedInstances")

    @property
    def retrieve_url(self) -> str:
        return self._str("RetrieveURL")

    def __repr__(self) -> str:
        """The level, its UIDs (from the study down) and the patient: enough to tell
        records apart in a list, without the whole DICOM JSON."""
        uids = [("study_instance_uid", self.study_instance_uid)]
        if self.level != "study":
            uids.append(("series_instance_uid", self.series_instance_uid))
        if self.level == "instance":
            uids.append(("sop_instance_uid", self.sop_instance_uid))
        shown = [
            ("level", self.level),
            *uids,
            ("patient_id", self.patient_id),
            ("patient_name", self.patient_name),
        ]
        return f"DicomRecord({', '.join(f'{key}={value!r}' for key, value in shown)})"


class RecordList(list[DicomRecord]):
    """QIDO results (a list), and whether the server has more: a ``Warning`` header
    (PS3.18 8.3.4.4) says so when a limit cut the results."""

    def __init__(self, records: list[DicomRecord], *, more: bool = False) -> None:
        super().__init__(records)
        self.more = more


UploadStatus = Literal["stored", "already_stored", "failed", "skipped"]


@dataclass(frozen=True)
class FileResult:
    """What happened to one file of an upload.

    ``status``: ``"stored"``; ``"already_stored"`` when the server already had this SOP
    Instance (an earlier upload, or another file of this one with the same SOP Instance
    UID: the server keeps the first copy); ``"failed"`` with the ``reason``; or
    ``"skipped"`` for a file found in a folder that is not DICOM (never sent). ``sent``
    is False for files refused or skipped before sending.
    """

    path: Path
    status: UploadStatus
    sop_instance_uid: str = ""
    size: int = 0
    reason: str = ""
    failure_code: int | None = None
    warning_code: int | None = None
    sent: bool = True

    @property
    def ok(self) -> bool:
        """False only for a failure (a skipped file is not one)."""
        return self.status != "failed"


@dataclass(frozen=True, repr=False)
class UploadResult:
    """Per-file outcomes of an upload, in the order the files were found.

    ``repr`` shows the counts: ``UploadResult(stored=30, already_stored=5, failed=8,
    skipped=2)``.
    """

    files: list[FileResult]
    elapsed: float = 0.0
    requests: int = 0

    def _with(self, status: UploadStatus) -> list[FileResult]:
        return [f for f in self.files if f.status == status]

    @property
    def stored(self) -> list[FileResult]:
        """Files stored by this upload."""
        return self._with("stored")

    @property
    def already_stored(self) -> list[FileResult]:
        """Files whose SOP Instance the server already had."""
        return self._with("already_stored")

    @property
    def failed(self) -> list[FileResult]:
        return self._with("failed")

    @property
    def skipped(self) -> list[FileResult]:
        """Files found in a folder that are not DICOM (never sent)."""
        return self._with("skipped")

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    @property
    def bytes_total(self) -> int:
        """Bytes of every file looked at (skipped ones too)."""
        return sum(f.size for f in self.files)

    @property
    def bytes_stored(self) -> int:
        """Bytes of the files stored by this upload."""
        return sum(f.size for f in self.stored)

    @property
    def bytes_sent(self) -> int:
        """Bytes of the files sent to the server (what the transfer rate is made of)."""
        return sum(f.size for f in self.files if f.sent)

    @property
    def rate(self) -> float:
        """Bytes sent per second (0 when nothing was sent)."""
        return self.bytes_sent / self.elapsed if self.elapsed > 0 else 0.0

    def __repr__(self) -> str:
        return (
            f"UploadResult(stored={len(self.stored)}, already_stored="
            f"{len(self.already_stored)}, failed={len(self.failed)}, "
            f"skipped={len(self.skipped)})"
        )


@dataclass(frozen=True, repr=False)
class RetrieveResult:
    """Files of a retrieve, one per instance, where the layout put them.

    ``directory`` is the folder of the retrieve; ``files`` every file of it (including
    the ``already_there`` ones: a file with the same name and the same bytes was there
    before, and was left alone); ``renamed`` the files written under another name
    (``-2``...) because a different file had the name.
    """

    level: Literal["study", "series", "instance"]
    uid: str
    directory: Path
    files: list[Path]
    bytes: int = 0
    layout: str = "flat"
    already_there: list[Path] = field(default_factory=list)
    renamed: list[Path] = field(default_factory=list)

    def __iter__(self) -> Iterator[Path]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        """Counts and the folder, not every path (``files`` has them)."""
        written = len(self.files) - len(self.already_there)
        return (
            f"RetrieveResult({self.level}={self.uid!r}, files={len(self.files)}, "
            f"written={written}, unchanged={len(self.already_there)}, "
            f"renamed={len(self.renamed)}, bytes={self.bytes}, "
            f"directory={str(self.directory)!r}, layout={self.layout!r})"
        )


# --------------------------------------------------------------------------- custom API


@dataclass(frozen=True)
class Acknowledgement:
    """Answer of a call that changes something and returns no object of its own."""

    raw: dict[str, Any] = field(repr=False)
    message: str = ""

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Acknowledgement:
        return cls(raw=raw, message=_text(raw, "Message", "Status", "Result"))


@dataclass(frozen=True)
class Share:
    share_uuid: str
    share_url: str
    expire_date: str = ""
    kind: str = ""
    folder_uuid: str = ""
    order_uuids: list[str] = field(default_factory=list)
    title: str = ""
    description: str = ""
    downloadable: bool | None = None
    password_protected: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Share:
        return cls(
            share_uuid=_text(raw, "ShareUuid", "Uuid"),
            share_url=_text(raw, "ShareUrl", "Url"),
            expire_date=_text(raw, "ExpireDate"),
            kind=_text(raw, "ShareType", "Kind", "Type"),
            folder_uuid=_text(raw, "FolderUuid"),
            order_uuids=_strings(raw, "OrderUuidList", "PatientOrderUuidList", "OrderUuids"),
            title=_text(raw, "ShareTitle", "Title"),
            description=_text(raw, "ShareDescription", "Description"),
            downloadable=_flag(raw, "Downloadable", "UserCanDownloadStudies"),
            password_protected=_flag(
                raw, "PasswordProtected", "HasPassword", "IsPasswordProtected"
            ),
            raw=raw,
        )


@dataclass(frozen=True)
class OrderSeries:
    patient_series_uuid: str
    series_instance_uid: str = ""
    modality: str = ""
    series_description: str = ""
    series_number: int | None = None
    number_of_instances: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> OrderSeries:
        return cls(
            patient_series_uuid=_text(raw, "PatientSeriesUuid", "SeriesUuid"),
            series_instance_uid=_text(raw, "SeriesInstanceUID", "SeriesInstanceUid"),
            modality=_text(raw, "Modality"),
            series_description=_text(raw, "SeriesDescription"),
            series_number=_int(raw, "SeriesNumber"),
            number_of_instances=_int(
                raw, "NumberOfInstances", "InstanceCount", "ImageCount", "NumberOfImages"
            ),
            raw=raw,
        )


@dataclass(frozen=True)
class FolderRef:
    folder_uuid: str
    folder_name: str = ""


@dataclass(frozen=True)
class PatientOrder:
    patient_order_uuid: str
    institution_uuid: str = ""
    institution_name: str = ""
    patient_name: str = ""
    patient_id: str = ""
    other_patient_id: str = ""
    patient_birthdate: str = ""
    patient_sex: str = ""
    modality: str = ""
    modalities: list[str] = field(default_factory=list)
    study_description: str = ""
    accession_number: str = ""
    study_instance_uid: str = ""
    study_date: str = ""
    status: str = ""
    order_scheduled_datetime: str = ""
    assigned_user_uuid: str = ""
    assigned_user_group_uuid: str = ""
    number_of_series: int | None = None
    number_of_instances: int | None = None
    created_at: str = ""
    folders: list[FolderRef] = field(default_factory=list)
    series: list[OrderSeries] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PatientOrder:
        modality = _text(raw, "Modality")
        modalities = _strings(raw, "ModalitiesInStudy", "ModalityList", "Modalities")
        return cls(
            patient_order_uuid=_text(raw, "PatientOrderUuid", "OrderUuid", "Uuid"),
            institution_uuid=_text(raw, "PatientOrderInstitutionUuid", "InstitutionUuid"),
            institution_name=_text(raw, "InstitutionName"),
            patient_name=_text(raw, "PatientName"),
            patient_id=_text(raw, "PatientId", "PatientID"),
            other_patient_id=_text(raw, "OtherPatientId", "OtherPatientID"),
            patient_birthdate=_text(raw, "PatientBirthdate", "PatientBirthDate"),
            patient_sex=_text(raw, "PatientSex"),
            modality=modality or ", ".join(modalities),
            modalities=modalities or ([modality] if modality else []),
            study_description=_text(raw, "StudyDescription"),
            accession_number=_text(raw, "AccessionNumber"),
            study_instance_uid=_text(raw, "StudyInstanceUID", "StudyInstanceUid"),
            study_date=_text(raw, "StudyDate"),
            status=_text(raw, "OrderStatus", "Status"),
            order_scheduled_datetime=_text(raw, "OrderScheduledDatetime"),
            assigned_user_uuid=_text(raw, "AssignedUserUuid"),
            assigned_user_group_uuid=_text(raw, "AssignedUserGroupUuid"),
            number_of_series=_int(raw, "NumberOfSeries", "SeriesCount"),
            number_of_instances=_int(
                raw, "NumberOfInstances", "InstanceCount", "ImageCount", "NumberOfImages"
            ),
            created_at=_text(raw, "CreatedAt"),
            folders=[
                FolderRef(_text(item, "FolderUuid"), _text(item, "FolderName"))
                for item in _dicts(raw, "FolderList", "Folders")
            ],
            series=[
                OrderSeries.from_json(item)
                for item in _dicts(raw, "SeriesList", "PatientSeriesList", "Series")
            ],
            raw=raw,
        )


class OrderList(list[PatientOrder]):
    """The orders found (a list), with the paging of the answer when the server gives it."""

    def __init__(
        self,
        orders: list[PatientOrder],
        *,
        total_count: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        raw: Any = None,
    ) -> None:
        super().__init__(orders)
        self.total_count = total_count if total_count is not None else len(orders)
        self.limit = limit
        self.offset = offset or 0
        self.raw = raw

    @classmethod
    def from_json(cls, raw: Any) -> OrderList:
        items = list_in(raw, "PatientOrderList", "OrderList", "Orders")
        meta = raw if isinstance(raw, dict) else {}
        return cls(
            [PatientOrder.from_json(item) for item in items],
            total_count=_int(meta, "TotalCount", "Total"),
            limit=_int(meta, "Limit"),
            offset=_int(meta, "Offset"),
            raw=raw,
        )


@dataclass(frozen=True)
class Folder:
    folder_uuid: str
    folder_name: str = ""
    folder_description: str = ""
    parent_folder_uuid: str = ""
    orders: list[PatientOrder] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Folder:
        orders = [
            PatientOrder.from_json(item)
            for item in _dicts(raw, "PatientOrderList", "OrderList", "Orders")
        ]
        if not orders:  # a list of bare UUIDs
            orders = [
                PatientOrder(patient_order_uuid=uuid)
                for uuid in _strings(raw, "PatientOrderUuidList", "OrderUuidList")
            ]
        return cls(
            folder_uuid=_text(raw, "FolderUuid", "Uuid"),
            folder_name=_text(raw, "FolderName", "Name"),
            folder_description=_text(raw, "FolderDescription", "Description"),
            parent_folder_uuid=_text(raw, "ParentFolderUuid"),
            orders=orders,
            raw=raw,
        )


@dataclass(frozen=True)
class Institution:
    institution_uuid: str
    name: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Institution:
        return cls(
            institution_uuid=_text(raw, "InstitutionUuid", "Uuid"),
            name=_text(raw, "InstitutionName", "Name"),
            raw=raw,
        )


@dataclass(frozen=True)
class User:
    user_uuid: str
    email: str = ""
    name: str = ""
    role: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> User:
        return cls(
            user_uuid=_text(raw, "UserUuid", "Uuid"),
            email=_text(raw, "Email", "UserEmail", "UserName"),
            name=_text(raw, "DisplayName", "Name", "FullName"),
            role=_text(raw, "Role", "UserRole"),
            raw=raw,
        )


@dataclass(frozen=True)
class UserGroup:
    user_group_uuid: str
    name: str = ""
    user_uuids: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> UserGroup:
        members = _strings(raw, "UserUuidList", "MemberUuidList", "Members")
        if not members:
            members = [
                _text(item, "UserUuid") for item in _dicts(raw, "UserList", "Members", "Users")
            ]
        return cls(
            user_group_uuid=_text(raw, "UserGroupUuid", "Uuid"),
            name=_text(raw, "UserGroupName", "Name", "GroupName"),
            user_uuids=[m for m in members if m],
            raw=raw,
        )


@dataclass(frozen=True)
class Equipment:
    equipment_uuid: str
    name: str = ""
    modality: str = ""
    ae_title: str = ""
    institution_uuid: str = ""
    # Where the device listens for DICOM associations (C-MOVE destinations); "" / None
    # when it does not.
    host: str = ""
    port: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Equipment:
        port = raw.get("Port")
        return cls(
            equipment_uuid=_text(raw, "EquipmentUuid", "Uuid"),
            name=_text(raw, "EquipmentName", "Name"),
            modality=_text(raw, "Modality"),
            ae_title=_text(raw, "AETitle", "AeTitle", "AE"),
            institution_uuid=_text(raw, "InstitutionUuid"),
            host=_text(raw, "Host"),
            port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            raw=raw,
        )


@dataclass(frozen=True)
class TagValue:
    """One attribute read from one image of an order."""

    tag: str
    keyword: str = ""
    vr: str = ""
    value: Any = None
    patient_series_uuid: str = ""
    series_instance_uid: str = ""
    sop_instance_uid: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        """The value as one line of text (multiple values joined by a backslash)."""
        if isinstance(self.value, list):
            return "\\".join(_value_text(v) for v in self.value)
        return _value_text(self.value)


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        if any(k in value for k in ("Alphabetic", "Ideographic", "Phonetic")):
            return _person_name(value)
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _keyword(tag: str) -> str:
    try:
        from pydicom.datadict import keyword_for_tag

        return str(keyword_for_tag(int(tag, 16)) or "")
    except (ValueError, TypeError):
        return ""


def _element_value(element: dict[str, Any]) -> Any:
    if "Value" in element:
        values = element["Value"]
        if element.get("vr") == "PN" and isinstance(values, list):
            return [_person_name(v) for v in values]
        return values
    for key in ("BulkDataURI", "InlineBinary"):
        if key in element:
            return {key: element[key]}
    return None


@dataclass(frozen=True)
class DicomTagContent:
    """Answer of ``getdicomtagcontent``: the values per image, flattened into ``tags``.

    openpacs answers ``SeriesList[].InstanceList[].DicomTags`` (DICOM JSON per image);
    other shapes are read as far as they can be, and ``raw`` always has the answer.
    """

    patient_order_uuid: str
    study_instance_uid: str = ""
    tags: list[TagValue] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DicomTagContent:
        return cls(
            patient_order_uuid=_text(raw, "PatientOrderUuid"),
            study_instance_uid=_text(raw, "StudyInstanceUID"),
            tags=_collect_tags(raw, {}),
            raw=raw,
        )


def _collect_tags(node: Mapping[str, Any], context: dict[str, str]) -> list[TagValue]:
    """Tag values wherever they sit: DICOM JSON objects or lists of tag entries, at the
    top or nested per series and per instance."""
    here = dict(context)
    for key, name in (
        ("series", "PatientSeriesUuid"),
        ("series_uid", "SeriesInstanceUID"),
        ("instance", "SOPInstanceUID"),
    ):
        if _text(node, name):
            here[key] = _text(node, name)
    found: list[TagValue] = []
    where = {
        "patient_series_uuid": here.get("series", ""),
        "series_instance_uid": here.get("series_uid", ""),
        "sop_instance_uid": here.get("instance", ""),
    }
    for key in ("DicomTags", "Tags", "Dataset"):
        dataset = node.get(key)
        if isinstance(dataset, dict):
            for tag, element in dataset.items():
                if isinstance(element, dict):
                    found.append(
                        TagValue(
                            tag=str(tag),
                            keyword=_keyword(str(tag)),
                            vr=str(element.get("vr", "")),
                            value=_element_value(element),
                            raw=element,
                            **where,
                        )
                    )
    for key in ("DicomTagList", "DicomTagContentList", "TagList"):
        for item in _dicts(node, key):
            found.append(
                TagValue(
                    tag=_text(item, "DicomTagId", "TagId", "Tag"),
                    keyword=_text(item, "Keyword", "TagName", "Name"),
                    vr=_text(item, "VR", "Vr"),
                    value=item.get("Value", item.get("TagValue")),
                    raw=item,
                    **where,
                )
            )
    for key, value in node.items():
        if key in ("DicomTagList", "DicomTagContentList", "TagList"):
            continue
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    found.extend(_collect_tags(item, here))
    return found


def json_object(value: Any) -> dict[str, Any]:
    """A JSON answer that must be an object (a bare list is wrapped as ``{"List": ...}``)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {"List": value}
    return {"Value": value}
