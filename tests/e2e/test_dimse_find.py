"""C-FIND against a real server: each level and model, each matching type, exactly the
requested keys, the counts, errors, and isolation between accounts."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from openpacs.index.models import AuditEvent
from tests.support.audit import audit_events
from tests.support.dcmtk import run
from tests.support.dimse import add_equipment, find, make_image, new_ae_title, store_files
from tests.support.server import ServerProcess, TestAccount

STUDY_ROOT = "1.2.840.10008.5.1.4.1.2.2.1"
PATIENT_ROOT = "1.2.840.10008.5.1.4.1.2.1.1"
ROOT = "1.2.826.0.1.3680043.10.1415.99"
S1, S2, S3 = f"{ROOT}.1", f"{ROOT}.2", f"{ROOT}.3"
A, B, C, D = f"{ROOT}.1.1", f"{ROOT}.1.2", f"{ROOT}.2.1", f"{ROOT}.3.1"
MULLER, SMITH = ("Müller^Jörg", "PID-1"), ("Smith^Anna", "PID-2")


@dataclass(frozen=True)
class Archive:
    account: TestAccount
    title: str


@pytest.fixture(scope="module")
def archive(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    """Two patients, three studies, four series, five images, sent over C-STORE."""
    account = server.create_account()
    title = new_ae_title("FIND")
    add_equipment(server, account, title)
    request = Dataset()
    request.RequestedProcedureID, request.ScheduledProcedureStepID = "RP-7", "SPS-7"
    images = [
        dict(study=S1, series=A, sop=f"{A}.1", patient=MULLER, study_date="20200115",
             accession="ACC-1", instance_number=1),
        dict(study=S1, series=A, sop=f"{A}.2", patient=MULLER, study_date="20200115",
             accession="ACC-1", instance_number=2),
        dict(study=S1, series=B, sop=f"{B}.1", patient=MULLER, study_date="20200115",
             accession="ACC-1", modality="MR", series_number=2,
             RequestAttributesSequence=[request]),
        dict(study=S2, series=C, sop=f"{C}.1", patient=MULLER, study_date="20210310",
             accession="ACC-2"),
        dict(study=S3, series=D, sop=f"{D}.1", patient=SMITH, study_date="20190101",
             accession="ACC-3", modality="US"),
    ]  # fmt: skip
    folder = tmp_path_factory.mktemp("find")
    paths = []
    for n, image in enumerate(images):
        path = folder / f"{n}.dcm"
        path.write_bytes(make_image(**image))  # type: ignore[arg-type]
        paths.append(path)
    answers = store_files(server, title, paths)
    assert all(a is not None and a.Status == 0 for a in answers.values())
    yield Archive(account, title)


def query(level: str, **keys: object) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    with warnings.catch_warnings():  # invalid values are what some tests send
        warnings.simplefilter("ignore")
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


def uids(found: list[Dataset], keyword: str) -> list[str]:
    return [str(getattr(ds, keyword)) for ds in found]


@pytest.mark.parametrize(
    ("keys", "studies"),
    [
        ({"PatientID": "PID-2"}, [S3]),  # single value
        ({"PatientName": "müller*"}, [S2, S1]),  # wildcard, case and accents ignored
        ({"PatientID": "PID-?"}, [S2, S1, S3]),  # one-character wildcard
        ({"StudyDate": "20200101-20201231"}, [S1]),  # range
        ({"StudyDate": "20200101-"}, [S2, S1]),  # open range
        ({"StudyInstanceUID": [S1, S3]}, [S1, S3]),  # UID list
        ({"ModalitiesInStudy": "MR"}, [S1]),
        ({"AccessionNumber": "ACC-*", "PatientName": ""}, [S2, S1, S3]),  # universal
    ],
)
def test_study_level_matching(
    server: ServerProcess, archive: Archive, keys: dict[str, object], studies: list[str]
) -> None:
    statuses, found = find(server, archive.title, STUDY_ROOT, query("STUDY", **keys))
    assert uids(found, "StudyInstanceUID") == studies
    assert statuses[-1] == 0 and set(statuses[:-1]) == {0xFF00}


def test_exactly_the_requested_keys_come_back_with_the_unique_keys(
    server: ServerProcess, archive: Archive
) -> None:
    identifier = query("STUDY", PatientID="PID-2", PatientName="", StudyDate="",
                       NumberOfStudyRelatedSeries="", NumberOfStudyRelatedInstances="",
                       ModalitiesInStudy="", PatientComments="", RetrieveAETitle="")  # fmt: skip
    _, [found] = find(server, archive.title, STUDY_ROOT, identifier)
    assert {e.keyword for e in found} == {
        "QueryRetrieveLevel", "PatientID", "PatientName", "StudyDate", "StudyInstanceUID",
        "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "ModalitiesInStudy",
        "PatientComments", "RetrieveAETitle",
    }  # fmt: skip
    assert (found.PatientName, found.StudyDate, found.ModalitiesInStudy) == (
        "Smith^Anna",
        "20190101",
        "US",
    )
    assert (found.NumberOfStudyRelatedSeries, found.NumberOfStudyRelatedInstances) == (1, 1)
    assert found.PatientComments == "" and found.RetrieveAETitle == "OPENPACS"


def test_non_ascii_values_come_back_in_utf8(server: ServerProcess, archive: Archive) -> None:
    _, [found, _] = find(server, archive.title, STUDY_ROOT, query("STUDY", PatientName="M*"))
    assert found.SpecificCharacterSet == "ISO_IR 192" and found.PatientName == "Müller^Jörg"


def test_series_level_with_counts_and_sequence_matching(
    server: ServerProcess, archive: Archive
) -> None:
    _, found = find(server, archive.title, STUDY_ROOT,
                    query("SERIES", StudyInstanceUID=S1, Modality="", SeriesInstanceUID="",
                          NumberOfSeriesRelatedInstances=""))  # fmt: skip
    assert [(s.SeriesInstanceUID, s.Modality, s.NumberOfSeriesRelatedInstances) for s in found] == [
        (A, "CT", 2),
        (B, "MR", 1),
    ]
    item = Dataset()
    item.RequestedProcedureID = "RP-7"
    item.ScheduledProcedureStepID = ""
    _, found = find(server, archive.title, STUDY_ROOT,
                    query("SERIES", RequestAttributesSequence=[item]))  # fmt: skip
    assert uids(found, "SeriesInstanceUID") == [B]
    [returned] = found[0].RequestAttributesSequence
    assert (returned.RequestedProcedureID, returned.ScheduledProcedureStepID) == ("RP-7", "SPS-7")


def test_image_level_in_both_models(server: ServerProcess, archive: Archive) -> None:
    for model in (STUDY_ROOT, PATIENT_ROOT):
        identifier = query("IMAGE", SeriesInstanceUID=A, InstanceNumber="", SOPClassUID="")
        _, found = find(server, archive.title, model, identifier)
        assert uids(found, "SOPInstanceUID") == [f"{A}.1", f"{A}.2"]
        assert [ds.InstanceNumber for ds in found] == [1, 2]
        if model == PATIENT_ROOT:
            assert found[0].PatientID == "PID-1"  # the unique keys of every level above
        assert found[0].StudyInstanceUID == S1 and found[0].SeriesInstanceUID == A


def test_patient_level_groups_the_studies_of_a_patient(
    server: ServerProcess, archive: Archive
) -> None:
    _, found = find(server, archive.title, PATIENT_ROOT,
                    query("PATIENT", PatientName="", PatientID="", PatientBirthDate="",
                          NumberOfPatientRelatedStudies="", NumberOfPatientRelatedSeries="",
                          NumberOfPatientRelatedInstances=""))  # fmt: skip
    counts = {
        ds.PatientID: (
            ds.NumberOfPatientRelatedStudies,
            ds.NumberOfPatientRelatedSeries,
            ds.NumberOfPatientRelatedInstances,
        )
        for ds in found
    }
    assert counts == {"PID-1": (2, 3, 4), "PID-2": (1, 1, 1)}
    assert "StudyInstanceUID" not in found[0]
    _, found = find(server, archive.title, PATIENT_ROOT,
                    query("STUDY", PatientID="PID-1", StudyDate=""))  # fmt: skip
    assert uids(found, "StudyInstanceUID") == [S2, S1]


@pytest.mark.parametrize(
    ("model", "identifier"),
    [
        (STUDY_ROOT, query("STUDY", Modality="CT")),  # a series key at study level
        (STUDY_ROOT, query("PATIENT", PatientID="PID-1")),  # no patient level in Study Root
        (PATIENT_ROOT, query("PATIENT", StudyDate="20200115")),
        (STUDY_ROOT, query("STUDY", StudyDate="2020-01-15")),  # not a DICOM date
        (STUDY_ROOT, query("WARD")),
    ],
)
def test_an_identifier_that_cannot_be_answered_is_a900(
    server: ServerProcess, archive: Archive, model: str, identifier: Dataset
) -> None:
    statuses, found = find(server, archive.title, model, identifier)
    assert statuses == [0xA900] and found == []


def test_an_unsupported_key_with_a_value_is_ignored_with_ff01(
    server: ServerProcess, archive: Archive
) -> None:
    statuses, found = find(server, archive.title, STUDY_ROOT,
                           query("STUDY", PatientID="PID-2", PatientAge="045Y"))  # fmt: skip
    assert uids(found, "StudyInstanceUID") == [S3]
    assert statuses == [0xFF01, 0x0000]


def test_another_accounts_equipment_finds_nothing(server: ServerProcess, archive: Archive) -> None:
    other = server.create_account()
    title = new_ae_title("OTHER")
    add_equipment(server, other, title)
    statuses, found = find(server, title, STUDY_ROOT, query("STUDY", PatientID="*"))
    assert found == [] and statuses == [0]
    _, mine = find(server, archive.title, STUDY_ROOT, query("STUDY", PatientID="*"))
    assert len(mine) == 3


def test_findscu_and_the_audit_trail(
    server: ServerProcess, archive: Archive, tmp_path: Path
) -> None:
    done = run("findscu", "-S", "-aet", archive.title, "-aec", "OPENPACS", "127.0.0.1",
               server.dicom_port, "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=PID-2",
               "-k", "StudyInstanceUID", "-k", "PatientName", "-X", "-od", tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout
    [answer] = [pydicom.dcmread(path) for path in tmp_path.glob("rsp*.dcm")]
    assert (answer.StudyInstanceUID, answer.PatientName) == (S3, "Smith^Anna")
    events = audit_events(
        server.database_url,
        archive.account.account_uuid,
        AuditEvent.action == "dicom.find",
        AuditEvent.detail.contains("PID-2"),
        count=1,
    )
    assert events and events[-1][1].startswith("C-FIND STUDY (study root) matched 1")
