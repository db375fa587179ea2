"""QIDO-RS query parameters (PS3.18 8.3.4, 10.6) -> a frozen :class:`QidoQuery`.

Pure: no SQL, no web. The handler passes the query string as ``(key, value)`` pairs and
the target level; the search service turns the result into SQL.

Matching keys are named by keyword (``PatientID``) or tag (``00100020``); sequence
matching uses ``RequestAttributesSequence.RequestedProcedureID`` or
``00400275.00401001``. Each value becomes one filter class per PS3.4 C.2.2.2 matching
type: :class:`Universal` (empty value, or ``*`` alone), :class:`SingleValue`,
:class:`UidList` (``\\`` or ``,`` separated UIDs), :class:`MultiValue`
(ModalitiesInStudy ``CT\\MR``: any of), :class:`Wildcard` (``*`` and ``?``),
:class:`DateRange` / :class:`TimeRange` / :class:`DateTimeRange` (``A-B``, ``A-``,
``-B``) and :class:`SequenceMatch`. Values are kept as sent (minus insignificant
leading/trailing spaces); the service escapes them and binds them as parameters.

A key may name an attribute of the target level or of a level above it
(``/series?PatientID=x``); a lower-level key (``/studies?Modality=CT``) is an error.
Bad input raises :class:`QidoError` with a one-line reason (the handler answers 400).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from openpacs.dicom.names import canonical_person_name, name_words, normalise_person_name

__all__ = [
    "IGNORED_PARAMETERS",
    "INSTANCE_LEVEL_TAGS",
    "MATCHING_KEYS",
    "RETURN_TAGS",
    "SEQUENCE_ITEM_KEYS",
    "SERIES_LEVEL_TAGS",
    "STUDY_LEVEL_TAGS",
    "DateRange",
    "DateTimeRange",
    "Filter",
    "ItemFilter",
    "Level",
    "MultiValue",
    "QidoError",
    "QidoQuery",
    "SequenceMatch",
    "SingleValue",
    "TimeRange",
    "UidList",
    "Universal",
    "Wildcard",
    "default_return_tags",
    "is_valid_uid",
    "lower_level_tags",
    "normalise_person_name",
    "parse_qido",
    "person_name_words",
    "tag_hex",
]


class QidoError(ValueError):
    """The query string is not a valid QIDO-RS query; the message says why (answer 400)."""


class Level(enum.Enum):
    STUDY = "study"
    SERIES = "series"
    INSTANCE = "instance"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def and_above(self) -> tuple[Level, ...]:
        """This level then its parents, nearest first."""
        return tuple(lvl for lvl in _UPWARDS if lvl.rank <= self.rank)


_RANK = {Level.STUDY: 0, Level.SERIES: 1, Level.INSTANCE: 2}
_UPWARDS = (Level.INSTANCE, Level.SERIES, Level.STUDY)


def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:  # pragma: no cover - a typo in the tables below
        raise RuntimeError(f"unknown DICOM keyword in QIDO tables: {keyword}")
    return int(tag)


def _tags(*keywords: str) -> frozenset[int]:
    return frozenset(_tag(keyword) for keyword in keywords)


def tag_hex(tag: int) -> str:
    """The DICOM JSON key of a tag: eight upper-case hex digits."""
    return f"{tag:08X}"


# Attributes that live at each level (PS3.4 C.6.1.1 / C.6.2.1, PS3.18 10.6.3). They
# decide which includefield values are lower-level (never returned); an attribute in
# no table is looked up in the stored JSON of the target level and the levels above.
_EVERY_LEVEL = ("TimezoneOffsetFromUTC", "RetrieveURL")
STUDY_LEVEL_TAGS = _tags(
    *_EVERY_LEVEL,
    "SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber",
    "IssuerOfAccessionNumberSequence", "InstanceAvailability", "ModalitiesInStudy",
    "SOPClassesInStudy", "ReferringPhysicianName", "ReferringPhysicianIdentificationSequence",
    "StudyDescription", "ProcedureCodeSequence", "NameOfPhysiciansReadingStudy",
    "AdmittingDiagnosesDescription", "PatientName", "PatientID", "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence", "PatientBirthDate", "PatientBirthTime",
    "PatientSex", "OtherPatientIDsSequence", "OtherPatientNames", "PatientAge",
    "PatientSize", "PatientWeight", "EthnicGroup", "PatientComments", "StudyInstanceUID",
    "StudyID", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
    "NumberOfPatientRelatedStudies", "RequestingPhysician",
    "RequestedProcedureDescription", "InstitutionName",
)  # fmt: skip
SERIES_LEVEL_TAGS = _tags(
    *_EVERY_LEVEL,
    "Modality", "SeriesDate", "SeriesTime", "SeriesDescription",
    "SeriesDescriptionCodeSequence", "SeriesInstanceUID", "SeriesNumber", "Laterality",
    "BodyPartExamined", "ProtocolName", "PerformingPhysicianName", "OperatorsName",
    "PerformedProcedureStepID", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "PerformedProcedureStepDescription",
    "RequestAttributesSequence", "NumberOfSeriesRelatedInstances", "Manufacturer",
    "InstitutionName", "InstitutionAddress", "StationName", "InstitutionalDepartmentName",
    "ManufacturerModelName", "DeviceSerialNumber", "SoftwareVersions",
    "FrameOfReferenceUID", "PositionReferenceIndicator", "PatientPosition",
)  # fmt: skip
INSTANCE_LEVEL_TAGS = _tags(
    *_EVERY_LEVEL,
    "SOPClassUID", "SOPInstanceUID", "InstanceAvailability", "InstanceNumber",
    "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "SamplesPerPixel", "PhotometricInterpretation", "NumberOfFrames", "ImageType",
    "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime", "AcquisitionNumber",
    "ContentDate", "ContentTime", "InstanceCreationDate", "InstanceCreationTime",
    "ImagePositionPatient", "ImageOrientationPatient", "SliceLocation", "SliceThickness",
    "PixelSpacing", "WindowCenter", "WindowWidth", "AvailableTransferSyntaxUID",
    "ConceptNameCodeSequence", "ContentLabel", "ContentDescription", "ContentCreatorName",
    "DocumentTitle", "CompletionFlag", "VerificationFlag", "ObservationDateTime",
    "LossyImageCompression", "BurnedInAnnotation",
)  # fmt: skip
_LEVEL_TAGS = {
    Level.STUDY: STUDY_LEVEL_TAGS,
    Level.SERIES: SERIES_LEVEL_TAGS,
    Level.INSTANCE: INSTANCE_LEVEL_TAGS,
}

# Matching keys each level supports (PS3.18 table 10.6.1-5 plus a few common ones).
MATCHING_KEYS: dict[Level, frozenset[int]] = {
    Level.STUDY: _tags(
        "StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy",
        "ReferringPhysicianName", "PatientName", "PatientID", "StudyInstanceUID", "StudyID",
        "PatientBirthDate", "PatientSex", "StudyDescription", "InstitutionName",
    ),
    Level.SERIES: _tags(
        "Modality", "SeriesInstanceUID", "SeriesNumber", "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime", "RequestAttributesSequence", "SeriesDescription",
        "InstitutionName", "BodyPartExamined", "SeriesDate", "SeriesTime",
    ),
    Level.INSTANCE: _tags("SOPClassUID", "SOPInstanceUID", "InstanceNumber"),
}  # fmt: skip

# Sequence matching: the item attributes that can be matched inside each sequence.
SEQUENCE_ITEM_KEYS: dict[int, frozenset[int]] = {
    _tag("RequestAttributesSequence"): _tags(
        "RequestedProcedureID", "ScheduledProcedureStepID", "AccessionNumber", "StudyInstanceUID"
    ),
}

# Attributes returned by default (PS3.18 tables 10.6.3-3, 10.6.3-4 and 10.6.3-5).
RETURN_TAGS: dict[Level, frozenset[int]] = {
    Level.STUDY: _tags(
        "SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber",
        "InstanceAvailability", "ModalitiesInStudy", "ReferringPhysicianName",
        "TimezoneOffsetFromUTC", "RetrieveURL", "PatientName", "PatientID",
        "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
        "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
    ),
    Level.SERIES: _tags(
        "Modality", "TimezoneOffsetFromUTC", "SeriesDescription", "RetrieveURL",
        "SeriesInstanceUID", "SeriesNumber", "NumberOfSeriesRelatedInstances",
        "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
        "RequestAttributesSequence",
    ),
    Level.INSTANCE: _tags(
        "SOPClassUID", "SOPInstanceUID", "InstanceAvailability", "TimezoneOffsetFromUTC",
        "RetrieveURL", "InstanceNumber", "Rows", "Columns", "BitsAllocated", "NumberOfFrames",
    ),
}  # fmt: skip

# Query parameters the web layer handles itself (content negotiation, PS3.18 8.3.3).
IGNORED_PARAMETERS = frozenset({"accept", "charset"})

_MODALITIES_IN_STUDY = _tag("ModalitiesInStudy")
# Largest limit/offset accepted; beyond it SQL integers may overflow.
_MAX_INT = 2**31 - 1


def default_return_tags(
    level: Level, *, study_scoped: bool = False, series_scoped: bool = False
) -> frozenset[int]:
    """Attributes every result of a search carries (PS3.18 10.6.3.3).

    Unscoped series searches (``/series``) add the study attributes; instance searches
    add the series attributes unless scoped by a series and the study attributes unless
    scoped by a study.
    """
    tags = set(RETURN_TAGS[level])
    if level is Level.SERIES and not study_scoped:
        tags |= RETURN_TAGS[Level.STUDY]
    if level is Level.INSTANCE:
        if not series_scoped:
            tags |= RETURN_TAGS[Level.SERIES]
        if not study_scoped:
            tags |= RETURN_TAGS[Level.STUDY]
    return frozenset(tags)


def lower_level_tags(level: Level) -> frozenset[int]:
    """Attributes of the levels below ``level`` only: never returned at ``level``."""
    own: set[int] = set()
    lower: set[int] = set()
    for lvl, tags in _LEVEL_TAGS.items():
        (own if lvl.rank <= level.rank else lower).update(tags)
    return frozenset(lower - own)


# ----------------------------------------------------------------------------- filters


@dataclass(frozen=True, slots=True)
class Universal:
    """Empty value (or ``*``): every entity matches; the attribute is returned."""

    tag: int
    level: Level


@dataclass(frozen=True, slots=True)
class SingleValue:
    """Exact match (PN: case- and accent-insensitive; TM: the given precision)."""

    tag: int
    level: Level
    value: str


@dataclass(frozen=True, slots=True)
class UidList:
    """Any of these UIDs (PS3.4 C.2.2.2.2)."""

    tag: int
    level: Level
    uids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MultiValue:
    """Any of these values (ModalitiesInStudy ``CT\\MR``)."""

    tag: int
    level: Level
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``*`` matches any run of characters, ``?`` any single one (PS3.4 C.2.2.2.4)."""

    tag: int
    level: Level
    pattern: str

    @property
    def literal_prefix(self) -> str:
        """The characters before the first wildcard (for index range scans)."""
        return re.split(r"[*?]", self.pattern, maxsplit=1)[0]


@dataclass(frozen=True, slots=True)
class DateRange:
    """YYYYMMDD bounds, inclusive; None is open-ended."""

    tag: int
    level: Level
    start: str | None
    end: str | None


@dataclass(frozen=True, slots=True)
class TimeRange:
    """HHMMSS.FFFFFF bounds (any precision), inclusive; None is open-ended."""

    tag: int
    level: Level
    start: str | None
    end: str | None


@dataclass(frozen=True, slots=True)
class DateTimeRange:
    """YYYYMMDDHHMMSS.FFFFFF&ZZXX bounds (any precision), inclusive."""

    tag: int
    level: Level
    start: str | None
    end: str | None


ItemFilter = Universal | SingleValue | UidList | Wildcard


@dataclass(frozen=True, slots=True)
class SequenceMatch:
    """All item filters must hold for the same item of the sequence (PS3.4 C.2.2.2.6)."""

    tag: int
    level: Level
    items: tuple[ItemFilter, ...]


Filter = (
    Universal
    | SingleValue
    | UidList
    | MultiValue
    | Wildcard
    | DateRange
    | TimeRange
    | DateTimeRange
    | SequenceMatch
)


@dataclass(frozen=True, slots=True)
class QidoQuery:
    level: Level
    filters: tuple[Filter, ...] = ()
    # includefield attributes (top-level tags), lower-level ones already dropped.
    includefields: frozenset[int] = frozenset()
    include_all: bool = False
    limit: int | None = None  # None: the server default
    offset: int = 0
    fuzzy: bool = False
    # Lower-level includefield attributes that were ignored (for a warning, if wanted).
    ignored_includefields: frozenset[int] = field(default=frozenset())

    @property
    def matching_tags(self) -> frozenset[int]:
        return frozenset(f.tag for f in self.filters)

    def filter_for(self, tag: int) -> Filter | None:
        return next((f for f in self.filters if f.tag == tag), None)


# ----------------------------------------------------------------------------- parsing

_HEX_TAG = re.compile(r"[0-9A-Fa-f]{8}")
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_DATE = re.compile(r"\d{8}")
_TIME = re.compile(r"([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?")
_DATETIME = re.compile(
    r"\d{4}((0[1-9]|1[0-2])((0[1-9]|[12]\d|3[01])(([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?)?)?)?"
    r"([+-](0\d|1[0-4])[0-5]\d)?"
)
_INT = re.compile(r"[+-]?\d{1,10}")
_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT", "AS"})


def is_valid_uid(uid: str) -> bool:
    """Digits separated by dots, at most 64 characters (PS3.5 9.1, leading zeros allowed)."""
    return len(uid) <= 64 and _UID.fullmatch(uid) is not None


def _shown(text: str) -> str:
    """Client text inside an error message: repr, at most 80 characters."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _resolve(name: str) -> int:
    """A keyword or eight hex digits -> tag; QidoError for anything else."""
    if _HEX_TAG.fullmatch(name):
        return int(name, 16)
    tag = tag_for_keyword(name)
    if tag is None:
        raise QidoError(f"unknown attribute or query parameter {_shown(name)}")
    return int(tag)


def _name(tag: int) -> str:
    keyword = keyword_for_tag(tag)
    return str(keyword) if keyword else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _vr(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


def _level_of(tag: int, target: Level, key: str) -> Level:
    for lvl in target.and_above():
        if tag in MATCHING_KEYS[lvl]:
            return lvl
    for lvl in Level:
        if tag in MATCHING_KEYS[lvl]:
            hint = " (use ModalitiesInStudy)" if _name(tag) == "Modality" else ""
            raise QidoError(
                f"{_name(tag)} is a {lvl.value}-level attribute: it cannot be a matching key "
                f"when searching for {target.value} entities{hint}"
            )
    raise QidoError(f"{_name(tag)} ({_shown(key)}) is not a supported matching key")


def parse_qido(pairs: Iterable[tuple[str, str]], level: Level) -> QidoQuery:
    """Parse query-string pairs (in order, repeats allowed) for a search at ``level``."""
    filters: dict[int, Filter] = {}
    sequences: dict[int, dict[int, ItemFilter]] = {}
    includes: set[int] = set()
    ignored: set[int] = set()
    include_all = False
    limit: int | None = None
    offset = 0
    fuzzy = False
    seen_params: set[str] = set()
    lower = lower_level_tags(level)

    for raw_key, raw_value in pairs:
        key = raw_key.strip()
        lowered = key.lower()
        if lowered in IGNORED_PARAMETERS:
            continue
        if lowered == "includefield":
            for item in raw_value.split(","):
                item = item.strip()
                if not item:
                    continue
                if item.lower() == "all":
                    include_all = True
                    continue
                tag = _resolve(item.split(".", 1)[0])
                (ignored if tag in lower else includes).add(tag)
            continue
        if lowered in ("limit", "offset", "fuzzymatching"):
            if lowered in seen_params:
                raise QidoError(f"query parameter {lowered!r} is given more than once")
            seen_params.add(lowered)
            if lowered == "limit":
                limit = _parse_int(lowered, raw_value, minimum=1, clamp=True)
            elif lowered == "offset":
                offset = _parse_int(lowered, raw_value, minimum=0, clamp=False)
            else:
                fuzzy = _parse_bool(lowered, raw_value)
            continue
        if not key:
            raise QidoError("empty query parameter name")

        path = key.split(".")
        if len(path) > 2:
            raise QidoError(f"nested sequence matching is not supported: {_shown(key)}")
        tag = _resolve(path[0])
        tag_level = _level_of(tag, level, key)
        if len(path) == 2:
            item_tag = _resolve(path[1])
            allowed = SEQUENCE_ITEM_KEYS.get(tag)
            if allowed is None:
                raise QidoError(f"{_name(tag)} does not support sequence matching")
            if item_tag not in allowed:
                raise QidoError(
                    f"{_name(item_tag)} is not a supported matching key inside {_name(tag)}"
                )
            items = sequences.setdefault(tag, {})
            if item_tag in items:
                raise QidoError(f"matching key {_shown(key)} is given more than once")
            if tag in filters:
                raise QidoError(f"{_name(tag)} is given both as a whole and by item")
            items[item_tag] = _item_filter(item_tag, tag_level, raw_value)
            continue
        if tag in filters or tag in sequences:
            raise QidoError(f"matching key {_name(tag)} is given more than once")
        filters[tag] = _filter(tag, tag_level, raw_value)

    for seq_tag, items in sequences.items():
        seq_level = _level_of(seq_tag, level, _name(seq_tag))
        filters[seq_tag] = SequenceMatch(seq_tag, seq_level, tuple(items.values()))

    return QidoQuery(
        level=level,
        filters=tuple(filters.values()),
        includefields=frozenset(includes),
        include_all=include_all,
        limit=limit,
        offset=offset,
        fuzzy=fuzzy,
        ignored_includefields=frozenset(ignored),
    )


def _parse_int(name: str, raw: str, *, minimum: int, clamp: bool) -> int:
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        raise QidoError(f"{name} must be a whole number, not {_shown(raw)}")
    value = int(text[:12]) if len(text) > 12 else int(text)
    if len(text) > 12 or value > _MAX_INT:
        if not clamp:
            raise QidoError(f"{name} is too large: {_shown(raw)}")
        value = _MAX_INT
    if value < minimum:
        raise QidoError(f"{name} must be at least {minimum}, not {_shown(raw)}")
    return value


def _parse_bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise QidoError(f"{name} must be true or false, not {_shown(raw)}")


def _is_all_stars(value: str) -> bool:
    return bool(value) and set(value) == {"*"}


def _item_filter(tag: int, level: Level, raw: str) -> ItemFilter:
    result = _filter(tag, level, raw)
    if not isinstance(result, Universal | SingleValue | UidList | Wildcard):
        raise QidoError(f"unsupported matching inside a sequence for {_name(tag)}")
    return result


def _filter(tag: int, level: Level, raw: str) -> Filter:
    vr = _vr(tag)
    value = raw.strip(" ")
    name = _name(tag)
    # "*" alone means "any value" whatever the VR: clients send it for dates, UIDs and
    # numbers too (PS3.4 only defines it for text VRs, where it is universal matching).
    if value == "" or _is_all_stars(value):
        return Universal(tag, level)
    if vr == "SQ":
        raise QidoError(
            f"{name} is a sequence: match its items ({name}.Keyword=value) "
            "or give it empty to have it returned"
        )
    if vr == "UI":
        return _uid_filter(tag, level, value, name)
    if vr in ("DA", "TM", "DT"):
        return _range_filter(tag, level, value, vr, name)
    if vr in ("IS", "SL", "SS", "UL", "US"):
        if not _INT.fullmatch(value):
            raise QidoError(f"{name} must be an integer, not {_shown(raw)}")
        return SingleValue(tag, level, str(int(value)))
    if tag == _MODALITIES_IN_STUDY:
        return _modalities_filter(tag, level, value, name)
    if vr not in _TEXT_VRS:  # pragma: no cover - every matching key has a text VR
        raise QidoError(f"matching on {name} (VR {vr}) is not supported")
    if "*" in value or "?" in value:
        return Wildcard(tag, level, value)
    return SingleValue(tag, level, value)


def _uid_filter(tag: int, level: Level, value: str, name: str) -> Filter:
    if "*" in value or "?" in value:
        raise QidoError(f"wildcards are not allowed in UIDs ({name}={_shown(value)})")
    uids = tuple(u.strip(" \0") for u in re.split(r"[\\,]", value))
    for uid in uids:
        if not is_valid_uid(uid):
            raise QidoError(f"{name}: {_shown(uid)} is not a valid UID")
    uids = tuple(dict.fromkeys(uids))
    if len(uids) == 1:
        return SingleValue(tag, level, uids[0])
    return UidList(tag, level, uids)


def _modalities_filter(tag: int, level: Level, value: str, name: str) -> Filter:
    if _is_all_stars(value):
        return Universal(tag, level)
    values = tuple(dict.fromkeys(v.strip() for v in re.split(r"[\\,]", value) if v.strip()))
    for item in values:
        if "*" in item or "?" in item:
            raise QidoError(f"wildcards are not supported in {name}: {_shown(value)}")
    if not values:
        return Universal(tag, level)
    if len(values) == 1:
        return SingleValue(tag, level, values[0])
    return MultiValue(tag, level, values)


def _valid(vr: str, text: str) -> bool:
    if vr == "DA":
        if not _DATE.fullmatch(text):
            return False
        try:
            date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            return False
        return True
    if vr == "TM":
        return _TIME.fullmatch(text) is not None
    return _DATETIME.fullmatch(text) is not None


_FORMATS = {"DA": "YYYYMMDD", "TM": "HHMMSS.FFFFFF", "DT": "YYYYMMDDHHMMSS.FFFFFF&ZZXX"}


def _range_filter(tag: int, level: Level, value: str, vr: str, name: str) -> Filter:
    fmt = _FORMATS[vr]
    if "*" in value or "?" in value:
        raise QidoError(f"wildcards are not allowed in {name} ({vr}): {_shown(value)}")
    # A DT value may carry a "-ZZXX" offset: a whole valid DT is a single value.
    if "-" not in value or (vr == "DT" and _valid(vr, value)):
        if not _valid(vr, value):
            raise QidoError(f"{name}: {_shown(value)} is not a valid {vr} ({fmt})")
        return SingleValue(tag, level, value)
    start, end = _split_range(vr, value, name)
    if start is None and end is None:
        raise QidoError(f"{name}: {_shown(value)} is not a valid {vr} range")
    for bound in (start, end):
        if bound is not None and not _valid(vr, bound):
            raise QidoError(
                f"{name}: {_shown(value)} is not a valid {vr} range "
                f"({fmt}-{fmt}, open ends allowed)"
            )
    if start is not None and end is not None and _sort_key(vr, start) > _sort_key(vr, end):
        raise QidoError(f"{name}: range {_shown(value)} ends before it starts")
    if vr == "DA":
        return DateRange(tag, level, start, end)
    if vr == "TM":
        return TimeRange(tag, level, start, end)
    return DateTimeRange(tag, level, start, end)


def _split_range(vr: str, value: str, name: str) -> tuple[str | None, str | None]:
    parts = value.split("-")
    if vr != "DT" or len(parts) == 2:
        if len(parts) != 2:
            raise QidoError(f"{name}: {_shown(value)} is not a valid {vr} range")
        left, right = (p.strip() for p in parts)
        return left or None, right or None
    # DT bounds may carry negative offsets: try each '-' as the separator.
    for idx in range(1, len(parts)):
        left, right = "-".join(parts[:idx]).strip(), "-".join(parts[idx:]).strip()
        if (not left or _valid(vr, left)) and (not right or _valid(vr, right)):
            return left or None, right or None
    raise QidoError(f"{name}: {_shown(value)} is not a valid {vr} range")


def _sort_key(vr: str, text: str) -> str:
    # Compare bounds at equal precision: pad the start of a partial value with zeros.
    return text.split("+")[0].split("-")[0] if vr == "DT" else text


# ------------------------------------------------------------------------ person names


def person_name_words(value: str) -> list[str]:
    """The normalised words of a name, as stored (space-joined) in ``patient_name_words``."""
    return name_words(canonical_person_name(value.strip())).split()
