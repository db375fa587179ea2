"""Derived Study/Series Instance UIDs for files that lack them (dicom/coerce.py), and the
store service that uses them only when told to."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from bench.dataset import make_instance
from sqlalchemy import select

from openpacs.dicom import status
from openpacs.dicom.coerce import coerce_missing_uids
from openpacs.dicom.ingest import parse_instance
from openpacs.index.models import Instance, Series, Study
from openpacs.services.store import StoreService
from openpacs.services.upload import Upload
from openpacs.storage.filesystem import FilesystemBlobStore
from tests.support.index import account_index
from tests.support.specs import small_spec
from tests.support.uids import without

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dicom"


def no_study(tag: str, series: int, number: int, **kw: object) -> bytes:
    spec = small_spec(tag, series, number, **kw)
    return without(make_instance(spec), "StudyInstanceUID", "SeriesInstanceUID")


def test_the_same_file_always_gets_the_same_uids() -> None:
    data = no_study("same", 1, 1)
    first, coercion = coerce_missing_uids(data)
    _, again = coerce_missing_uids(data)
    assert coercion == again
    assert coercion.study_instance_uid and coercion.study_instance_uid.startswith("2.25.")
    assert coercion.series_instance_uid and len(coercion.series_instance_uid) <= 64
    parsed = parse_instance(first)
    assert (parsed.study_instance_uid, parsed.series_instance_uid) == (
        coercion.study_instance_uid,
        coercion.series_instance_uid,
    )


def test_a_file_on_disk_gets_the_same_uids_as_its_bytes(tmp_path: Path) -> None:
    data = no_study("disk", 1, 1)
    path = tmp_path / "old.dcm"
    path.write_bytes(data)
    assert coerce_missing_uids(path)[1] == coerce_missing_uids(data)[1]


def test_the_images_of_one_exam_land_in_one_study_their_series_apart() -> None:
    a = coerce_missing_uids(no_study("exam", 1, 1, sop_uid="1.2.3.1"))[1]
    b = coerce_missing_uids(no_study("exam", 1, 2, sop_uid="1.2.3.2"))[1]
    c = coerce_missing_uids(no_study("exam", 2, 1, sop_uid="1.2.3.3"))[1]
    assert a.study_instance_uid == b.study_instance_uid == c.study_instance_uid
    assert a.series_instance_uid == b.series_instance_uid != c.series_instance_uid
    other_day = coerce_missing_uids(no_study("exam", 1, 1, study_date="20240102"))[1]
    other_patient = coerce_missing_uids(no_study("exam", 1, 1, patient_id="P2"))[1]
    assert other_day.study_instance_uid != a.study_instance_uid
    assert other_patient.study_instance_uid != a.study_instance_uid


def test_without_study_attributes_each_image_is_its_own_study() -> None:
    def bare(sop: str) -> bytes:
        data = no_study("bare", 1, 1, sop_uid=sop)
        return without(data, "StudyDate", "StudyTime", "AccessionNumber", "StudyID")

    one, two = (coerce_missing_uids(bare(sop))[1] for sop in ("1.2.9.1", "1.2.9.2"))
    assert one.study_instance_uid != two.study_instance_uid


def test_only_what_is_missing_is_derived() -> None:
    spec = small_spec("keep", 1, 1)
    data = without(make_instance(spec), "SeriesInstanceUID")
    fixed, coercion = coerce_missing_uids(data)
    assert coercion.study_instance_uid is None
    assert parse_instance(fixed).study_instance_uid == spec.study_uid
    assert coercion.series_instance_uid is not None
    assert "derived Series Instance UID" in coercion.describe()


def test_the_rewritten_file_records_the_coercion_and_keeps_its_pixels() -> None:
    source = CORPUS / "pydicom__SC_rgb_jls_lossy_sample.dcm"
    fixed, coercion = coerce_missing_uids(source.read_bytes())
    before, after = pydicom.dcmread(source), pydicom.dcmread(io.BytesIO(fixed))
    assert after.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID
    assert after.PixelData == before.PixelData
    assert after.StudyInstanceUID == coercion.study_instance_uid
    [item] = after.OriginalAttributesSequence
    assert item.ReasonForTheAttributeModification == "COERCE"
    assert item.ModifyingSystem == "openpacs"
    [modified] = item.ModifiedAttributesSequence
    assert {e.keyword for e in modified} == {"StudyInstanceUID", "SeriesInstanceUID"}
    assert all(e.value in ("", None) for e in modified)


def test_a_big_endian_file_is_rewritten_in_big_endian() -> None:
    data = without((CORPUS / "pydicom__MR_small_bigendian.dcm").read_bytes(), "StudyInstanceUID")
    fixed, coercion = coerce_missing_uids(data)
    assert pydicom.dcmread(io.BytesIO(fixed)).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2"
    assert parse_instance(fixed).study_instance_uid == coercion.study_instance_uid


# --------------------------------------------------------------------------- the store


class Store:
    def __init__(self, tmp: Path, coerce: bool) -> None:
        self.db, self.who = account_index(tmp)
        self.blobs = FilesystemBlobStore(tmp / "blobs")
        self.coerce = coerce
        self.service = StoreService(self.db, self.blobs, coerce_missing_uids=coerce)

    def close(self) -> None:
        self.service.close()
        self.db.dispose()


@pytest.fixture(params=[False, True], ids=["refuse", "coerce"])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    s = Store(tmp_path, request.param)
    yield s
    s.close()


@pytest.mark.parametrize("staged", [False, True], ids=["in-memory", "staged-file"])
def test_a_file_without_study_uid_is_refused_unless_coercion_is_on(
    store: Store, staged: bool, tmp_path: Path
) -> None:
    spec = small_spec("store", 1, 1)
    data = no_study("store", 1, 1)
    upload = Upload(data=data)
    if staged:
        path = store.blobs.staging_dir() / "part"
        path.write_bytes(data)
        upload = Upload(path=path)
    outcome = store.service.store(store.who, upload, base_url="http://x")
    if not store.coerce:
        assert outcome.failed is not None and outcome.coercion is None
        assert outcome.failed.failure_code == status.DATASET_DOES_NOT_MATCH_SOP_CLASS
        assert outcome.failed.sop_instance_uid == spec.sop_uid
        return
    assert outcome.stored is not None and outcome.coercion is not None
    assert outcome.stored.warning_code == status.COERCION_OF_DATA_ELEMENTS
    study, series = outcome.coercion.study_instance_uid, outcome.coercion.series_instance_uid
    assert outcome.study_instance_uid == study
    assert f"/studies/{study}/series/{series}/instances/{spec.sop_uid}" in (
        outcome.stored.retrieve_url
    )
    with store.db.session() as session:
        assert session.scalar(select(Study.study_instance_uid)) == study
        assert session.scalar(select(Series.series_instance_uid)) == series
        key = session.scalar(select(Instance.blob_key))
    stored = pydicom.dcmread(store.blobs.local_path(str(key)))  # type: ignore[arg-type]
    assert (stored.StudyInstanceUID, stored.SeriesInstanceUID) == (study, series)
    assert list(store.blobs.staging_dir().iterdir()) == []


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # pydicom on "1.2.x"
def test_coercion_never_repairs_other_failures(store: Store) -> None:
    no_sop = without(make_instance(small_spec("nosop", 1, 1)), "SOPInstanceUID")
    bad_uid = make_instance(replace(small_spec("baduid", 1, 1), study_uid="1.2.x"))
    for data in (no_sop, bad_uid):
        outcome = store.service.store(store.who, Upload(data=data), base_url="http://x")
        assert outcome.failed is not None and outcome.coercion is None
