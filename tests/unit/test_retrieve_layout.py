"""Retrieve writes the layout asked for, never over an existing file, and nothing outside
the output folder whatever the headers say."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from openpacs.client import PacsClient
from openpacs.client.layout import Header, human_path, safe_component, uid_path
from openpacs.protocol.multipart import encode_parts
from tests.support.fileset import read_file_set

ROOT = "http://pacs.test/dicomweb"


def instance(n: int, *, series: int = 1, patient: str = "P1", text: str = "") -> bytes:
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = f"1.2.3.{series}.{n}"
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = f"1.2.3.{series}"
    ds.PatientID = patient
    ds.PatientName = "Doe^Jane"
    ds.StudyDate = "20240102"
    ds.SeriesNumber = series
    ds.SeriesDescription = "AX T1 / post"
    ds.InstanceNumber = n
    ds.ImageComments = text or f"image {n}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def answering(parts: list[bytes]) -> Callable[[httpx.Request], httpx.Response]:
    body = b"".join(
        encode_parts("b0", [({"Content-Type": "application/dicom"}, [p]) for p in parts])
    )

    def answer(request: httpx.Request) -> httpx.Response:
        content_type = 'multipart/related; type="application/dicom"; boundary=b0'
        return httpx.Response(200, content=body, headers={"Content-Type": content_type})

    return answer


def client(parts: list[bytes]) -> PacsClient:
    return PacsClient(ROOT, "u", "p", transport=httpx.MockTransport(answering(parts)))


PARTS = [instance(2), instance(1), instance(1, series=2)]


def test_human_layout_names_folders_after_patient_date_series(tmp_path: Path) -> None:
    with client(PARTS) as pacs:
        got = pacs.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path, layout="human")
    names = sorted(str(p.relative_to(tmp_path)) for p in got.files)
    assert names == [
        "P1_20240102/001_AX_T1_post/0001.dcm",
        "P1_20240102/001_AX_T1_post/0002.dcm",
        "P1_20240102/002_AX_T1_post/0001.dcm",
    ]
    assert got.layout == "human" and got.directory == tmp_path
    assert not [p for p in tmp_path.rglob(".openpacs-*")]  # the staging folder is gone


def test_uid_layout(tmp_path: Path) -> None:
    with client(PARTS[:1]) as pacs:
        got = pacs.retrieve(series_instance_uid="1.2.3.1", output_dir=tmp_path, layout="uid")
    assert [p.relative_to(tmp_path).as_posix() for p in got.files] == [
        "1.2.3/1.2.3.1/1.2.3.1.2.dcm"
    ]


def test_retrieving_again_leaves_identical_files_and_renames_different_ones(
    tmp_path: Path,
) -> None:
    with client(PARTS) as pacs:
        first = pacs.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path, layout="human")
    before = {p: p.read_bytes() for p in first.files}
    changed = [instance(2, text="a different image with the same number"), *PARTS[1:]]
    with client(changed) as pacs:
        again = pacs.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path, layout="human")
    assert {p: p.read_bytes() for p in first.files} == before  # nothing overwritten
    assert len(again.already_there) == 2
    [renamed] = again.renamed
    assert renamed.name == "0002-2.dcm" and renamed.read_bytes() == changed[0]


def test_cd_layout_writes_a_dicomdir_for_a_new_folder(tmp_path: Path) -> None:
    with client(PARTS) as pacs:
        got = pacs.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path / "cd", layout="cd")
    assert got.directory == tmp_path / "cd"
    with read_file_set(tmp_path / "cd" / "DICOMDIR") as fs:
        assert len(fs) == 3
        for item in fs:
            assert dcmread(item.path).SOPInstanceUID == item.SOPInstanceUID


def test_flat_layout_is_the_sdk_default(tmp_path: Path) -> None:
    with client(PARTS) as pacs:
        got = pacs.retrieve(study_instance_uid="1.2.3", output_dir=tmp_path / "flat")
    assert [p.name for p in got.files] == ["part-0001.dcm", "part-0002.dcm", "part-0003.dcm"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("../../etc", "etc"), ("..", "x"), ("a/b\\c d", "a_b_c_d"), ("", "x"), ("Jörg", "J_rg")],
)
def test_header_values_never_leave_the_folder(value: str, expected: str) -> None:
    assert safe_component(value, "x") == expected


def test_paths_from_hostile_headers_stay_inside() -> None:
    hostile = Header(
        patient_id="../..",
        study_date="/etc",
        series_description="../../x",
        sop_instance_uid="../y",
        study_instance_uid="..",
        series_instance_uid="/",
    )
    for path in (human_path(hostile), uid_path(hostile)):
        assert not path.is_absolute() and ".." not in path.parts
