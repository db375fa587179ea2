"""QIDO-RS query string -> QidoQuery: every matching type, keyword vs tag, bad input."""

from __future__ import annotations

import pytest

from openpacs.protocol.qido import (
    DateRange,
    DateTimeRange,
    Filter,
    Level,
    MultiValue,
    QidoError,
    SequenceMatch,
    SingleValue,
    TimeRange,
    UidList,
    Universal,
    Wildcard,
    default_return_tags,
    lower_level_tags,
    normalise_person_name,
    parse_qido,
    person_name_words,
)

ST, SE, IN = Level.STUDY, Level.SERIES, Level.INSTANCE

PATIENT_ID = 0x00100020
PATIENT_NAME = 0x00100010
STUDY_DATE = 0x00080020
STUDY_TIME = 0x00080030
STUDY_UID = 0x0020000D
SERIES_UID = 0x0020000E
SOP_UID = 0x00080018
MODALITIES = 0x00080061
MODALITY = 0x00080060
SERIES_NUMBER = 0x00200011
INSTITUTION = 0x00080080
RAS = 0x00400275
REQ_PROC_ID = 0x00401001
SPS_ID = 0x00400009
ROWS = 0x00280010
ACCESSION = 0x00080050


def only(key: str, value: str, level: Level = ST) -> Filter:
    query = parse_qido([(key, value)], level)
    assert len(query.filters) == 1
    return query.filters[0]


@pytest.mark.parametrize(
    ("key", "value", "level", "expected"),
    [
        # single value, by keyword and by tag (upper and lower case hex)
        ("PatientID", "PAT-1", ST, SingleValue(PATIENT_ID, ST, "PAT-1")),
        ("00100020", "PAT-1", ST, SingleValue(PATIENT_ID, ST, "PAT-1")),
        ("0020000d", "1.2.3", ST, SingleValue(STUDY_UID, ST, "1.2.3")),
        ("AccessionNumber", " A1 ", ST, SingleValue(ACCESSION, ST, "A1")),
        # universal: empty value, or * alone
        ("PatientName", "", ST, Universal(PATIENT_NAME, ST)),
        ("PatientID", "*", ST, Universal(PATIENT_ID, ST)),
        ("StudyDate", "", ST, Universal(STUDY_DATE, ST)),
        ("RequestAttributesSequence", "", SE, Universal(RAS, SE)),
        # UID lists, backslash or comma
        ("StudyInstanceUID", "1.2.3\\1.2.4", ST, UidList(STUDY_UID, ST, ("1.2.3", "1.2.4"))),
        ("0020000E", "1.2,1.3", SE, UidList(SERIES_UID, SE, ("1.2", "1.3"))),
        ("SOPInstanceUID", "1.2\\1.2", IN, SingleValue(SOP_UID, IN, "1.2")),
        # wildcards
        ("PatientName", "doe*", ST, Wildcard(PATIENT_NAME, ST, "doe*")),
        ("PatientID", "P?T*", ST, Wildcard(PATIENT_ID, ST, "P?T*")),
        ("InstitutionName", "*Clinic", ST, Wildcard(INSTITUTION, ST, "*Clinic")),
        # literal SQL/LIKE metacharacters are just text
        ("PatientID", "50%_'\"\\x", ST, SingleValue(PATIENT_ID, ST, "50%_'\"\\x")),
        # date and time ranges, open-ended too
        ("StudyDate", "20200101", ST, SingleValue(STUDY_DATE, ST, "20200101")),
        ("StudyDate", "20200101-20201231", ST, DateRange(STUDY_DATE, ST, "20200101", "20201231")),
        ("StudyDate", "20200101-", ST, DateRange(STUDY_DATE, ST, "20200101", None)),
        ("StudyDate", "-20201231", ST, DateRange(STUDY_DATE, ST, None, "20201231")),
        ("StudyTime", "0800-1230", ST, TimeRange(STUDY_TIME, ST, "0800", "1230")),
        ("StudyTime", "101530.5-", ST, TimeRange(STUDY_TIME, ST, "101530.5", None)),
        ("StudyTime", "1015", ST, SingleValue(STUDY_TIME, ST, "1015")),
        # integers
        ("SeriesNumber", "007", SE, SingleValue(SERIES_NUMBER, SE, "7")),
        # ModalitiesInStudy: any of a list
        ("ModalitiesInStudy", "CT", ST, SingleValue(MODALITIES, ST, "CT")),
        ("ModalitiesInStudy", "CT\\MR", ST, MultiValue(MODALITIES, ST, ("CT", "MR"))),
        ("ModalitiesInStudy", "CT,MR", ST, MultiValue(MODALITIES, ST, ("CT", "MR"))),
        # higher-level keys at lower levels keep their own level
        ("PatientID", "x", SE, SingleValue(PATIENT_ID, ST, "x")),
        ("StudyInstanceUID", "1.2", IN, SingleValue(STUDY_UID, ST, "1.2")),
        ("Modality", "CT", IN, SingleValue(MODALITY, SE, "CT")),
        # InstitutionName exists at both levels: the nearest one wins
        ("InstitutionName", "X", SE, SingleValue(INSTITUTION, SE, "X")),
    ],
)
def test_matching_types(key: str, value: str, level: Level, expected: Filter) -> None:
    assert only(key, value, level) == expected


@pytest.mark.parametrize(
    "key",
    [
        "RequestAttributesSequence.RequestedProcedureID",
        "00400275.00401001",
        "RequestAttributesSequence.00401001",
        "00400275.RequestedProcedureID",
    ],
)
def test_sequence_matching_forms(key: str) -> None:
    assert only(key, "RP-1", SE) == SequenceMatch(RAS, SE, (SingleValue(REQ_PROC_ID, SE, "RP-1"),))


def test_sequence_items_are_grouped_into_one_match() -> None:
    query = parse_qido(
        [
            ("RequestAttributesSequence.RequestedProcedureID", "RP*"),
            ("PatientID", "p"),
            ("00400275.00400009", "S1"),
        ],
        IN,
    )
    assert query.filters == (
        SingleValue(PATIENT_ID, ST, "p"),
        SequenceMatch(RAS, SE, (Wildcard(REQ_PROC_ID, SE, "RP*"), SingleValue(SPS_ID, SE, "S1"))),
    )
    assert query.matching_tags == {PATIENT_ID, RAS}


def test_paging_fuzzy_and_includefield() -> None:
    query = parse_qido(
        [
            ("limit", "25"),
            ("offset", "50"),
            ("fuzzymatching", "TRUE"),
            ("includefield", "StudyDescription,00081030"),
            ("includefield", "PatientAge"),
            ("includefield", "00280010"),  # Rows: lower level at the series level
            ("accept", "application/dicom+json"),  # handled by the web layer
        ],
        SE,
    )
    assert (query.limit, query.offset, query.fuzzy, query.include_all) == (25, 50, True, False)
    assert query.includefields == {0x00081030, 0x00101010}
    assert query.ignored_includefields == {ROWS}
    assert query.filters == ()


def test_defaults_and_all() -> None:
    query = parse_qido([], ST)
    assert (query.limit, query.offset, query.fuzzy, query.include_all) == (None, 0, False, False)
    assert parse_qido([("includefield", "all")], ST).include_all
    assert parse_qido([("includefield", "PatientName,all")], ST).include_all
    assert parse_qido([("limit", "99999999999999999")], ST).limit == 2**31 - 1


@pytest.mark.parametrize(
    ("pairs", "level", "message"),
    [
        ([("includefield", "NoSuchKeyword")], ST, "unknown attribute"),
        ([("Modality", "CT")], ST, "series-level attribute"),
        ([("SOPInstanceUID", "1.2")], SE, "instance-level attribute"),
        ([("RequestAttributesSequence.RequestedProcedureID", "x")], ST, "series-level"),
        ([("StudyDate", "2020-01-01")], ST, "not a valid DA range"),
        ([("StudyDate", "20201301")], ST, "not a valid DA"),
        ([("StudyDate", "20201231-20200101")], ST, "ends before it starts"),
        ([("StudyDate", "-")], ST, "not a valid DA range"),
        ([("StudyDate", "2020*")], ST, "wildcards are not allowed"),
        ([("StudyDate", "20200101-20200102-20200103")], ST, "not a valid DA range"),
        ([("StudyTime", "2500")], ST, "not a valid TM"),
        ([("StudyTime", "1200-0800")], ST, "ends before it starts"),
        ([("StudyInstanceUID", "1.2.abc")], ST, "not a valid UID"),
        ([("StudyInstanceUID", "1.2.*")], ST, "wildcards are not allowed in UIDs"),
        ([("StudyInstanceUID", "1." + "2" * 70)], ST, "not a valid UID"),
        ([("StudyInstanceUID", "1.2\\")], ST, "not a valid UID"),
        ([("SeriesNumber", "one")], SE, "must be an integer"),
        ([("ModalitiesInStudy", "C*")], ST, "wildcards are not supported"),
        ([("RequestAttributesSequence", "x")], SE, "is a sequence"),
        ([("PatientID", "a"), ("00100020", "b")], ST, "more than once"),
        (
            [("00400275.00401001", "a"), ("RequestAttributesSequence.00401001", "b")],
            SE,
            "more than once",
        ),
        ([("limit", "-1")], ST, "whole number"),
        ([("limit", "0")], ST, "at least 1"),
        ([("limit", "ten")], ST, "whole number"),
        ([("limit", "5"), ("limit", "6")], ST, "more than once"),
        ([("offset", "1.5")], ST, "whole number"),
        ([("offset", "99999999999")], ST, "too large"),
        ([("fuzzymatching", "maybe")], ST, "true or false"),
        # an unsupported key is ignored, but not a bad value of a supported one with it
        ([("foo", "bar"), ("StudyDate", "2020")], ST, "not a valid DA"),
    ],
)
def test_bad_queries(pairs: list[tuple[str, str]], level: Level, message: str) -> None:
    with pytest.raises(QidoError, match=message):
        parse_qido(pairs, level)


@pytest.mark.parametrize(
    ("key", "level"),
    [
        ("foo", ST),  # no QIDO parameter, no DICOM attribute
        ("_", ST),  # jQuery's cache buster
        ("token", SE),
        ("", ST),  # "?=x"
        ("NoSuchKeyword", ST),
        ("0010002", ST),  # seven hex digits: not a tag
        ("emptyvaluematching", ST),  # a newer QIDO parameter we do not support
        ("PatientAge", ST),  # a DICOM attribute nobody matches on
        ("OperatorsName", IN),
        ("00091011", SE),  # a private tag
        ("RequestAttributesSequence.PatientID", SE),  # not an item key we match on
        ("RequestAttributesSequence.NoSuchKeyword", SE),
        ("RequestAttributesSequence.RequestedProcedureID.X", SE),  # nested
        ("PatientID.PatientName", ST),  # PatientID is no sequence
    ],
)
def test_unsupported_parameters_are_ignored(key: str, level: Level) -> None:
    query = parse_qido([(key, "x"), ("PatientID", "P1")], level)
    assert query.filters == (SingleValue(PATIENT_ID, ST, "P1"),)
    assert query.ignored_parameters == (key,)


def test_ignored_parameter_names_are_listed_once() -> None:
    query = parse_qido([("_", "1"), ("foo", "a"), ("_", "2")], ST)
    assert (query.filters, query.ignored_parameters) == ((), ("_", "foo"))


def test_qido_error_is_value_error() -> None:
    assert issubclass(QidoError, ValueError)


def test_datetime_ranges_parse() -> None:
    # No DT matching key is in the tables; the parser still handles the VR generically.
    from openpacs.protocol import qido

    flt = qido._range_filter(0x0008002A, ST, "20200101-202001021200", "DT", "AcquisitionDateTime")
    assert flt == DateTimeRange(0x0008002A, ST, "20200101", "202001021200")
    single = qido._range_filter(0x0008002A, ST, "20200101120000-0500", "DT", "x")
    assert single == SingleValue(0x0008002A, ST, "20200101120000-0500")


def test_return_tags_by_scope() -> None:
    study = default_return_tags(ST)
    assert PATIENT_ID in study and MODALITY not in study
    assert PATIENT_ID in default_return_tags(SE)
    assert PATIENT_ID not in default_return_tags(SE, study_scoped=True)
    # /studies/{study}/instances: the series and the study attributes with each instance
    assert {MODALITY, SERIES_UID, PATIENT_ID, STUDY_DATE} <= default_return_tags(
        IN, study_scoped=True
    )
    scoped = default_return_tags(IN, study_scoped=True, series_scoped=True)
    assert MODALITY not in scoped and PATIENT_ID not in scoped and ROWS in scoped


def test_lower_level_tags() -> None:
    assert ROWS in lower_level_tags(ST) and MODALITY in lower_level_tags(ST)
    assert ROWS in lower_level_tags(SE) and MODALITY not in lower_level_tags(SE)
    assert not lower_level_tags(IN)
    # shared attributes are never "lower"
    assert 0x00081190 not in lower_level_tags(ST) and INSTITUTION not in lower_level_tags(ST)


@pytest.mark.parametrize(
    ("raw", "norm", "words"),
    [
        ("Müller^Jürgen", "MULLER^JURGEN", ["MULLER", "JURGEN"]),
        ("doe^john^^^", "DOE^JOHN", ["DOE", "JOHN"]),
        ("Doe^John=ドウ^ジョン=", "DOE^JOHN=ドウ^ジョン", ["DOE", "JOHN", "ドウ", "ジョン"]),
        (
            "van der Berg^Jean-Pierre",
            "VAN DER BERG^JEAN-PIERRE",
            ["VAN", "DER", "BERG", "JEAN-PIERRE"],
        ),
        ("Ærø^Çé*", "ÆRØ^CE*", ["ÆRØ", "CE*"]),
        ("", "", []),
    ],
)
def test_person_name_normalisation(raw: str, norm: str, words: list[str]) -> None:
    assert normalise_person_name(raw) == norm
    assert person_name_words(raw) == words
