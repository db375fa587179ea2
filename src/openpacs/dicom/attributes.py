"""The indexed DICOM attributes: one table that ingest, the index, QIDO and C-FIND read.

Each row of :data:`ATTRIBUTES` is one attribute at one Query/Retrieve level (PS3.4 C.6):
its keyword (tag and VR come from the DICOM dictionary), the :class:`Kind` of its values
(which decides how it is stored, matched and returned), the index column that holds it,
who fills that column (:class:`Source`), whether it is a matching key at that level and
whether every search result carries it (PS3.18 tables 10.6.3-3, -4 and -5).

Who reads the table:

* ``dicom/ingest.py`` extracts the column value of every ``HEADER`` row from the file
  (clipped to ``length``; person names also get their normalised columns);
* ``index/models.py`` makes the column of every ``HEADER`` row (``String(length)``, or a
  nullable ``Integer`` for ``INT``); the other columns are declared there by hand because
  code names them (UIDs, counters);
* ``protocol/qido.py`` takes the matching keys of each level, the items that sequence
  matching supports, the matching rules (from the kind) and the default return keys;
* ``index/qido_sql.py`` matches and selects the columns, the kind choosing the SQL;
* ``services/search.py`` returns a column's value when the stored JSON lacks it;
* the DICOM listener's C-FIND (next) maps its identifier onto the same rows.

**Adding an attribute** is one ``HEADER`` row here plus an Alembic migration that calls
``add_attribute_column`` (``index/migrations/attribute_columns.py``) with the row as it
reads then (see ``index/migrations/versions/0002_series_station_name.py``). Ingest,
matching, results and the schema follow from the row for new instances; the migration
gives the rows already stored the column and the element in their level's JSON, read
from the full header kept with every instance (``instance.metadata_json``; a study or
series takes its first instance), so an attribute outside the hand-written tag sets
below works for old rows too. ``tests/e2e/test_new_attribute_e2e.py`` makes such a
change (PerformedStationName) to a copy of the package and searches old and new series.

``STUDY_LEVEL_TAGS``, ``SERIES_LEVEL_TAGS`` and ``INSTANCE_LEVEL_TAGS`` say which
attributes belong to each level: a hand-written list plus every row of the table at that
level. Ingest stores that subset of each file as the level's DICOM JSON, and QIDO never
returns an attribute of a level below the one searched.

Pure: no I/O, no database; pydicom's dictionary only.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from openpacs.dicom.dictionary import DICTIONARY, tag_for_keyword
from openpacs.dicom.dictionary import dictionary_vr as _dictionary_vr

__all__ = [
    "ATTRIBUTES",
    "INSTANCE_LEVEL_TAGS",
    "LEVEL_TAGS",
    "SERIES_LEVEL_TAGS",
    "STUDY_LEVEL_TAGS",
    "Attribute",
    "Kind",
    "Level",
    "Source",
    "attributes_at",
    "dictionary_vr",
    "header_attributes",
    "matching_keys",
    "return_tags",
    "sequence_items",
    "tag_of",
]


class Level(enum.Enum):
    """A Query/Retrieve level (PS3.4 C.6.1.1); Patient attributes live at the study level."""

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


class Kind(enum.Enum):
    """What the values are; decides the column type, the matching and the returned form."""

    TEXT = "text"  # LO, SH, CS, ...: single value or wildcard matching (case-sensitive)
    PERSON_NAME = "pn"  # matched on <column>_norm: case-, accent-insensitive, wildcards
    DATE = "date"  # DA, YYYYMMDD: single value or range
    TIME = "time"  # TM: a value matches at its precision; ranges
    UID = "uid"  # UI: single value or UID list
    INT = "int"  # IS, US: single value; a nullable integer column
    MULTI = "multi"  # a backslash list (SpecificCharacterSet): returned as values
    MODALITIES = "modalities"  # "\CT\MR\": matches any of the values asked for
    UIDS = "uids"  # a list of UIDs (SOPClassesInStudy)
    SEQUENCE = "sequence"  # matched by its items (rows whose ``sequence`` names it)


class Source(enum.Enum):
    """Who fills the column, and so which value a search result trusts."""

    # Ingest copies the element into the column; index/models makes the column. The
    # stored JSON wins in results (it keeps the file's form); the column fills gaps.
    HEADER = "header"
    # Ingest fills it with its own checks (validated UIDs, the image description).
    INGEST = "ingest"
    # The index maintains it as instances come and go (counters, ModalitiesInStudy).
    INDEX = "index"
    # No column: computed for each response (RetrieveURL, InstanceAvailability) or
    # returned from the stored JSON (TimezoneOffsetFromUTC, RequestAttributesSequence).
    RESPONSE = "response"


def tag_of(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"unknown DICOM keyword: {keyword}")
    return int(tag)


def dictionary_vr(tag: int) -> str:
    """The VR an attribute is returned with ("US or SS" -> "US"; unknown -> "UN")."""
    try:
        return _dictionary_vr(tag).split(" or ")[0]
    except KeyError:
        return "UN"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One indexed attribute at one level (a row of the table)."""

    keyword: str
    level: Level
    kind: Kind = Kind.TEXT
    column: str | None = None  # the index column; None for RESPONSE rows
    length: int | None = None  # String(length) of a text column
    source: Source = Source.HEADER
    matching: bool = False  # a matching key at this level
    returned: bool = False  # in every result of this level (PS3.18 10.6.3.3)
    sequence: str | None = None  # an item attribute of this sequence (sequence matching)
    words: bool = False  # PN: also <column>_words, for fuzzy matching
    tag: int = field(init=False)
    key: str = field(init=False)  # the DICOM JSON name: eight upper-case hex digits

    def __post_init__(self) -> None:
        object.__setattr__(self, "tag", tag_of(self.keyword))
        object.__setattr__(self, "key", f"{self.tag:08X}")

    @property
    def vr(self) -> str:
        return dictionary_vr(self.tag)

    @property
    def norm_column(self) -> str:
        """PN: the upper-case, accent-free copy that matching runs on."""
        return f"{self.column}_norm"

    @property
    def words_column(self) -> str:
        """PN with ``words``: the space-separated name components (fuzzy matching)."""
        return f"{self.column}_words"


ST, SE, IN = Level.STUDY, Level.SERIES, Level.INSTANCE
K, S = Kind, Source
_RAS = "RequestAttributesSequence"


def _everywhere(keyword: str) -> list[Attribute]:
    return [Attribute(keyword, lvl, source=S.RESPONSE, returned=True) for lvl in Level]


# fmt: off
ATTRIBUTES: Final[tuple[Attribute, ...]] = (
    # Study level (PS3.18 table 10.6.1-5 and 10.6.3-3): patient and study attributes.
    Attribute("SpecificCharacterSet", ST, K.MULTI, "specific_character_set", 200, returned=True),
    Attribute("StudyDate", ST, K.DATE, "study_date", 8, matching=True, returned=True),
    Attribute("StudyTime", ST, K.TIME, "study_time", 16, matching=True, returned=True),
    Attribute("AccessionNumber", ST, K.TEXT, "accession_number", 64, matching=True,
              returned=True),
    Attribute("InstanceAvailability", ST, source=S.RESPONSE, returned=True),
    Attribute("ModalitiesInStudy", ST, K.MODALITIES, "modalities_in_study", 200, S.INDEX,
              matching=True, returned=True),
    Attribute("ReferringPhysicianName", ST, K.PERSON_NAME, "referring_physician_name", 400,
              matching=True, returned=True),
    Attribute("StudyDescription", ST, K.TEXT, "study_description", 400, matching=True),
    Attribute("InstitutionName", ST, K.TEXT, "institution_name", 200, matching=True),
    Attribute("PatientName", ST, K.PERSON_NAME, "patient_name", 400, matching=True,
              returned=True, words=True),
    Attribute("PatientID", ST, K.TEXT, "patient_id", 64, matching=True, returned=True),
    Attribute("IssuerOfPatientID", ST, K.TEXT, "issuer_of_patient_id", 64),
    Attribute("PatientBirthDate", ST, K.DATE, "patient_birth_date", 8, matching=True,
              returned=True),
    Attribute("PatientSex", ST, K.TEXT, "patient_sex", 16, matching=True, returned=True),
    Attribute("StudyInstanceUID", ST, K.UID, "study_instance_uid", 64, S.INGEST,
              matching=True, returned=True),
    Attribute("StudyID", ST, K.TEXT, "study_id", 16, matching=True, returned=True),
    Attribute("SOPClassesInStudy", ST, K.UIDS, "sop_classes_in_study", None, S.INDEX),
    Attribute("NumberOfStudyRelatedSeries", ST, K.INT, "num_series", None, S.INDEX,
              returned=True),
    Attribute("NumberOfStudyRelatedInstances", ST, K.INT, "num_instances", None, S.INDEX,
              returned=True),
    # Series level (tables 10.6.1-6 and 10.6.3-4).
    Attribute("Modality", SE, K.TEXT, "modality", 16, matching=True, returned=True),
    Attribute("SeriesInstanceUID", SE, K.UID, "series_instance_uid", 64, S.INGEST,
              matching=True, returned=True),
    Attribute("SeriesNumber", SE, K.INT, "series_number", matching=True, returned=True),
    Attribute("SeriesDescription", SE, K.TEXT, "series_description", 400, matching=True,
              returned=True),
    Attribute("SeriesDate", SE, K.DATE, "series_date", 8, matching=True),
    Attribute("SeriesTime", SE, K.TIME, "series_time", 16, matching=True),
    Attribute("BodyPartExamined", SE, K.TEXT, "body_part_examined", 64, matching=True),
    Attribute("InstitutionName", SE, K.TEXT, "institution_name", 200, matching=True),
    Attribute("StationName", SE, K.TEXT, "station_name", 64, matching=True),
    Attribute("PerformedProcedureStepStartDate", SE, K.DATE,
              "performed_procedure_step_start_date", 8, matching=True, returned=True),
    Attribute("PerformedProcedureStepStartTime", SE, K.TIME,
              "performed_procedure_step_start_time", 16, matching=True, returned=True),
    Attribute(_RAS, SE, K.SEQUENCE, source=S.RESPONSE, matching=True, returned=True),
    Attribute("RequestedProcedureID", SE, K.TEXT, "requested_procedure_id", 64,
              matching=True, sequence=_RAS),
    Attribute("ScheduledProcedureStepID", SE, K.TEXT, "scheduled_procedure_step_id", 64,
              matching=True, sequence=_RAS),
    Attribute("AccessionNumber", SE, K.TEXT, "accession_number", 64, matching=True,
              sequence=_RAS),
    Attribute("StudyInstanceUID", SE, K.UID, "study_instance_uid", 64, matching=True,
              sequence=_RAS),
    Attribute("NumberOfSeriesRelatedInstances", SE, K.INT, "num_instances", None, S.INDEX,
              returned=True),
    # Instance level (tables 10.6.1-7 and 10.6.3-5).
    Attribute("SOPClassUID", IN, K.UID, "sop_class_uid", 64, S.INGEST, matching=True,
              returned=True),
    Attribute("SOPInstanceUID", IN, K.UID, "sop_instance_uid", 64, S.INGEST, matching=True,
              returned=True),
    Attribute("InstanceAvailability", IN, source=S.RESPONSE, returned=True),
    Attribute("InstanceNumber", IN, K.INT, "instance_number", matching=True, returned=True),
    Attribute("Rows", IN, K.INT, "rows", None, S.INGEST, returned=True),
    Attribute("Columns", IN, K.INT, "columns", None, S.INGEST, returned=True),
    Attribute("BitsAllocated", IN, K.INT, "bits_allocated", None, S.INGEST, returned=True),
    Attribute("NumberOfFrames", IN, K.INT, "number_of_frames", None, S.INGEST, returned=True),
    Attribute("AvailableTransferSyntaxUID", IN, K.UID, "transfer_syntax_uid", 64, S.INGEST),
    *_everywhere("TimezoneOffsetFromUTC"),
    *_everywhere("RetrieveURL"),
)
# fmt: on


def attributes_at(level: Level) -> tuple[Attribute, ...]:
    """The rows of ``level`` itself (sequence items excluded), in table order."""
    return _AT[level]


@functools.cache
def header_attributes(level: Level, sequence: str | None = None) -> tuple[Attribute, ...]:
    """The rows whose column ingest fills from the header: of ``level`` itself, or the
    items of ``sequence`` (stored in a table of their own)."""
    return tuple(
        a
        for a in ATTRIBUTES
        if a.level is level and a.sequence == sequence and a.source is Source.HEADER
    )


def matching_keys(level: Level) -> dict[int, Attribute]:
    """tag -> row of the matching keys of ``level`` (without the levels above)."""
    return {a.tag: a for a in _AT[level] if a.matching}


def sequence_items(level: Level) -> dict[int, dict[int, Attribute]]:
    """sequence tag -> item tag -> row, for the sequences of ``level`` that can be matched."""
    found: dict[int, dict[int, Attribute]] = {}
    for a in ATTRIBUTES:
        if a.level is level and a.sequence is not None and a.matching:
            found.setdefault(tag_of(a.sequence), {})[a.tag] = a
    return found


def return_tags(level: Level) -> frozenset[int]:
    """The attributes every result of a search at ``level`` carries (PS3.18 10.6.3.3)."""
    return frozenset(a.tag for a in _AT[level] if a.returned)


_AT: dict[Level, tuple[Attribute, ...]] = {
    lvl: tuple(a for a in ATTRIBUTES if a.level is lvl and a.sequence is None) for lvl in Level
}


def _tags(keywords: str, rows: Iterable[Attribute] = ()) -> frozenset[int]:
    return frozenset(tag_of(k) for k in keywords.split()) | {a.tag for a in rows}


_COMMON = "SpecificCharacterSet TimezoneOffsetFromUTC RetrieveURL"
#: Patient (every public group 0010 attribute but AnatomicalOrientationType, a series
#: one), General Study and Patient Study modules (PS3.3 C.7.1.1, C.7.2.1, C.7.2.2) and
#: the study keys of PS3.4 C.6.1.1.3 / C.6.2.1.2.
STUDY_LEVEL_TAGS: Final[frozenset[int]] = _tags(
    _COMMON + " StudyDate StudyTime AccessionNumber IssuerOfAccessionNumberSequence"
    " ReferringPhysicianName ReferringPhysicianIdentificationSequence"
    " ConsultingPhysicianName ConsultingPhysicianIdentificationSequence StudyDescription"
    " ProcedureCodeSequence PhysiciansOfRecord PhysiciansOfRecordIdentificationSequence"
    " NameOfPhysiciansReadingStudy PhysiciansReadingStudyIdentificationSequence"
    " AdmittingDiagnosesDescription AdmittingDiagnosesCodeSequence ReferencedStudySequence"
    " PatientIdentityRemoved DeidentificationMethod DeidentificationMethodCodeSequence"
    " StudyInstanceUID StudyID RequestingServiceCodeSequence RequestedProcedureDescription"
    " ReasonForVisit ReasonForVisitCodeSequence AdmissionID IssuerOfAdmissionIDSequence"
    " ServiceEpisodeID ServiceEpisodeDescription PatientState"
    " ReasonForPerformedProcedureCodeSequence RequestingPhysician InstitutionName"
    " NumberOfPatientRelatedStudies",
    _AT[Level.STUDY],
) | frozenset(t for t in DICTIONARY if t >> 16 == 0x0010 and t != 0x00102210)
#: General Series and General Equipment modules (PS3.3 C.7.3.1, C.7.5.1), covering
#: PS3.18 table 10.6.1-6 and the series keys of PS3.4 C.6.1.1.4.
SERIES_LEVEL_TAGS: Final[frozenset[int]] = _tags(
    _COMMON + " SeriesDate SeriesTime Modality Manufacturer InstitutionName InstitutionAddress"
    " SeriesDescription SeriesDescriptionCodeSequence StationName InstitutionalDepartmentName"
    " PerformingPhysicianName PerformingPhysicianIdentificationSequence OperatorsName"
    " OperatorIdentificationSequence ManufacturerModelName"
    " ReferencedPerformedProcedureStepSequence RelatedSeriesSequence BodyPartExamined"
    " DeviceSerialNumber SoftwareVersions ProtocolName PatientPosition SeriesInstanceUID"
    " SeriesNumber Laterality SmallestPixelValueInSeries LargestPixelValueInSeries"
    " AnatomicalOrientationType PerformedProcedureStepStartDate PerformedProcedureStepStartTime"
    " PerformedProcedureStepID PerformedProcedureStepDescription PerformedProtocolCodeSequence"
    " RequestAttributesSequence CommentsOnThePerformedProcedureStep FrameOfReferenceUID"
    " PositionReferenceIndicator",
    _AT[Level.SERIES],
)
#: PS3.18 table 10.6.1-7 plus the image and document attributes viewers commonly ask for.
INSTANCE_LEVEL_TAGS: Final[frozenset[int]] = _tags(
    _COMMON + " SOPClassUID SOPInstanceUID InstanceNumber Rows Columns BitsAllocated NumberOfFrames"
    " AvailableTransferSyntaxUID BitsStored HighBit PixelRepresentation SamplesPerPixel"
    " PhotometricInterpretation ImageType AcquisitionDate AcquisitionTime AcquisitionDateTime"
    " AcquisitionNumber ContentDate ContentTime InstanceCreationDate InstanceCreationTime"
    " ImagePositionPatient ImageOrientationPatient SliceLocation SliceThickness PixelSpacing"
    " WindowCenter WindowWidth ConceptNameCodeSequence ContentLabel ContentDescription"
    " ContentCreatorName DocumentTitle CompletionFlag VerificationFlag ObservationDateTime"
    " LossyImageCompression BurnedInAnnotation",
    _AT[Level.INSTANCE],
)
LEVEL_TAGS: Final[dict[Level, frozenset[int]]] = {
    Level.STUDY: STUDY_LEVEL_TAGS,
    Level.SERIES: SERIES_LEVEL_TAGS,
    Level.INSTANCE: INSTANCE_LEVEL_TAGS,
}
