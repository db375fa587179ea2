"""QIDO-RS against a real server (SQLite and PostgreSQL), driven by dicomweb-client and httpx.

Data, loaded once per backend (module-scoped fixtures, one account each):

* ``catalog``: six hand-made studies stored through STOW-RS (one request), chosen so that
  every matching type has hits and near misses: LIKE/GLOB metacharacters in PatientIDs
  (``PID%1``, ``PID_1``, ``PID!1``), an apostrophe, an accented name, an undated study,
  a two-series study, RequestAttributesSequence items;
* ``other``: a second account holding a study with the *same* UIDs as one of the catalog
  (isolation);
* ``intl``: the three non-ASCII files of the corpus (Japanese ISO 2022, UTF-8 Chinese,
  Latin-1 German), stored through STOW-RS;
* ``paging``: 1,000 one-instance studies of ``bench.dataset``. STOW-RS commits and fsyncs
  every instance (30-60 instances/s on the test machine), too slow to load 1,000 per
  backend in a test run, so their rows are written in bulk from what the real ingest
  parser (``parse_instance``) makes of each file, blobs included;
  :func:`test_bulk_loaded_rows_answer_exactly_like_stowed_ones` proves that such rows
  answer every QIDO level exactly like an instance stored through STOW-RS.

The study and series matching tables also run against a third server whose PostgreSQL
database has a linguistic (ICU en-US) default collation, as production clusters usually
do: prefix ranges must be compared bytewise there (``icu_catalog``).
"""

from __future__ import annotations

import fnmatch
import functools
import io
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pydicom
import pytest
from bench.dataset import InstanceSpec, det_uid, make_instance, study_specs
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_auth
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage
from requests.auth import HTTPBasicAuth
from sqlalchemy import insert, select

from openpacs.dicom.ingest import parse_instance
from openpacs.dicom.parsed import ParsedInstance
from openpacs.index.db import Database
from openpacs.index.models import Account, Instance, Series, Study
from openpacs.storage.base import new_blob_key
from tests.support.dicom_xml import comparable, xml_datasets
from tests.support.postgres import ADMIN_URL, _reachable
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import referenced_uids, stow

NODE_ACCEPT = "application/json, text/plain, */*"
MORE_RESULTS = "There are additional results that can be requested"
SC = SecondaryCaptureImageStorage

# DICOM JSON keys used below.
PATIENT_NAME, PATIENT_ID = "00100010", "00100020"
STUDY_UID, SERIES_UID, SOP_UID, SOP_CLASS = "0020000D", "0020000E", "00080018", "00080016"
STUDY_DATE, STUDY_TIME, ACCESSION, STUDY_ID = "00080020", "00080030", "00080050", "00200010"
MODALITIES, MODALITY, RETRIEVE_URL = "00080061", "00080060", "00081190"
N_STUDY_SERIES, N_STUDY_INSTANCES, N_SERIES_INSTANCES = "00201206", "00201208", "00201209"
SERIES_NUMBER, INSTANCE_NUMBER, ROWS, COLUMNS = "00200011", "00200013", "00280010", "00280011"
STUDY_DESCRIPTION, INSTITUTION, SERIES_DESCRIPTION = "00081030", "00080080", "0008103E"
REQUEST_ATTRIBUTES, REQUESTED_PROCEDURE_ID = "00400275", "00401001"
STATION_NAME = "00081010"
# Attributes of the series and instance levels: never in a study result, and the instance
# ones never in a series result, whatever includefield says.
SERIES_ONLY = {
    MODALITY, SERIES_UID, SERIES_NUMBER, SERIES_DESCRIPTION, N_SERIES_INSTANCES,
    REQUEST_ATTRIBUTES, "00180015", "00400244",
}  # fmt: skip
INSTANCE_ONLY = {SOP_UID, SOP_CLASS, INSTANCE_NUMBER, ROWS, COLUMNS, "00280100", "00280008"}


# --------------------------------------------------------------------------- the catalog

STUDIES: dict[str, dict[str, str]] = {
    "S1": {
        "PatientID": "PID-1", "PatientName": "Doe^John", "StudyDate": "20200115",
        "StudyTime": "101500", "AccessionNumber": "ACC-1", "StudyID": "S1",
        "StudyDescription": "Brain CT", "ReferringPhysicianName": "House^Gregory",
        "PatientBirthDate": "19600101", "PatientSex": "M", "InstitutionName": "General",
    },
    "S2": {
        "PatientID": "PID-2", "PatientName": "Doe^Jane", "StudyDate": "20210610",
        "StudyTime": "230000", "AccessionNumber": "ACC-2", "StudyID": "S2",
        "StudyDescription": "Abdomen US", "PatientBirthDate": "19750505", "PatientSex": "F",
    },
    "S3": {
        "PatientID": "PID%1", "PatientName": "Smith^Anna", "StudyDate": "20191231",
        "StudyTime": "000000", "AccessionNumber": "ACC-3", "PatientSex": "F",
    },
    "S4": {
        "PatientID": "PID_1", "PatientName": "O'Brien^Sean", "StudyDate": "20200301",
        "StudyTime": "093000", "AccessionNumber": "ACC-4", "PatientSex": "M",
    },
    "S5": {"PatientID": "PID-5", "PatientName": "Smithers^Bob", "AccessionNumber": "ACC'5"},
    "S6": {
        "PatientID": "PID!1", "PatientName": "Müller^Jürgen", "StudyDate": "20221111",
        "StudyTime": "153000", "AccessionNumber": "ACC-6",
    },
}  # fmt: skip
# Newest first, undated last: the order of every study search.
STUDY_ORDER = ["S6", "S2", "S4", "S1", "S3", "S5"]
ALL_STUDIES = frozenset(STUDIES)


@dataclass(frozen=True)
class SeriesDef:
    study: str
    modality: str
    number: int
    instances: int
    attrs: Mapping[str, str]
    request_attributes: Sequence[Mapping[str, str]] = ()


SERIES: dict[str, SeriesDef] = {
    "S1.CT": SeriesDef(
        "S1", "CT", 1, 2,
        {"SeriesDescription": "Axial", "BodyPartExamined": "HEAD", "StationName": "CT-NORTH"},
        [{"RequestedProcedureID": "RP-100", "ScheduledProcedureStepID": "SPS-100",
          "AccessionNumber": "ACC-1"}],
    ),
    "S1.MR": SeriesDef(
        "S1", "MR", 2, 1, {"SeriesDescription": "T1 sagittal", "StationName": "MR1"},
        [{"RequestedProcedureID": "RP-101", "ScheduledProcedureStepID": "SPS-101"}],
    ),
    "S2.US": SeriesDef(
        "S2", "US", 1, 1, {"SeriesDescription": "Liver"},
        [{"RequestedProcedureID": "RP-200", "ScheduledProcedureStepID": "SPS-200"},
         {"RequestedProcedureID": "RP-201", "ScheduledProcedureStepID": "SPS-201"}],
    ),
    "S3.CT": SeriesDef("S3", "CT", 1, 1, {}),
    "S4.CR": SeriesDef("S4", "CR", 1, 1, {}),
    "S5.MR": SeriesDef("S5", "MR", 1, 1, {}),
    "S6.CT": SeriesDef("S6", "CT", 3, 1, {"StationName": "CT-SOUTH"}),
}  # fmt: skip
ALL_SERIES = frozenset(SERIES)
# Instances are labelled "S1.CT.1" (series label, then InstanceNumber).
INSTANCES = [f"{label}.{n}" for label, se in SERIES.items() for n in range(1, se.instances + 1)]
ALL_INSTANCES = frozenset(INSTANCES)


def uid(label: str, account_tag: str = "") -> str:
    return det_uid("qido-e2e", account_tag, label)


def build_instance(label: str, *, patient_id: str | None = None, account_tag: str = "") -> bytes:
    """Part-10 bytes of catalog instance ``label`` (4x4 8-bit secondary capture)."""
    series_label, _, number = label.rpartition(".")
    se = SERIES[series_label]
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = SC
    ds.SOPInstanceUID = uid(label, account_tag)
    ds.StudyInstanceUID = uid(se.study, account_tag)
    ds.SeriesInstanceUID = uid(series_label, account_tag)
    for keyword, value in STUDIES[se.study].items():
        setattr(ds, keyword, value)
    if patient_id is not None:
        ds.PatientID = patient_id
    ds.Modality = se.modality
    ds.SeriesNumber = se.number
    for keyword, value in se.attrs.items():
        setattr(ds, keyword, value)
    if se.request_attributes:
        items = []
        for attrs in se.request_attributes:
            item = Dataset()
            for keyword, value in attrs.items():
                setattr(item, keyword, value)
            items.append(item)
        ds.RequestAttributesSequence = items
    ds.InstanceNumber = int(number)
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(range(16))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SC
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@dataclass(frozen=True)
class Loaded:
    """An account and the UIDs it holds, by label (and back)."""

    server: ServerProcess
    account: TestAccount
    uids: dict[str, str]

    @functools.cached_property
    def labels(self) -> dict[str, str]:
        return {value: key for key, value in self.uids.items()}

    def fill(self, value: str) -> str:
        """``{S1}`` / ``{S1.CT}`` / ``{S1.CT.1}`` placeholders -> UIDs."""
        return re.sub(r"\{([^}]+)\}", lambda m: self.uids[m.group(1)], value)

    def url(self, path: str) -> str:
        return self.server.dicomweb + self.fill(path)

    def client(self) -> DICOMwebClient:
        session = create_session_from_auth(HTTPBasicAuth(*self.account.auth))
        return DICOMwebClient(url=self.server.dicomweb, session=session)


def load_catalog(server: ServerProcess, *, account_tag: str = "", patient_id: str | None = None
                 ) -> Loaded:  # fmt: skip
    account = server.create_account()
    parts = [build_instance(label, patient_id=patient_id, account_tag=account_tag)
             for label in INSTANCES]  # fmt: skip
    response = stow(server.dicomweb, account.auth, parts)
    assert response.status_code == 200, response.text
    assert len(referenced_uids(response.json())) == len(INSTANCES)
    labels = [*STUDIES, *SERIES, *INSTANCES]
    return Loaded(server, account, {label: uid(label, account_tag) for label in labels})


@pytest.fixture(scope="module")
def catalog(server: ServerProcess) -> Loaded:
    return load_catalog(server)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


Params = Sequence[tuple[str, str]] | Mapping[str, str]


def qido(
    http: httpx.Client,
    loaded: Loaded,
    path: str,
    params: Params = (),
    **headers: str,
) -> httpx.Response:
    items = params.items() if isinstance(params, Mapping) else params
    filled = [(key, loaded.fill(value)) for key, value in items]
    return http.get(loaded.url(path), params=filled, auth=loaded.account.auth, headers=headers)


def results(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON array of a 200, [] for the 204 of no match (anything else fails)."""
    assert "X-Error-Reason" not in response.headers
    if response.status_code == 204:
        assert response.content == b""
        return []
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/dicom+json")
    body = response.json()
    assert isinstance(body, list) and body
    return body


def value(item: Mapping[str, Any], key: str) -> list[Any]:
    return list(item.get(key, {}).get("Value", []))


def first(item: Mapping[str, Any], key: str) -> Any:
    values = value(item, key)
    return values[0] if values else None


def labels_of(loaded: Loaded, items: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    return [loaded.labels[first(item, key)] for item in items]


def instance_labels(loaded: Loaded, items: Sequence[Mapping[str, Any]]) -> list[str]:
    return labels_of(loaded, items, SOP_UID)


# --------------------------------------------------------------------------- study level

STUDY_CASES: list[tuple[str, dict[str, str], frozenset[str] | set[str]]] = [
    # single value
    ("patient-id", {"PatientID": "PID-1"}, {"S1"}),
    ("patient-id-by-tag", {"00100020": "PID-2"}, {"S2"}),
    ("accession", {"AccessionNumber": "ACC-4"}, {"S4"}),
    ("accession-with-apostrophe", {"AccessionNumber": "ACC'5"}, {"S5"}),
    ("study-id", {"StudyID": "S1"}, {"S1"}),
    ("patient-sex", {"PatientSex": "F"}, {"S2", "S3"}),
    ("institution", {"InstitutionName": "General"}, {"S1"}),
    ("no-match", {"PatientID": "NOBODY"}, set()),
    ("single-value-is-not-a-prefix", {"PatientID": "PID"}, set()),
    # universal
    ("universal-empty", {"PatientID": ""}, ALL_STUDIES),
    ("universal-star", {"PatientName": "*"}, ALL_STUDIES),
    ("universal-uid", {"StudyInstanceUID": ""}, ALL_STUDIES),
    ("universal-star-for-a-uid", {"StudyInstanceUID": "*"}, ALL_STUDIES),
    ("universal-star-for-a-date", {"StudyDate": "*"}, ALL_STUDIES),
    ("universal-star-for-a-time", {"StudyTime": "**"}, ALL_STUDIES),
    # UID list
    ("uid", {"StudyInstanceUID": "{S1}"}, {"S1"}),
    ("uid-list-backslash", {"StudyInstanceUID": "{S1}\\{S3}"}, {"S1", "S3"}),
    ("uid-list-comma", {"StudyInstanceUID": "{S2},{S6}"}, {"S2", "S6"}),
    ("uid-list-with-unknown", {"StudyInstanceUID": "{S4}\\1.2.3.4"}, {"S4"}),
    ("uid-unknown", {"StudyInstanceUID": "1.2.3.4"}, set()),
    # wildcards
    ("star-suffix", {"PatientID": "PID-*"}, {"S1", "S2", "S5"}),
    ("question-mark", {"PatientID": "PID-?"}, {"S1", "S2", "S5"}),
    ("question-mark-any-character", {"PatientID": "PID?1"}, {"S1", "S3", "S4", "S6"}),
    ("star-prefix", {"StudyDescription": "*CT"}, {"S1"}),
    ("star-inside", {"StudyDescription": "A*US"}, {"S2"}),
    ("non-pn-wildcard-is-case-sensitive", {"StudyDescription": "brain*"}, set()),
    ("two-question-marks", {"AccessionNumber": "ACC-??"}, set()),
    # person names: case and accent insensitive
    ("pn-wildcard", {"PatientName": "doe*"}, {"S1", "S2"}),
    ("pn-question-mark", {"PatientName": "D?E^J*"}, {"S1", "S2"}),
    ("pn-leading-star", {"PatientName": "*^anna"}, {"S3"}),
    ("pn-exact", {"PatientName": "Doe^John"}, {"S1"}),
    ("pn-upper-case", {"PatientName": "DOE^JOHN"}, {"S1"}),
    ("pn-lower-case", {"PatientName": "doe^john"}, {"S1"}),
    ("pn-family-name-alone-is-not-a-match", {"PatientName": "Doe"}, set()),
    ("pn-accent-free-query", {"PatientName": "muller^jurgen"}, {"S6"}),
    ("pn-accented-query", {"PatientName": "MÜLLER^JÜRGEN"}, {"S6"}),
    ("pn-apostrophe", {"PatientName": "o'brien*"}, {"S4"}),
    ("pn-prefix", {"PatientName": "Smith*"}, {"S3", "S5"}),
    ("referring-physician", {"ReferringPhysicianName": "house^gregory"}, {"S1"}),
    # date and time ranges
    ("date", {"StudyDate": "20200115"}, {"S1"}),
    ("date-range", {"StudyDate": "20200101-20201231"}, {"S1", "S4"}),
    ("date-range-inclusive", {"StudyDate": "20191231-20200115"}, {"S3", "S1"}),
    ("date-range-open-end", {"StudyDate": "20200301-"}, {"S4", "S2", "S6"}),
    ("date-range-open-start", {"StudyDate": "-20200115"}, {"S3", "S1"}),
    ("date-range-empty", {"StudyDate": "20230101-20231231"}, set()),
    ("birth-date-range", {"PatientBirthDate": "19700101-19801231"}, {"S2"}),
    ("time", {"StudyTime": "101500"}, {"S1"}),
    ("time-at-minute-precision", {"StudyTime": "1015"}, {"S1"}),
    ("time-at-hour-precision", {"StudyTime": "09"}, {"S4"}),
    ("time-range", {"StudyTime": "100000-120000"}, {"S1"}),
    ("time-range-open-start-at-minute-precision", {"StudyTime": "-0930"}, {"S3", "S4"}),
    ("time-range-open-start-at-hour-precision", {"StudyTime": "-09"}, {"S3", "S4"}),
    ("time-range-open-end", {"StudyTime": "2300-"}, {"S2"}),
    ("date-and-pn", {"StudyDate": "20210101-", "PatientName": "doe*"}, {"S2"}),
    # ModalitiesInStudy: any of the listed modalities
    ("modalities", {"ModalitiesInStudy": "CT"}, {"S1", "S3", "S6"}),
    ("modalities-second-series", {"ModalitiesInStudy": "MR"}, {"S1", "S5"}),
    ("modalities-any-of", {"ModalitiesInStudy": "US\\CR"}, {"S2", "S4"}),
    ("modalities-any-of-comma", {"ModalitiesInStudy": "CR,MR"}, {"S1", "S4", "S5"}),
    ("modalities-none", {"ModalitiesInStudy": "NM"}, set()),
    ("modalities-not-a-substring", {"ModalitiesInStudy": "C"}, set()),
    # characters that mean something to SQL LIKE/GLOB are matched literally
    ("literal-percent-alone", {"PatientID": "%"}, set()),
    ("literal-underscore-alone", {"PatientID": "_"}, set()),
    ("literal-percent", {"PatientID": "PID%1"}, {"S3"}),
    ("literal-underscore", {"PatientID": "PID_1"}, {"S4"}),
    ("literal-escape-char", {"PatientID": "PID!1"}, {"S6"}),
    ("literal-percent-then-star", {"PatientID": "PID%*"}, {"S3"}),
    ("literal-underscore-then-star", {"PatientID": "PID_*"}, {"S4"}),
    ("literal-escape-char-then-star", {"PatientID": "PID!*"}, {"S6"}),
    ("literal-percent-inside-stars", {"PatientID": "*%*"}, {"S3"}),
    ("literal-underscore-inside-stars", {"PatientID": "*_*"}, {"S4"}),
    ("literal-percent-in-pn", {"PatientName": "%"}, set()),
    ("literal-underscore-in-pn", {"PatientName": "_*"}, set()),
    ("literal-apostrophe-inside-stars", {"AccessionNumber": "*'*"}, {"S5"}),
    ("literal-quote-injection", {"PatientID": "' OR '1'='1"}, set()),
    ("literal-backslash", {"PatientID": "PID\\1"}, set()),
    ("literal-backslash-inside-stars", {"PatientID": "*\\*"}, set()),
    ("literal-glob-class", {"PatientID": "PID[-_%!]1"}, set()),
    ("literal-glob-class-then-star", {"PatientID": "PID[-]*"}, set()),
    ("literal-glob-class-star", {"PatientName": "[D]*"}, set()),
    ("literal-glob-class-after-star", {"PatientID": "*[-]1"}, set()),
    ("literal-glob-class-in-pn-after-star", {"PatientName": "*[J]*"}, set()),
    ("literal-percent-after-star", {"PatientID": "*%"}, set()),
]


@pytest.mark.parametrize(("params", "expected"), [c[1:] for c in STUDY_CASES],
                         ids=[c[0] for c in STUDY_CASES])  # fmt: skip
def test_study_matching(
    http: httpx.Client, catalog: Loaded, params: dict[str, str], expected: set[str]
) -> None:
    check_study_matching(http, catalog, params, expected)


def check_study_matching(
    http: httpx.Client, loaded: Loaded, params: dict[str, str], expected: set[str]
) -> None:
    items = results(qido(http, loaded, "/studies", params))
    found = labels_of(loaded, items, STUDY_UID)
    assert sorted(found) == sorted(expected)
    # Every answer keeps the one study order, whatever the filter.
    assert found == [label for label in STUDY_ORDER if label in expected]
    for item in items:  # a matching key is always returned
        for key in params:
            assert (
                key if re.fullmatch(r"[0-9A-F]{8}", key) else f"{tag_for_keyword(key):08X}"
            ) in item


FUZZY_CASES: list[tuple[str, bool, set[str]]] = [
    ("jurg", True, {"S6"}),
    ("jurg", False, set()),
    ("JÜRG", True, {"S6"}),
    ("joh", True, {"S1"}),
    ("doe", True, {"S1", "S2"}),
    ("doe^jo", True, {"S1"}),
    ("smi", True, {"S3", "S5"}),
    ("anna", True, {"S3"}),
    ("ann", False, set()),
    ("doe^john", True, {"S1"}),
    ("ohn", True, set()),
]


@pytest.mark.parametrize(("name", "fuzzy", "expected"), FUZZY_CASES)
def test_fuzzy_person_name_matching_with_dicomweb_client(
    catalog: Loaded, name: str, fuzzy: bool, expected: set[str]
) -> None:
    found = catalog.client().search_for_studies(
        search_filters={"PatientName": name}, fuzzymatching=fuzzy
    )
    assert {catalog.labels[first(item, STUDY_UID)] for item in found} == expected


CLIENT_CASES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("studies-by-id", "studies", {"search_filters": {"PatientID": "PID-1"}}, ["S1"]),
    ("studies-by-tag", "studies", {"search_filters": {"00100020": "PID-2"}}, ["S2"]),
    ("studies-date-range", "studies",
     {"search_filters": {"StudyDate": "20200101-20201231"}}, ["S4", "S1"]),
    ("studies-open-date-range", "studies", {"search_filters": {"StudyDate": "-20200115"}},
     ["S1", "S3"]),
    ("studies-time-range", "studies", {"search_filters": {"StudyTime": "2300-"}}, ["S2"]),
    ("studies-wildcard", "studies", {"search_filters": {"PatientName": "D?e^*"}}, ["S2", "S1"]),
    ("studies-modalities", "studies", {"search_filters": {"ModalitiesInStudy": "CT"}},
     ["S6", "S1", "S3"]),
    ("studies-uid-list", "studies",
     {"search_filters": {"StudyInstanceUID": "{S5}\\{S2}"}}, ["S2", "S5"]),
    ("studies-limit-offset", "studies", {"limit": 2, "offset": 1}, ["S2", "S4"]),
    ("studies-offset-to-end", "studies", {"offset": 4}, ["S3", "S5"]),
    ("studies-offset-past-end", "studies", {"offset": 6}, []),
    ("studies-no-match", "studies", {"search_filters": {"PatientID": "NOBODY"}}, []),
    ("series-by-modality", "series", {"search_filters": {"Modality": "CT"}},
     ["S6.CT", "S1.CT", "S3.CT"]),
    ("series-of-study", "series", {"study_instance_uid": "{S1}"}, ["S1.CT", "S1.MR"]),
    ("series-of-study-by-modality", "series",
     {"study_instance_uid": "{S1}", "search_filters": {"Modality": "MR"}}, ["S1.MR"]),
    ("series-by-sequence-item", "series",
     {"search_filters": {"RequestAttributesSequence.RequestedProcedureID": "RP-100"}},
     ["S1.CT"]),
    ("series-limit", "series", {"limit": 1, "offset": 1}, ["S2.US"]),
    ("instances-of-series", "instances",
     {"study_instance_uid": "{S1}", "series_instance_uid": "{S1.CT}"}, ["S1.CT.1", "S1.CT.2"]),
    ("instances-of-study", "instances", {"study_instance_uid": "{S1}"},
     ["S1.CT.1", "S1.CT.2", "S1.MR.1"]),
    ("instances-by-number", "instances",
     {"study_instance_uid": "{S1}", "search_filters": {"InstanceNumber": "2"}}, ["S1.CT.2"]),
    ("instances-by-sop-uid", "instances", {"search_filters": {"SOPInstanceUID": "{S4.CR.1}"}},
     ["S4.CR.1"]),
    ("instances-by-upper-level-key", "instances", {"search_filters": {"Modality": "MR"}},
     ["S1.MR.1", "S5.MR.1"]),
    ("instances-fuzzy-name", "instances",
     {"search_filters": {"PatientName": "jane"}, "fuzzymatching": True}, ["S2.US.1"]),
]  # fmt: skip


def _fill_kwargs(loaded: Loaded, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in kwargs.items():
        if isinstance(val, str):
            out[key] = loaded.fill(val)
        elif isinstance(val, dict):
            out[key] = {k: loaded.fill(v) for k, v in val.items()}
        else:
            out[key] = val
    return out


@pytest.mark.parametrize(("level", "kwargs", "expected"), [c[1:] for c in CLIENT_CASES],
                         ids=[c[0] for c in CLIENT_CASES])  # fmt: skip
def test_dicomweb_client_searches(
    catalog: Loaded, level: str, kwargs: dict[str, Any], expected: list[str]
) -> None:
    client = catalog.client()
    method = getattr(client, f"search_for_{level}")
    found = method(**_fill_kwargs(catalog, kwargs))
    key = {"studies": STUDY_UID, "series": SERIES_UID, "instances": SOP_UID}[level]
    assert labels_of(catalog, found, key) == expected
    for item in found:  # pydicom reads every answer
        Dataset.from_json(item)


def test_study_order_is_newest_first_and_limit_offset_follow_it(
    http: httpx.Client, catalog: Loaded
) -> None:
    everything = results(qido(http, catalog, "/studies"))
    assert labels_of(catalog, everything, STUDY_UID) == STUDY_ORDER
    assert "Warning" not in qido(http, catalog, "/studies").headers
    pages = []
    for offset in range(0, 6, 4):
        response = qido(http, catalog, "/studies", {"limit": "4", "offset": str(offset)})
        pages += labels_of(catalog, results(response), STUDY_UID)
        assert ("Warning" in response.headers) == (offset == 0)
    assert pages == STUDY_ORDER


# --------------------------------------------------------------------------- series level

SERIES_CASES: list[tuple[str, str, dict[str, str], frozenset[str] | set[str]]] = [
    ("modality", "/series", {"Modality": "CT"}, {"S1.CT", "S3.CT", "S6.CT"}),
    ("modality-and-patient", "/series", {"Modality": "MR", "PatientID": "PID-1"}, {"S1.MR"}),
    ("series-number", "/series", {"SeriesNumber": "2"}, {"S1.MR"}),
    ("series-number-by-tag", "/series", {"00200011": "3"}, {"S6.CT"}),
    ("series-uid-list", "/series", {"SeriesInstanceUID": "{S1.CT}\\{S2.US}"},
     {"S1.CT", "S2.US"}),
    ("series-description-wildcard", "/series", {"SeriesDescription": "T1*"}, {"S1.MR"}),
    ("body-part", "/series", {"BodyPartExamined": "HEAD"}, {"S1.CT"}),
    ("study-uid", "/series", {"StudyInstanceUID": "{S1}"}, {"S1.CT", "S1.MR"}),
    ("study-date-range", "/series", {"StudyDate": "20200101-20201231"},
     {"S1.CT", "S1.MR", "S4.CR"}),
    ("universal", "/series", {"Modality": ""}, ALL_SERIES),
    ("universal-star-for-a-number", "/series", {"SeriesNumber": "*"}, ALL_SERIES),
    ("universal-star-for-a-sequence", "/series", {"RequestAttributesSequence": "*"}, ALL_SERIES),
    ("sequence-item", "/series", {"RequestAttributesSequence.RequestedProcedureID": "RP-100"},
     {"S1.CT"}),
    ("sequence-item-by-tag", "/series", {"00400275.00401001": "RP-101"}, {"S1.MR"}),
    ("sequence-item-mixed-form", "/series", {"RequestAttributesSequence.00400009": "SPS-101"},
     {"S1.MR"}),
    ("sequence-item-wildcard", "/series",
     {"RequestAttributesSequence.RequestedProcedureID": "RP-2*"}, {"S2.US"}),
    ("sequence-second-item", "/series",
     {"RequestAttributesSequence.RequestedProcedureID": "RP-201"}, {"S2.US"}),
    ("sequence-same-item", "/series",
     {"RequestAttributesSequence.RequestedProcedureID": "RP-200",
      "RequestAttributesSequence.ScheduledProcedureStepID": "SPS-200"}, {"S2.US"}),
    ("sequence-keys-in-different-items", "/series",
     {"RequestAttributesSequence.RequestedProcedureID": "RP-200",
      "RequestAttributesSequence.ScheduledProcedureStepID": "SPS-201"}, set()),
    ("sequence-accession", "/series", {"RequestAttributesSequence.AccessionNumber": "ACC-1"},
     {"S1.CT"}),
    ("sequence-literal-percent", "/series",
     {"RequestAttributesSequence.RequestedProcedureID": "RP%"}, set()),
    ("sequence-universal", "/series", {"RequestAttributesSequence": ""}, ALL_SERIES),
    # StationName: added as one row of the attribute table plus migration 0002
    ("station-name", "/series", {"StationName": "CT-NORTH"}, {"S1.CT"}),
    ("station-name-by-tag", "/series", {"00081010": "MR1"}, {"S1.MR"}),
    ("station-name-wildcard", "/series", {"StationName": "CT-*"}, {"S1.CT", "S6.CT"}),
    ("station-name-case-sensitive", "/series", {"StationName": "ct-*"}, set()),
    ("station-name-and-patient", "/series", {"StationName": "CT*", "PatientID": "PID!1"},
     {"S6.CT"}),
    ("station-name-in-a-study", "/studies/{S1}/series", {"StationName": "MR?"}, {"S1.MR"}),
    ("scoped-by-study", "/studies/{S1}/series", {}, {"S1.CT", "S1.MR"}),
    ("scoped-by-study-and-modality", "/studies/{S1}/series", {"Modality": "MR"}, {"S1.MR"}),
    ("scoped-by-other-study", "/studies/{S2}/series", {"Modality": "CT"}, set()),
    ("scoped-unknown-study", "/studies/1.2.3.4/series", {}, set()),
]  # fmt: skip


@pytest.mark.parametrize(("path", "params", "expected"), [c[1:] for c in SERIES_CASES],
                         ids=[c[0] for c in SERIES_CASES])  # fmt: skip
def test_series_matching(
    http: httpx.Client, catalog: Loaded, path: str, params: dict[str, str], expected: set[str]
) -> None:
    check_series_matching(http, catalog, path, params, expected)


def check_series_matching(
    http: httpx.Client, loaded: Loaded, path: str, params: dict[str, str], expected: set[str]
) -> None:
    items = results(qido(http, loaded, path, params))
    found = labels_of(loaded, items, SERIES_UID)
    if "StationName" in params:  # a matching key comes back, with the series' own value
        for label, item in zip(found, items, strict=True):
            assert value(item, STATION_NAME) == [SERIES[label].attrs["StationName"]]
    assert sorted(found) == sorted(expected)
    # Series follow their study's order, then SeriesNumber.
    order = [label for study in STUDY_ORDER for label in SERIES if label.startswith(study + ".")]
    assert found == [label for label in order if label in expected]


INSTANCE_CASES: list[tuple[str, str, dict[str, str], frozenset[str] | set[str]]] = [
    ("sop-uid", "/instances", {"SOPInstanceUID": "{S1.CT.2}"}, {"S1.CT.2"}),
    ("sop-uid-list", "/instances", {"SOPInstanceUID": "{S1.CT.1}\\{S5.MR.1}"},
     {"S1.CT.1", "S5.MR.1"}),
    ("instance-number", "/instances", {"InstanceNumber": "2"}, {"S1.CT.2"}),
    ("sop-class", "/instances", {"SOPClassUID": SC}, ALL_INSTANCES),
    ("sop-class-other", "/instances", {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.2"}, set()),
    ("series-key", "/instances", {"Modality": "MR"}, {"S1.MR.1", "S5.MR.1"}),
    ("series-uid", "/instances", {"SeriesInstanceUID": "{S1.CT}"}, {"S1.CT.1", "S1.CT.2"}),
    ("study-key", "/instances", {"PatientName": "doe^jane"}, {"S2.US.1"}),
    ("study-date-range", "/instances", {"StudyDate": "-20191231"}, {"S3.CT.1"}),
    ("sequence-item", "/instances",
     {"RequestAttributesSequence.RequestedProcedureID": "RP-100"}, {"S1.CT.1", "S1.CT.2"}),
    ("station-name", "/instances", {"StationName": "CT-SOUTH"}, {"S6.CT.1"}),
    ("scoped-by-study", "/studies/{S1}/instances", {}, {"S1.CT.1", "S1.CT.2", "S1.MR.1"}),
    ("scoped-by-study-and-number", "/studies/{S1}/instances", {"InstanceNumber": "1"},
     {"S1.CT.1", "S1.MR.1"}),
    ("scoped-by-series", "/studies/{S1}/series/{S1.CT}/instances", {},
     {"S1.CT.1", "S1.CT.2"}),
    ("scoped-by-series-and-number", "/studies/{S1}/series/{S1.CT}/instances",
     {"InstanceNumber": "2"}, {"S1.CT.2"}),
    ("series-of-another-study", "/studies/{S2}/series/{S1.CT}/instances", {}, set()),
]  # fmt: skip


@pytest.mark.parametrize(("path", "params", "expected"), [c[1:] for c in INSTANCE_CASES],
                         ids=[c[0] for c in INSTANCE_CASES])  # fmt: skip
def test_instance_matching(
    http: httpx.Client, catalog: Loaded, path: str, params: dict[str, str], expected: set[str]
) -> None:
    items = results(qido(http, catalog, path, params))
    found = instance_labels(catalog, items)
    assert sorted(found) == sorted(expected)
    order = [label for study in STUDY_ORDER for label in INSTANCES
             if label.startswith(study + ".")]  # fmt: skip
    assert found == [label for label in order if label in expected]


# --------------------------------------------------------------------------- return attributes


def test_study_results_carry_counts_modalities_and_a_retrieve_url(
    http: httpx.Client, catalog: Loaded
) -> None:
    [s1] = results(qido(http, catalog, "/studies", {"StudyInstanceUID": "{S1}"}))
    study = catalog.uids["S1"]
    assert value(s1, N_STUDY_SERIES) == [2]
    assert value(s1, N_STUDY_INSTANCES) == [3]
    assert sorted(value(s1, MODALITIES)) == ["CT", "MR"]
    assert value(s1, RETRIEVE_URL) == [f"{catalog.server.dicomweb}/studies/{study}"]
    assert s1[PATIENT_NAME] == {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]}
    expected = {
        PATIENT_ID: "PID-1", STUDY_DATE: "20200115", STUDY_TIME: "101500",
        ACCESSION: "ACC-1", STUDY_ID: "S1", "00100030": "19600101", "00100040": "M",
        "00080090": {"Alphabetic": "House^Gregory"}, STUDY_UID: study,
    }  # fmt: skip
    for key, wanted in expected.items():
        assert value(s1, key) == [wanted], key
    assert STUDY_DESCRIPTION not in s1  # not a default attribute, not asked for
    assert not SERIES_ONLY & set(s1) and not INSTANCE_ONLY & set(s1)
    assert list(s1) == sorted(s1)
    # The RetrieveURL points at this server and retrieves the study.
    wado = http.get(
        value(s1, RETRIEVE_URL)[0],
        auth=catalog.account.auth,
        headers={"Accept": 'multipart/related; type="application/dicom"'},
    )
    assert wado.status_code == 200
    assert wado.content.count(b"DICM") == 3
    # The undated study: counts, no date.
    [s5] = results(qido(http, catalog, "/studies", {"PatientID": "PID-5"}))
    assert value(s5, N_STUDY_INSTANCES) == [1] and value(s5, STUDY_DATE) == []


def test_series_results_carry_counts_and_a_retrieve_url(
    http: httpx.Client, catalog: Loaded
) -> None:
    items = results(qido(http, catalog, "/studies/{S1}/series"))
    study = catalog.uids["S1"]
    by_label = {catalog.labels[first(item, SERIES_UID)]: item for item in items}
    assert list(by_label) == ["S1.CT", "S1.MR"]
    ct, mr = by_label["S1.CT"], by_label["S1.MR"]
    assert value(ct, N_SERIES_INSTANCES) == [2] and value(mr, N_SERIES_INSTANCES) == [1]
    assert value(ct, MODALITY) == ["CT"] and value(mr, MODALITY) == ["MR"]
    assert value(ct, SERIES_NUMBER) == [1] and value(mr, SERIES_NUMBER) == [2]
    assert value(ct, SERIES_DESCRIPTION) == ["Axial"]
    for label, item in by_label.items():
        url = f"{catalog.server.dicomweb}/studies/{study}/series/{catalog.uids[label]}"
        assert value(item, RETRIEVE_URL) == [url]
        assert not INSTANCE_ONLY & set(item)
    # RequestAttributesSequence is a series return attribute: both items of S2's series.
    [us] = results(qido(http, catalog, "/series", {"Modality": "US"}))
    items_ = value(us, REQUEST_ATTRIBUTES)
    assert [first(item, REQUESTED_PROCEDURE_ID) for item in items_] == ["RP-200", "RP-201"]
    # Unscoped series searches add the study attributes.
    assert value(us, PATIENT_ID) == ["PID-2"] and value(us, N_STUDY_SERIES) == [1]
    assert value(us, STUDY_UID) == [catalog.uids["S2"]]


def test_instance_results_carry_their_attributes_and_a_retrieve_url(
    http: httpx.Client, catalog: Loaded
) -> None:
    items = results(qido(http, catalog, "/studies/{S1}/series/{S1.CT}/instances"))
    assert instance_labels(catalog, items) == ["S1.CT.1", "S1.CT.2"]
    base = f"{catalog.server.dicomweb}/studies/{catalog.uids['S1']}/series/{catalog.uids['S1.CT']}"
    for number, item in enumerate(items, start=1):
        sop = catalog.uids[f"S1.CT.{number}"]
        assert value(item, SOP_CLASS) == [SC]
        assert value(item, INSTANCE_NUMBER) == [number]
        assert value(item, ROWS) == [4] and value(item, COLUMNS) == [4]
        assert value(item, RETRIEVE_URL) == [f"{base}/instances/{sop}"]
    wado = http.get(
        value(items[0], RETRIEVE_URL)[0],
        auth=catalog.account.auth,
        headers={"Accept": 'multipart/related; type="application/dicom"'},
    )
    assert wado.status_code == 200 and wado.content.count(b"DICM") == 1
    # Unscoped instance searches add the series and study attributes.
    [mr] = results(qido(http, catalog, "/instances", {"SOPInstanceUID": "{S1.MR.1}"}))
    assert value(mr, MODALITY) == ["MR"] and value(mr, SERIES_UID) == [catalog.uids["S1.MR"]]
    assert value(mr, PATIENT_ID) == ["PID-1"] and value(mr, N_SERIES_INSTANCES) == [1]


def test_instances_of_a_study_carry_the_study_and_series_attributes(
    http: httpx.Client, catalog: Loaded
) -> None:
    """``/studies/{study}/instances``: each instance says which series (PS3.18 10.6.3.3.3)
    and which patient and study it belongs to, as ``/instances`` does."""
    items = results(qido(http, catalog, "/studies/{S1}/instances"))
    assert instance_labels(catalog, items) == ["S1.CT.1", "S1.CT.2", "S1.MR.1"]
    for item in items:
        series = catalog.labels[first(item, SOP_UID)].rsplit(".", 1)[0]
        assert value(item, SERIES_UID) == [catalog.uids[series]]
        assert value(item, MODALITY) == [SERIES[series].modality]
        assert value(item, SERIES_NUMBER) == [SERIES[series].number]
        assert value(item, N_SERIES_INSTANCES) == [SERIES[series].instances]
        assert item[PATIENT_NAME] == {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]}
        assert value(item, PATIENT_ID) == ["PID-1"] and value(item, STUDY_DATE) == ["20200115"]
        assert value(item, ACCESSION) == ["ACC-1"]
        assert value(item, STUDY_UID) == [catalog.uids["S1"]]
        assert value(item, N_STUDY_SERIES) == [2]
        assert sorted(value(item, MODALITIES)) == ["CT", "MR"]
        sop = first(item, SOP_UID)
        url = f"{catalog.server.dicomweb}/studies/{catalog.uids['S1']}/series/"
        assert value(item, RETRIEVE_URL) == [f"{url}{catalog.uids[series]}/instances/{sop}"]
        Dataset.from_json(item)
    # The same through dicomweb-client.
    found = catalog.client().search_for_instances(study_instance_uid=catalog.uids["S1"])
    assert found == items
    # Series of one study carry no study attributes (10.6.3.3.2: only for "All Series"),
    # and instances of one series carry neither study nor series attributes.
    for series_item in results(qido(http, catalog, "/studies/{S1}/series")):
        assert PATIENT_ID not in series_item and STUDY_DATE not in series_item
    for item in results(qido(http, catalog, "/studies/{S1}/series/{S1.CT}/instances")):
        assert PATIENT_ID not in item and MODALITY not in item


def test_matching_keys_and_named_includefields_come_back_empty_without_a_value(
    http: httpx.Client, catalog: Loaded
) -> None:
    """S5 has no StudyDate, StudyTime or InstitutionName: asked for, they are returned
    empty (a C-FIND return key without a value), never left out."""
    params = [
        ("PatientID", "PID-5"),
        ("StudyDate", ""),
        ("StudyTime", "*"),
        ("includefield", "InstitutionName,StudyDescription"),
    ]
    [s5] = results(qido(http, catalog, "/studies", params))
    assert s5[STUDY_DATE] == {"vr": "DA"} and s5[STUDY_TIME] == {"vr": "TM"}
    assert s5[INSTITUTION] == {"vr": "LO"} and s5[STUDY_DESCRIPTION] == {"vr": "LO"}
    assert value(s5, PATIENT_ID) == ["PID-5"]
    # Not asked for: only what has a value (or was stored empty) is returned.
    [plain] = results(qido(http, catalog, "/studies", {"PatientID": "PID-5"}))
    assert STUDY_DATE not in plain and INSTITUTION not in plain
    # The same at the series level, for a sequence matching key.
    [series] = results(
        qido(http, catalog, "/series", {"PatientID": "PID-5", "RequestAttributesSequence": ""})
    )
    assert series[REQUEST_ATTRIBUTES] == {"vr": "SQ"}
    Dataset.from_json(s5)
    Dataset.from_json(series)


INCLUDE_CASES: list[tuple[str, list[str], set[str]]] = [
    ("keyword", ["StudyDescription"], {STUDY_DESCRIPTION}),
    ("tag", ["00081030"], {STUDY_DESCRIPTION}),
    ("comma-list", ["StudyDescription,InstitutionName"], {STUDY_DESCRIPTION, INSTITUTION}),
    ("comma-list-with-spaces", ["StudyDescription, 00080080"], {STUDY_DESCRIPTION, INSTITUTION}),
    ("repeated", ["StudyDescription", "InstitutionName"], {STUDY_DESCRIPTION, INSTITUTION}),
    ("all", ["all"], {STUDY_DESCRIPTION, INSTITUTION}),
    ("all-with-others", ["PatientID", "all"], {STUDY_DESCRIPTION, INSTITUTION}),
]


@pytest.mark.parametrize(("fields", "extra"), [c[1:] for c in INCLUDE_CASES],
                         ids=[c[0] for c in INCLUDE_CASES])  # fmt: skip
def test_includefield(
    http: httpx.Client, catalog: Loaded, fields: list[str], extra: set[str]
) -> None:
    params = [("StudyInstanceUID", "{S1}"), *(("includefield", f) for f in fields)]
    [item] = results(qido(http, catalog, "/studies", params))
    assert extra <= set(item)
    assert value(item, STUDY_DESCRIPTION) == ["Brain CT"]
    assert not SERIES_ONLY & set(item) and not INSTANCE_ONLY & set(item)
    # The same through dicomweb-client's ``fields``.
    [same] = catalog.client().search_for_studies(
        search_filters={"StudyInstanceUID": catalog.uids["S1"]}, fields=fields
    )
    assert same == item


LOWER_LEVEL_CASES: list[tuple[str, str, list[str], set[str]]] = [
    ("study-named-series-tags", "/studies",
     ["Modality", "SeriesInstanceUID", "SeriesNumber", "NumberOfSeriesRelatedInstances",
      "RequestAttributesSequence", "0008103E"], SERIES_ONLY),
    ("study-named-instance-tags", "/studies",
     ["SOPInstanceUID", "00080016", "InstanceNumber", "Rows,Columns"], INSTANCE_ONLY),
    ("study-all", "/studies", ["all"], SERIES_ONLY | INSTANCE_ONLY),
    ("series-named-instance-tags", "/series",
     ["SOPInstanceUID", "SOPClassUID", "InstanceNumber", "00280010"], INSTANCE_ONLY),
    ("series-all", "/series", ["all"], INSTANCE_ONLY),
    ("scoped-series-all", "/studies/{S1}/series", ["all"], INSTANCE_ONLY),
]  # fmt: skip


@pytest.mark.parametrize(("path", "fields", "never"), [c[1:] for c in LOWER_LEVEL_CASES],
                         ids=[c[0] for c in LOWER_LEVEL_CASES])  # fmt: skip
def test_lower_level_attributes_are_never_returned(
    http: httpx.Client, catalog: Loaded, path: str, fields: list[str], never: set[str]
) -> None:
    params = [("includefield", f) for f in fields]
    items = results(qido(http, catalog, path, params))
    assert items
    for item in items:
        assert not never & set(item), sorted(never & set(item))


# --------------------------------------------------------------------------- PostDICOM forms

POSTDICOM_CASES: list[tuple[str, str, str, list[str]]] = [
    ("studies-by-patient-id", "/studies?00100020=PID-1", STUDY_UID, ["S1"]),
    ("studies-by-study-uid", "/studies?0020000D={S1}", STUDY_UID, ["S1"]),
    ("series-by-study-uid", "/studies/series?0020000D={S1}", SERIES_UID, ["S1.CT", "S1.MR"]),
    ("instances-by-series-uid", "/studies/series/instances?0020000E={S1.CT}", SOP_UID,
     ["S1.CT.1", "S1.CT.2"]),
    ("double-slash", "//studies?00100020=PID-2", STUDY_UID, ["S2"]),
    ("double-slash-series", "//studies/series?0020000D={S2}", SERIES_UID, ["S2.US"]),
    ("trailing-slash", "/studies/?00100020=PID-2", STUDY_UID, ["S2"]),
    ("trailing-slash-instances", "//studies/series/instances/?0020000E={S1.MR}", SOP_UID,
     ["S1.MR.1"]),
]  # fmt: skip


@pytest.mark.parametrize("accept", [None, NODE_ACCEPT], ids=["no-accept", "node-accept"])
@pytest.mark.parametrize(("path", "key", "expected"), [c[1:] for c in POSTDICOM_CASES],
                         ids=[c[0] for c in POSTDICOM_CASES])  # fmt: skip
def test_postdicom_forms(
    http: httpx.Client,
    catalog: Loaded,
    path: str,
    key: str,
    expected: list[str],
    accept: str | None,
) -> None:
    # What the C# sample sends: no Accept, a stray "ContentType" header; the Node sample
    # sends its Accept and a Content-Type on a GET without a body.
    headers = {"ContentType": "application/dicom"}
    if accept is not None:
        headers |= {"Accept": accept, "Content-Type": "application/json"}
    response = http.get(catalog.url(path), auth=catalog.account.auth, headers=headers)
    assert response.status_code == 200, response.text
    assert "X-Error-Reason" not in response.headers
    media_type = "application/json" if accept else "application/dicom+json"
    assert response.headers["content-type"].split(";")[0] == media_type
    assert labels_of(catalog, response.json(), key) == expected


# --------------------------------------------------------------------------- non-ASCII

INTL_FILES = {
    "H31": "pydicom__chrH31.dcm",
    "X1": "pydicom__chrX1.dcm",
    "Germ": "pydicom__chrGerm.dcm",
}
INTL_NAMES = {
    "H31": {"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"},
    "X1": {"Alphabetic": "Wang^XiaoDong", "Ideographic": "王^小東"},
    "Germ": {"Alphabetic": "Äneas^Rüdiger"},
}


@pytest.fixture(scope="module")
def intl(server: ServerProcess, corpus_dir: Path) -> Loaded:
    account = server.create_account()
    files = {label: corpus_dir / name for label, name in INTL_FILES.items()}
    response = stow(server.dicomweb, account.auth, [f.read_bytes() for f in files.values()])
    assert response.status_code == 200, response.text
    uids = {
        label: str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
        for label, path in files.items()
    }
    return Loaded(server, account, uids)


INTL_CASES: list[tuple[str, dict[str, str], set[str]]] = [
    ("japanese-alphabetic-prefix", {"PatientName": "Yamada*"}, {"H31"}),
    ("japanese-case-insensitive", {"PatientName": "YAMADA^tarou"}, {"H31"}),
    ("japanese-all-groups", {"PatientName": "Yamada^Tarou=山田^太郎=やまだ^たろう"}, {"H31"}),
    ("japanese-fuzzy-ideographic", {"PatientName": "山田", "fuzzymatching": "true"}, {"H31"}),
    ("japanese-fuzzy-phonetic", {"PatientName": "たろう", "fuzzymatching": "true"}, {"H31"}),
    ("chinese", {"PatientName": "wang^xiaodong"}, {"X1"}),
    ("chinese-fuzzy", {"PatientName": "xiao", "fuzzymatching": "true"}, {"X1"}),
    ("german-exact", {"PatientName": "Äneas^Rüdiger"}, {"Germ"}),
    ("german-accent-free", {"PatientName": "aneas*"}, {"Germ"}),
    ("german-fuzzy", {"PatientName": "rudi", "fuzzymatching": "true"}, {"Germ"}),
    ("german-fuzzy-accented", {"PatientName": "RÜD", "fuzzymatching": "true"}, {"Germ"}),
    ("german-not-fuzzy", {"PatientName": "rudi"}, set()),
    ("all", {}, {"H31", "X1", "Germ"}),
]


@pytest.mark.parametrize(("params", "expected"), [c[1:] for c in INTL_CASES],
                         ids=[c[0] for c in INTL_CASES])  # fmt: skip
def test_non_ascii_names_match_and_come_back_intact(
    http: httpx.Client, intl: Loaded, params: dict[str, str], expected: set[str]
) -> None:
    items = results(qido(http, intl, "/studies", params))
    assert {intl.labels[first(item, STUDY_UID)] for item in items} == expected
    for item in items:
        label = intl.labels[first(item, STUDY_UID)]
        assert item[PATIENT_NAME] == {"vr": "PN", "Value": [INTL_NAMES[label]]}


def test_non_ascii_names_through_dicomweb_client(intl: Loaded) -> None:
    client = intl.client()
    [germ] = client.search_for_studies(search_filters={"PatientName": "rudi"}, fuzzymatching=True)
    assert str(Dataset.from_json(germ).PatientName) == "Äneas^Rüdiger"
    [h31] = client.search_for_studies(search_filters={"PatientName": "yamada*"})
    name = Dataset.from_json(h31).PatientName
    assert (name.alphabetic, name.ideographic, name.phonetic) == (
        "Yamada^Tarou", "山田^太郎", "やまだ^たろう"
    )  # fmt: skip
    [x1] = client.search_for_series(search_filters={"PatientName": "Wang^XiaoDong"})
    assert Dataset.from_json(x1).PatientName.ideographic == "王^小東"
    [inst] = client.search_for_instances(search_filters={"PatientName": "äneas^rüdiger"})
    assert str(Dataset.from_json(inst).PatientName) == "Äneas^Rüdiger"


# --------------------------------------------------------------------------- errors

BAD_REQUESTS: list[tuple[str, str, str]] = [
    ("unknown-tag-in-includefield", "/studies?includefield=NoSuchKeyword", "NoSuchKeyword"),
    ("lower-level-matching-key", "/studies?Modality=CT", "ModalitiesInStudy"),
    ("instance-key-at-series-level", "/series?SOPInstanceUID=1.2.3", "SOPInstanceUID"),
    ("series-key-at-study-level", "/studies?StationName=CT-NORTH", "StationName"),
    ("date-range-backwards", "/studies?StudyDate=20200101-20190101", "StudyDate"),
    ("date-not-a-date", "/studies?StudyDate=20201345", "StudyDate"),
    ("date-iso-format", "/studies?StudyDate=2020-01-01", "StudyDate"),
    ("date-range-two-dashes", "/studies?StudyDate=20200101--20200201", "StudyDate"),
    ("date-wildcard", "/studies?StudyDate=2020*", "StudyDate"),
    ("time-not-a-time", "/studies?StudyTime=250000", "StudyTime"),
    ("uid-with-letters", "/studies?StudyInstanceUID=1.2.abc", "1.2.abc"),
    ("uid-wildcard", "/studies?StudyInstanceUID=1.2.*", "StudyInstanceUID"),
    ("uid-in-list", "/series?SeriesInstanceUID=1.2.3\\x.4", "x.4"),
    ("uid-too-long", "/studies?StudyInstanceUID=" + "1." * 40 + "1", "UID"),
    ("uid-in-path", "/studies/1.2.abc/series", "1.2.abc"),
    ("series-uid-in-path", "/studies/1.2.3/series/not-a-uid/instances", "not-a-uid"),
    ("limit-negative", "/studies?limit=-1", "limit"),
    ("limit-zero", "/studies?limit=0", "limit"),
    ("limit-not-a-number", "/studies?limit=ten", "limit"),
    ("limit-twice", "/studies?limit=1&limit=2", "limit"),
    ("offset-negative", "/studies?offset=-5", "offset"),
    ("offset-not-a-number", "/studies?offset=1.5", "offset"),
    ("fuzzy-not-a-boolean", "/studies?fuzzymatching=perhaps", "fuzzymatching"),
    ("series-number-not-a-number", "/series?SeriesNumber=two", "SeriesNumber"),
    ("sequence-with-a-value", "/series?RequestAttributesSequence=x", "RequestAttributesSequence"),
    ("key-twice", "/studies?PatientID=a&00100020=b", "PatientID"),
]


@pytest.mark.parametrize(("path", "words"), [c[1:] for c in BAD_REQUESTS],
                         ids=[c[0] for c in BAD_REQUESTS])  # fmt: skip
def test_bad_queries_answer_400_with_a_reason(
    http: httpx.Client, catalog: Loaded, path: str, words: str
) -> None:
    response = http.get(catalog.url(path), auth=catalog.account.auth)
    assert response.status_code == 400, response.text
    reason = response.headers["X-Error-Reason"]
    assert words in reason and reason.isascii() and "\n" not in reason
    assert response.json()["Error"] == reason


IGNORED_PARAMETERS: list[tuple[str, str, dict[str, str]]] = [
    ("unknown-name", "/studies", {"foo": "bar"}),
    ("cache-buster", "/studies", {"_": "1733456789012"}),
    ("token", "/studies", {"token": "abc"}),
    ("unknown-keyword", "/studies", {"NoSuchKeyword": "x"}),
    ("unsupported-attribute", "/studies", {"PatientAge": "030Y"}),
    ("unsupported-attribute-by-tag", "/series", {"00081070": "Smith"}),  # OperatorsName
    ("private-tag", "/instances", {"00091011": "x"}),
    ("unsupported-query-parameter", "/studies", {"emptyvaluematching": "true"}),
    ("unsupported-item-key", "/series", {"RequestAttributesSequence.PatientName": "x"}),
    ("nested-item-key", "/series", {"RequestAttributesSequence.RequestedProcedureID.X": "x"}),
]


@pytest.mark.parametrize(("path", "extra"), [c[1:] for c in IGNORED_PARAMETERS],
                         ids=[c[0] for c in IGNORED_PARAMETERS])  # fmt: skip
def test_unknown_and_unsupported_parameters_are_ignored(
    http: httpx.Client, catalog: Loaded, path: str, extra: dict[str, str]
) -> None:
    """PS3.18 8.3: the request is processed as if they were not there (200, not 400)."""
    params = {"PatientID": "PID-1"}
    plain = results(qido(http, catalog, path, params))
    assert plain
    assert results(qido(http, catalog, path, {**params, **extra})) == plain
    # An invalid value of a supported parameter next to them is still a 400.
    bad = qido(http, catalog, path, {**params, **extra, "limit": "ten"})
    assert bad.status_code == 400 and "limit" in bad.headers["X-Error-Reason"]


@pytest.mark.parametrize("accept", ["image/jpeg", "multipart/related; type=application/dicom"])
def test_unsupported_media_types_answer_406(
    http: httpx.Client, catalog: Loaded, accept: str
) -> None:
    response = qido(http, catalog, "/studies", {"PatientID": "PID-1"}, Accept=accept)
    assert response.status_code == 406
    assert response.headers["X-Error-Reason"]


XML_SEARCHES = [
    ("/studies", {"PatientID": "PID-1"}),
    ("/studies", {"includefield": "all"}),
    ("/series", {"includefield": "all"}),
    ("/instances", {"includefield": "all"}),
    ("/studies/{S1}/instances", {}),
]


@pytest.mark.parametrize(
    "accept",
    [
        'multipart/related; type="application/dicom+xml"',
        "multipart/related; type=application/dicom+xml",
        "application/dicom+xml",
    ],
)
@pytest.mark.parametrize(("path", "params"), XML_SEARCHES)
def test_xml_results_say_what_the_json_results_say(
    http: httpx.Client, catalog: Loaded, accept: str, path: str, params: dict[str, str]
) -> None:
    """PS3.18 10.6.3 / PS3.19: one Native DICOM Model document per result, in order."""
    as_json = qido(http, catalog, path, params)
    as_xml = qido(http, catalog, path, params, Accept=accept)
    assert as_xml.status_code == 200, as_xml.text
    content_type = as_xml.headers["content-type"]
    assert content_type.startswith("multipart/related")
    assert 'type="application/dicom+xml"' in content_type
    assert xml_datasets(as_xml) == [comparable(item) for item in as_json.json()]


def test_xml_of_non_ascii_names_keeps_every_group(http: httpx.Client, intl: Loaded) -> None:
    as_json = qido(http, intl, "/studies", {"includefield": "all"})
    as_xml = qido(http, intl, "/studies", {"includefield": "all"}, Accept="application/dicom+xml")
    assert xml_datasets(as_xml) == [comparable(item) for item in as_json.json()]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (NODE_ACCEPT, "application/json"),
        ("application/json", "application/json"),
        ("application/dicom+json", "application/dicom+json"),
        ("*/*", "application/dicom+json"),
        ("application/dicom+xml;q=0.9, application/dicom+json", "application/dicom+json"),
        ('multipart/related; type="application/dicom+xml";q=0.4, application/json;q=0.5',
         "application/json"),
    ],
)  # fmt: skip
def test_json_is_negotiated(
    http: httpx.Client, catalog: Loaded, accept: str, media_type: str
) -> None:
    response = qido(http, catalog, "/studies", {"PatientID": "PID-1"}, Accept=accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == media_type
    assert labels_of(catalog, response.json(), STUDY_UID) == ["S1"]


@pytest.mark.parametrize(
    "path",
    [
        "/studies?PatientID=NOBODY",
        "/series?Modality=NM",
        "/instances?InstanceNumber=99",
        "/studies/{S1}/series?Modality=US",
        "/studies?offset=6",
    ],
)
def test_no_match_answers_204_with_an_empty_body(
    http: httpx.Client, catalog: Loaded, path: str
) -> None:
    response = http.get(catalog.url(path), auth=catalog.account.auth)
    assert response.status_code == 204
    assert response.content == b""
    assert "X-Error-Reason" not in response.headers and "Warning" not in response.headers
    assert catalog.client().search_for_studies(search_filters={"PatientID": "NOBODY"}) == []


def test_credentials_are_required(http: httpx.Client, catalog: Loaded) -> None:
    assert http.get(catalog.url("/studies")).status_code == 401
    wrong = (catalog.account.email, "wrong-password")
    assert http.get(catalog.url("/studies"), auth=wrong).status_code == 401


# --------------------------------------------------------------------------- isolation


@pytest.fixture(scope="module")
def other(server: ServerProcess, catalog: Loaded) -> Loaded:
    """A second account with the catalog's S1 (same UIDs, PatientID OTHER-1) only."""
    account = server.create_account()
    parts = [build_instance(label, patient_id="OTHER-1")
             for label in INSTANCES if label.startswith("S1.")]  # fmt: skip
    response = stow(server.dicomweb, account.auth, parts)
    assert response.status_code == 200, response.text
    return Loaded(server, account, catalog.uids)


def test_two_accounts_are_isolated(http: httpx.Client, catalog: Loaded, other: Loaded) -> None:
    mine = results(qido(http, catalog, "/studies", {"StudyInstanceUID": "{S1}"}))
    theirs = results(qido(http, other, "/studies", {"StudyInstanceUID": "{S1}"}))
    assert [first(i, PATIENT_ID) for i in mine] == ["PID-1"]
    assert [first(i, PATIENT_ID) for i in theirs] == ["OTHER-1"]
    assert labels_of(other, results(qido(http, other, "/studies")), STUDY_UID) == ["S1"]
    assert value(theirs[0], RETRIEVE_URL) == value(mine[0], RETRIEVE_URL)
    # Nothing of one account shows through the other, at any level or path.
    for loaded, path, params in [
        (other, "/studies", {"PatientID": "PID-1"}),
        (other, "/studies", {"StudyInstanceUID": "{S2}"}),
        (other, "/studies/{S2}/series", {}),
        (other, "/studies/series", {"0020000D": "{S2}"}),
        (other, "/series", {"Modality": "US"}),
        (other, "/instances", {"SOPInstanceUID": "{S2.US.1}"}),
        (other, "/studies/{S2}/series/{S2.US}/instances", {}),
        (catalog, "/studies", {"PatientID": "OTHER-1"}),
        (catalog, "/instances", {"PatientID": "OTHER-1"}),
    ]:
        assert results(qido(http, loaded, path, params)) == [], (path, params)
    # Same UIDs, separate series and instances.
    assert len(results(qido(http, other, "/series"))) == 2
    assert len(results(qido(http, other, "/instances"))) == 3
    mine_ct = results(qido(http, catalog, "/instances", {"SeriesInstanceUID": "{S1.CT}"}))
    theirs_ct = results(qido(http, other, "/instances", {"SeriesInstanceUID": "{S1.CT}"}))
    assert [first(i, PATIENT_ID) for i in mine_ct] == ["PID-1", "PID-1"]
    assert [first(i, PATIENT_ID) for i in theirs_ct] == ["OTHER-1", "OTHER-1"]
    assert instance_labels(other, theirs_ct) == instance_labels(catalog, mine_ct)


# ------------------------------------------------------------------ PostgreSQL collations


@pytest.fixture(scope="module")
def icu_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The catalog on a PostgreSQL database whose default collation is ICU ``en-US``, as
    on most production clusters (``initdb`` takes the OS locale; the official Docker image
    uses en_US.utf8). Such collations ignore punctuation at the first level, so
    ``'PID%1' < 'PID&'`` is false there: a prefix range that is not compared bytewise
    loses matches."""
    problem = _reachable()
    if problem is not None:
        message = f"PostgreSQL not reachable at {ADMIN_URL}: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"openpacs_test_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        try:
            conn.execute(
                f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        except psycopg.Error as exc:
            pytest.skip(f"this PostgreSQL cannot create an ICU database: {exc}")
    process = None
    try:
        url = f"{ADMIN_URL.rpartition('/')[0]}/{name}"
        process = ServerProcess(tmp_path_factory.mktemp("server-icu"), database_url=url)
        yield load_catalog(process.start())
    finally:
        if process is not None:
            process.stop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(("params", "expected"), [c[1:] for c in STUDY_CASES],
                         ids=[c[0] for c in STUDY_CASES])  # fmt: skip
def test_study_matching_on_an_icu_collated_postgresql(
    http: httpx.Client, icu_catalog: Loaded, params: dict[str, str], expected: set[str]
) -> None:
    check_study_matching(http, icu_catalog, params, expected)


@pytest.mark.parametrize(("path", "params", "expected"), [c[1:] for c in SERIES_CASES],
                         ids=[c[0] for c in SERIES_CASES])  # fmt: skip
def test_series_matching_on_an_icu_collated_postgresql(
    http: httpx.Client,
    icu_catalog: Loaded,
    path: str,
    params: dict[str, str],
    expected: set[str],
) -> None:
    check_series_matching(http, icu_catalog, path, params, expected)


# --------------------------------------------------------------------------- paging

N_PAGING = 1000
PAGING_SEED = "qido-e2e-paging"


@functools.cache
def paging_files() -> list[tuple[InstanceSpec, bytes, ParsedInstance]]:
    """The 1,000 instances and what the ingest parser makes of them (once per session)."""
    specs = list(study_specs(N_PAGING, seed=PAGING_SEED, rows=16, columns=16))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "part.dcm"
        for spec in specs:
            data = make_instance(spec)
            path.write_bytes(data)
            out.append((spec, data, parse_instance(path)))
    return out


def bulk_index(server: ServerProcess, account: TestAccount) -> None:
    """Write the paging set as the store service would (without its per-instance commits):
    blob, study, series and instance rows with their counters."""
    files = paging_files()
    blob_root = server.data_dir / "blobs"
    keys = []
    for _spec, data, _parsed in files:
        key = new_blob_key()
        path = blob_root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        keys.append(key)
    db = Database(server.database_url)
    try:
        with db.session() as session:
            account_id = session.execute(
                select(Account.id).where(Account.uuid == account.account_uuid)
            ).scalar_one()
            session.execute(
                insert(Study),
                [
                    {
                        **p.study,
                        "account_id": account_id,
                        "study_instance_uid": p.study_instance_uid,
                        "study_json": p.study_json,
                        "modalities_in_study": f"\\{p.series['modality']}\\",
                        "num_series": 1,
                        "num_instances": 1,
                    }
                    for _s, _d, p in files
                ],
            )
            study_ids = dict(
                session.execute(
                    select(Study.study_instance_uid, Study.id).where(Study.account_id == account_id)
                ).all()
            )
            session.execute(
                insert(Series),
                [
                    {
                        **p.series,
                        "account_id": account_id,
                        "study_id": study_ids[p.study_instance_uid],
                        "series_instance_uid": p.series_instance_uid,
                        "series_json": p.series_json,
                        "num_instances": 1,
                    }
                    for _s, _d, p in files
                ],
            )
            series_ids = dict(
                session.execute(
                    select(Series.series_instance_uid, Series.id).where(
                        Series.account_id == account_id
                    )
                ).all()
            )
            session.execute(
                insert(Instance),
                [
                    {
                        **p.instance,
                        "account_id": account_id,
                        "study_id": study_ids[p.study_instance_uid],
                        "series_id": series_ids[p.series_instance_uid],
                        "sop_instance_uid": p.sop_instance_uid,
                        "sop_class_uid": p.sop_class_uid,
                        "transfer_syntax_uid": p.transfer_syntax_uid,
                        "blob_key": key,
                        "size": p.size,
                        "instance_json": p.instance_json,
                        "metadata_json": p.metadata_json,
                        "frames_json": None if p.frames is None else _json(p.frames),
                        "bulk_json": _json(p.bulk) if p.bulk else None,
                    }
                    for (_s, _d, p), key in zip(files, keys, strict=True)
                ],
            )
    finally:
        db.dispose()


def _json(data: object) -> bytes:
    return orjson.dumps(data)


@dataclass(frozen=True)
class Paging:
    loaded: Loaded
    specs: list[InstanceSpec]

    @property
    def study_uids(self) -> set[str]:
        return {spec.study_uid for spec in self.specs}


@pytest.fixture(scope="module")
def paging(server: ServerProcess) -> Paging:
    account = server.create_account()
    bulk_index(server, account)
    specs = [spec for spec, _data, _parsed in paging_files()]
    uids = {f"P{n}": spec.study_uid for n, spec in enumerate(specs)}
    return Paging(Loaded(server, account, uids), specs)


def test_bulk_loaded_rows_answer_exactly_like_stowed_ones(
    http: httpx.Client, server: ServerProcess, paging: Paging
) -> None:
    spec, data, _parsed = paging_files()[0]
    stowed = Loaded(server, server.create_account(), paging.loaded.uids)
    response = stow(server.dicomweb, stowed.account.auth, [data])
    assert response.status_code == 200, response.text
    for path, params in [
        ("/studies", {"StudyInstanceUID": spec.study_uid, "includefield": "all"}),
        ("/series", {"SeriesInstanceUID": spec.series_uid, "includefield": "all"}),
        ("/instances", {"SOPInstanceUID": spec.sop_uid, "includefield": "all"}),
    ]:
        expected = results(qido(http, stowed, path, params))
        assert results(qido(http, paging.loaded, path, params)) == expected


def _page(http: httpx.Client, paging: Paging, params: dict[str, str]) -> httpx.Response:
    return qido(http, paging.loaded, "/studies", params)


def test_paging_through_1000_studies_returns_each_exactly_once(
    http: httpx.Client, paging: Paging
) -> None:
    seen: list[str] = []
    dates: list[str] = []
    offset = 0
    while True:
        response = _page(http, paging, {"limit": "150", "offset": str(offset)})
        if response.status_code == 204:
            break
        items = results(response)
        more = offset + len(items) < N_PAGING
        assert ("Warning" in response.headers) == more, offset
        if more:
            assert response.headers["Warning"] == (
                f'299 {paging.loaded.server.dicomweb}: "{MORE_RESULTS}"'
            )
        seen += [first(item, STUDY_UID) for item in items]
        dates += [first(item, STUDY_DATE) for item in items]
        offset += len(items)
    assert offset == N_PAGING and len(seen) == N_PAGING
    assert set(seen) == paging.study_uids
    assert dates == sorted(dates, reverse=True)


def test_paging_with_dicomweb_client(paging: Paging) -> None:
    client = paging.loaded.client()
    found = client.search_for_studies(limit=400, get_remaining=True)
    uids = [first(item, STUDY_UID) for item in found]
    assert len(uids) == N_PAGING and set(uids) == paging.study_uids
    page = client.search_for_studies(limit=10, offset=995)
    assert [first(i, STUDY_UID) for i in page] == uids[995:]


@pytest.mark.parametrize(
    ("params", "count", "warning"),
    [
        ({}, 100, True),  # the server's default page
        ({"limit": "999"}, 999, True),
        ({"limit": "1000"}, 1000, False),
        ({"limit": "5000"}, 1000, False),  # capped at the server maximum, which holds all
        ({"limit": "7", "offset": "993"}, 7, False),  # ends exactly at the last match
        ({"limit": "7", "offset": "992"}, 7, True),
        ({"offset": "999"}, 1, False),
        ({"offset": "1000"}, 0, False),
        ({"limit": "99999999999999"}, 1000, False),
    ],
)
def test_page_sizes_and_the_warning_header(
    http: httpx.Client, paging: Paging, params: dict[str, str], count: int, warning: bool
) -> None:
    response = _page(http, paging, params)
    assert len(results(response)) == count
    assert ("Warning" in response.headers) == warning


@pytest.mark.parametrize(
    "params",
    [
        {"StudyDate": "20200101-20201231"},
        {"StudyDate": "20230601-"},
        {"PatientName": "Smith*"},
        {"PatientName": "smith000*", "StudyDate": "-20191231"},
        {"PatientName": "Müller*"},
        {"ModalitiesInStudy": "CT", "PatientID": "PAT0001??"},
    ],
    ids=["year", "open-end", "name-prefix", "name-and-date", "accented-prefix", "id-pattern"],
)
def test_paged_filters_over_1000_studies(
    http: httpx.Client, paging: Paging, params: dict[str, str]
) -> None:
    expected = {spec.study_uid for spec in paging.specs if _matches(spec, params)}
    assert expected  # the case is meaningful
    seen: list[str] = []
    for offset in range(0, len(expected) + 1, 50):
        response = _page(http, paging, {**params, "limit": "50", "offset": str(offset)})
        seen += [first(item, STUDY_UID) for item in results(response)]
    assert len(seen) == len(expected) and set(seen) == expected


def _matches(spec: InstanceSpec, params: Mapping[str, str]) -> bool:
    """An independent oracle for the filters of the paging tests."""

    def fold(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text)
        return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()

    for key, wanted in params.items():
        if key == "StudyDate":
            low, _, high = wanted.partition("-")
            if not (low or "0") <= spec.study_date <= (high or "9"):
                return False
        elif key == "PatientName":
            if not fnmatch.fnmatchcase(fold(spec.patient_name), fold(wanted)):
                return False
        elif key == "PatientID":
            if not fnmatch.fnmatchcase(spec.patient_id, wanted):
                return False
        elif key == "ModalitiesInStudy":
            if spec.modality != wanted:
                return False
        else:  # pragma: no cover - a case above uses an unknown key
            raise AssertionError(key)
    return True
