"""A DICOMDIR from index metadata: conformant file IDs, and records that a reader (pydicom's
FileSet) follows through their offsets to every instance."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, JPEG2000Lossless

from openpacs.dicom.dicomdir import DicomdirInstance, build_dicomdir, plan_file_set
from tests.support.fileset import read_file_set


def instances() -> list[DicomdirInstance]:
    out = []
    for p, (pid, name) in enumerate([("P2", "Müller^Jörg"), ("P1", "Doe^Jane")]):
        for s in range(2):
            for r in range(2):
                for i in (3, 1, 2):  # not in order: the plan sorts them
                    out.append(
                        DicomdirInstance(
                            sop_instance_uid=f"1.2.{p}.{s}.{r}.{i}",
                            sop_class_uid=CTImageStorage,
                            transfer_syntax_uid=JPEG2000Lossless
                            if i == 2
                            else ExplicitVRLittleEndian,
                            study_instance_uid=f"1.3.{p}.{s}",
                            series_instance_uid=f"1.4.{p}.{s}.{r}",
                            patient_id=pid,
                            patient_name=name,
                            study_date=f"2024010{s + 1}",
                            study_description="Thorax",
                            modality="CT",
                            series_number=r + 1,
                            instance_number=i,
                        )
                    )
    return out


def test_file_ids_are_conformant_and_follow_patient_study_series_instance() -> None:
    plan = plan_file_set(instances())
    assert len(plan.file_ids) == 24
    for parts in plan.file_ids.values():
        assert all(re.fullmatch(r"[A-Z0-9_]{1,8}", part) for part in parts)
    # Patients sorted by ID, instances by InstanceNumber.
    assert plan.path("1.2.1.0.0.1") == "DICOM/PAT00001/STU00001/SER00001/IMG00001"
    assert plan.path("1.2.1.0.0.3") == "DICOM/PAT00001/STU00001/SER00001/IMG00003"
    assert plan.path("1.2.0.1.1.2") == "DICOM/PAT00002/STU00002/SER00002/IMG00002"


def test_a_reader_finds_every_instance_through_the_dicomdir(tmp_path: Path) -> None:
    plan = plan_file_set(instances())
    (tmp_path / "DICOMDIR").write_bytes(build_dicomdir(plan))
    for parts in plan.file_ids.values():  # the files the DICOMDIR points to
        target = tmp_path.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")
    with read_file_set(tmp_path / "DICOMDIR") as fs:
        assert len(fs) == 24
        found = fs.find(SOPInstanceUID="1.2.0.1.1.2")
        assert found[0].path.endswith("DICOM/PAT00002/STU00002/SER00002/IMG00002")
        assert len(found) == 1 and found[0].TransferSyntaxUID == JPEG2000Lossless
        patients = {(i.PatientID, str(i.PatientName)) for i in fs}
    assert patients == {("P1", "Doe^Jane"), ("P2", "Müller^Jörg")}


def test_every_offset_points_at_a_record() -> None:
    data = build_dicomdir(plan_file_set(instances()))
    ds = dcmread(io.BytesIO(data))
    records = ds.DirectoryRecordSequence
    at = {record.seq_item_tell: record for record in records}
    assert ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity in at
    assert at[ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity].PatientID == "P2"
    for record in records:
        for name in (
            "OffsetOfTheNextDirectoryRecord",
            "OffsetOfReferencedLowerLevelDirectoryEntity",
        ):
            offset = record[name].value
            assert offset == 0 or offset in at
    kinds = [r.DirectoryRecordType for r in records]
    assert kinds.count("PATIENT") == 2 and kinds.count("STUDY") == 4
    assert kinds.count("SERIES") == 8 and kinds.count("IMAGE") == 24


def test_from_the_dicom_json_the_index_keeps() -> None:
    item = {
        "00080016": {"vr": "UI", "Value": [CTImageStorage]},
        "00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]},
        "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
        "0020000E": {"vr": "UI", "Value": ["1.2.3.4"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "00100020": {"vr": "LO", "Value": ["P1"]},
        "00200011": {"vr": "IS", "Value": [7]},
        "00200013": {"vr": "IS", "Value": ["12"]},
    }
    got = DicomdirInstance.from_json(item, ExplicitVRLittleEndian)
    assert (got.patient_name, got.series_number, got.instance_number) == ("Doe^Jane", 7, 12)
    assert got.transfer_syntax_uid == ExplicitVRLittleEndian


def test_an_empty_file_set_is_a_valid_dicomdir() -> None:
    ds = dcmread(io.BytesIO(build_dicomdir(plan_file_set([]))))
    assert ds.DirectoryRecordSequence == []
    assert ds.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.1.3.10"


def test_too_many_entries_for_one_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("openpacs.dicom.dicomdir.MAX_PER_LEVEL", 2)
    with pytest.raises(ValueError, match="at most 2"):
        plan_file_set(instances())
