"""The Python SDK against a real server: every function of the vendor guide.

Endpoints the server does not serve yet (501 "not available on this server yet", or a
route that does not exist: 404/405 without a reason) are skipped with that reason.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pydicom
import pytest
from bench.dataset import make_instance, study_specs

from openpacs.client import (
    AsyncPacsClient,
    AuthenticationError,
    ConnectionFailed,
    NotFoundError,
    PacsClient,
)
from openpacs.index.db import Database
from openpacs.services import accounts
from tests.support.server import ServerProcess, TestAccount, free_port

T = TypeVar("T")
MANIFEST = Path(__file__).resolve().parents[1] / "data" / "dicom" / "MANIFEST.tsv"


# --------------------------------------------------------------------------- helpers


def synthetic_study(
    folder: Path, seed: str, *, series: int = 2, instances: int = 3
) -> dict[str, bytes]:
    """One synthetic CT/MR study as files; returns SOP Instance UID -> file bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    specs = study_specs(
        1, series_per_study=series, instances_per_series=instances, seed=seed, rows=64, columns=64
    )
    for n, spec in enumerate(specs):
        data = make_instance(spec, seed=n)
        (folder / f"{n:03d}.dcm").write_bytes(data)
        files[spec.sop_uid] = data
    return files


def dataset_of(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)


def corrupt_files() -> set[str]:
    """Files the corpus marks as corrupt (on purpose, or a raw dataset with a stray byte)."""
    names: set[str] = set()
    with MANIFEST.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            notes = row["notes"]
            if "CORRUPT ON PURPOSE" in notes or "effectively corrupt" in notes:
                names.add(Path(row["file"]).name)
    return names


@pytest.fixture
def client(server: ServerProcess, account: TestAccount) -> Iterator[PacsClient]:
    with PacsClient(server.dicomweb, account.email, account.password, timeout=60) as pacs:
        yield pacs


@pytest.fixture
def study(client: PacsClient, tmp_path: Path) -> dict[str, bytes]:
    """A synthetic study uploaded into the test's account."""
    files = synthetic_study(tmp_path / "study", f"e2e-{uuid.uuid4().hex}")
    result = client.upload_directory(tmp_path / "study")
    assert result.ok, [f.reason for f in result.failed]
    return files


# --------------------------------------------------------------------------- STOW


def test_upload_corpus_reports_every_file(client: PacsClient, corpus_dir: Path) -> None:
    progress: list[tuple[int, int, int, int]] = []
    result = client.upload_directory(
        corpus_dir, batch_size=8, concurrency=3, progress=lambda *a: progress.append(a)
    )
    files = {f.path.name: f for f in result.files}
    assert len(result.files) == len([p for p in corpus_dir.rglob("*") if p.is_file()])
    skipped = {f.path.name for f in result.skipped}
    assert skipped >= {"README.md", "MANIFEST.tsv", "pydicom__dicomdirtests_DICOMDIR.dcm"}
    assert all(name.endswith((".txt", ".md", ".tsv", "DICOMDIR.dcm")) for name in skipped)
    corrupt = corrupt_files()
    assert corrupt >= {"pydicom__MR_truncated.dcm", "pydicom__badVR.dcm", "pydicom__no_meta.dcm"}
    for name in corrupt:
        assert files[name].status == "failed", name
        assert files[name].reason, name
    assert not files["pydicom__no_meta.dcm"].sent  # unreadable: rejected locally
    for failed in result.failed:
        assert failed.reason and failed.reason != "failed (no reason given)", failed
    # Good, ordinary images are stored; of corpus files that are one instance in several
    # transfer syntaxes (the MR_small family), the copy that arrived first is stored.
    for name in ("pydicom__CT_small.dcm", "pydicom__MR_small.dcm", "nibabel__0.dcm"):
        assert files[name].status in ("stored", "already_stored"), (name, files[name].reason)
    kept = [f for f in result.files if f.status in ("stored", "already_stored")]
    by_uid: dict[str, list[str]] = {}
    for f in kept:
        by_uid.setdefault(f.sop_instance_uid or "", []).append(f.status)
    assert all(statuses.count("stored") == 1 for statuses in by_uid.values()), by_uid
    assert len(result.stored) >= 20
    # The bar counts every file found (the skipped ones done from the start), as the summary.
    assert progress[-1][0] == progress[-1][1] == len(result.files)
    assert progress[-1][2] == progress[-1][3] == sum(f.stat().st_size for f in files_of(corpus_dir))

    # Every stored instance is found by its UID; storing again is idempotent.
    for stored in result.stored:
        hits = client.search_instances(SOPInstanceUID=stored.sop_instance_uid)
        assert [h.sop_instance_uid for h in hits] == [stored.sop_instance_uid], stored.path
    again = client.upload_directory(corpus_dir, batch_size=40, concurrency=1)
    expected = ["already_stored" if f in kept else f.status for f in result.files]
    assert [f.status for f in again.files] == expected


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.dcm"))


def test_store_instances_single_files(client: PacsClient, tmp_path: Path) -> None:
    files = synthetic_study(tmp_path / "s", f"one-{uuid.uuid4().hex}", series=1, instances=2)
    paths = sorted((tmp_path / "s").glob("*.dcm"))
    result = client.store_instances(paths, batch_size=1)
    assert [f.status for f in result.files] == ["stored", "stored"]
    assert {f.sop_instance_uid for f in result.files} == set(files)
    assert result.requests == 2


# --------------------------------------------------------------------------- QIDO


def test_search_the_three_ways(client: PacsClient, study: dict[str, bytes]) -> None:
    first = dataset_of(next(iter(study.values())))
    studies = client.search(patient_id=str(first.PatientID))
    assert [s.study_instance_uid for s in studies] == [first.StudyInstanceUID]
    found = studies[0]
    assert found.patient_name == str(first.PatientName)
    assert found.study_date == first.StudyDate
    assert sorted(found.modalities) == ["CT", "MR"]
    assert found.number_of_study_related_instances == 6

    series = client.search(study_instance_uid=first.StudyInstanceUID)
    assert len(series) == 2 and all(s.level == "series" for s in series)
    by_uid = {s.series_instance_uid: s for s in series}
    assert by_uid[first.SeriesInstanceUID].number_of_series_related_instances == 3

    instances = client.search(series_instance_uid=first.SeriesInstanceUID)
    expected = {
        uid
        for uid, data in study.items()
        if dataset_of(data).SeriesInstanceUID == first.SeriesInstanceUID
    }
    assert {i.sop_instance_uid for i in instances} == expected

    # Standard forms and other QIDO parameters.
    assert [s.study_instance_uid for s in client.search_studies(PatientID=first.PatientID)] == [
        first.StudyInstanceUID
    ]
    assert len(client.search_series(first.StudyInstanceUID, modality="MR")) == 1
    assert len(client.search_instances(first.StudyInstanceUID, first.SeriesInstanceUID)) == 3
    assert len(client.search(patient_id=str(first.PatientID), limit=1)) == 1
    assert client.search(patient_id="no-such-patient-" + uuid.uuid4().hex) == []


# --------------------------------------------------------------------------- WADO


def test_retrieve_each_level_byte_for_byte(
    client: PacsClient, study: dict[str, bytes], tmp_path: Path
) -> None:
    first = dataset_of(next(iter(study.values())))
    whole = client.retrieve(study_instance_uid=first.StudyInstanceUID, output_dir=tmp_path / "st")
    assert whole.directory == tmp_path / "st"
    assert Counter(p.read_bytes() for p in whole.files) == Counter(study.values())

    series = client.retrieve(series_instance_uid=first.SeriesInstanceUID, output_dir=tmp_path)
    assert series.directory.parent == tmp_path  # an existing folder gets a new sub-folder
    expected = [
        data
        for data in study.values()
        if dataset_of(data).SeriesInstanceUID == first.SeriesInstanceUID
    ]
    assert Counter(p.read_bytes() for p in series.files) == Counter(expected)

    one = client.retrieve(sop_instance_uid=first.SOPInstanceUID, output_dir=tmp_path / "one")
    assert [p.read_bytes() for p in one.files] == [study[first.SOPInstanceUID]]
    assert [p.name for p in one.files] == ["part-0001.dcm"]


def test_retrieve_unknown_uid_is_not_found(client: PacsClient, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        client.retrieve(study_instance_uid="1.2.3.999999", output_dir=tmp_path / "none")
    assert not (tmp_path / "none").exists()


# --------------------------------------------------------------------------- errors


def test_wrong_password_and_unreachable_server(server: ServerProcess, account: TestAccount) -> None:
    with (
        PacsClient(server.dicomweb, account.email, "wrong") as pacs,
        pytest.raises(AuthenticationError) as caught,
    ):
        pacs.search()
    assert caught.value.status == 401
    nowhere = f"http://127.0.0.1:{free_port()}/dicomweb"
    with PacsClient(nowhere, "a", "b", timeout=5) as pacs, pytest.raises(ConnectionFailed):
        pacs.list_institutions()


# --------------------------------------------------------------------------- custom API


def test_directory_lists(client: PacsClient, account: TestAccount) -> None:
    institutions = client.list_institutions()
    assert account.institution_uuid in {i.institution_uuid for i in institutions}
    users = client.list_users()
    assert {u.user_uuid: u.email for u in users}[account.user_uuid] == account.email
    assert isinstance(client.list_user_groups(), list)
    assert isinstance(client.list_equipment(), list)


def test_patient_order_lifecycle(client: PacsClient, account: TestAccount) -> None:
    patient_id = f"ORD-{uuid.uuid4().hex[:10]}"
    created = client.create_patient_order(
        account.institution_uuid,
        "Jansen^Fleur",
        patient_id,
        "1980-02-29",
        "MR",
        patient_sex="F",
        study_description="Knee",
        accession_number=f"ACC-{patient_id}",
        order_scheduled_datetime="2031-05-06 07:08",
    )
    assert created.patient_order_uuid
    order = client.get_patient_order(account.institution_uuid, created.patient_order_uuid)
    assert order.patient_name == "Jansen^Fleur" and order.patient_id == patient_id
    assert order.patient_birthdate == "1980-02-29" and order.modality == "MR"
    assert order.order_scheduled_datetime == "2031-05-06 07:08"
    assert order.status == "Scheduled"

    found = client.search_patient_orders(patient_id=patient_id)
    assert [o.patient_order_uuid for o in found] == [created.patient_order_uuid]
    assert client.search_patient_orders(patient_id=patient_id, modality_list=["CT"]) == []
    assert len(client.search_patient_orders(study_date_from="2000-01-01")) >= 0

    client.delete_patient_order(account.institution_uuid, created.patient_order_uuid)
    with pytest.raises(NotFoundError):
        client.get_patient_order(account.institution_uuid, created.patient_order_uuid)


def _order_of(client: PacsClient, study: dict[str, bytes]) -> Any:
    first = dataset_of(next(iter(study.values())))
    orders = client.search_patient_orders(patient_id=str(first.PatientID))
    assert len(orders) == 1
    return orders[0]


def test_order_properties_and_tag_content(
    client: PacsClient, account: TestAccount, study: dict[str, bytes]
) -> None:
    first = dataset_of(next(iter(study.values())))
    order = _order_of(client, study)
    props = client.get_patient_order(order.institution_uuid, order.patient_order_uuid)
    assert props.study_instance_uid == first.StudyInstanceUID
    assert {s.series_instance_uid for s in props.series} == {
        dataset_of(d).SeriesInstanceUID for d in study.values()
    }
    series = next(s for s in props.series if s.series_instance_uid == first.SeriesInstanceUID)

    content = client.get_dicom_tag_content(
        order.institution_uuid,
        order.patient_order_uuid,
        patient_series_uuid=series.patient_series_uuid,
        dicom_tag_id_list=["00100010", "(0020,0013)", "Modality"],
    )
    names = {t.text for t in content.tags if t.tag == "00100010"}
    assert names == {str(first.PatientName)}
    numbers = sorted(int(t.text) for t in content.tags if t.tag == "00200013")
    assert numbers == [1, 2, 3]
    assert {t.patient_series_uuid for t in content.tags} == {series.patient_series_uuid}


def test_folders(client: PacsClient, study: dict[str, bytes]) -> None:
    order = _order_of(client, study)
    name = f"Folder {uuid.uuid4().hex[:8]}"
    parent = client.create_folder(name, "e2e folder")
    assert parent.folder_uuid
    child = client.create_folder(name + " child", parent_folder_uuid=parent.folder_uuid)
    found = client.search_folders(folder_name=name[-8:])
    assert {f.folder_uuid for f in found} >= {parent.folder_uuid}
    children = client.search_folders(parent_folder_uuid=parent.folder_uuid)
    assert [f.folder_uuid for f in children] == [child.folder_uuid]

    client.add_order_to_folder(order.patient_order_uuid, [parent.folder_uuid])
    with_orders = client.search_folders(folder_name=name, get_orders_in_folder=True)
    top = next(f for f in with_orders if f.folder_uuid == parent.folder_uuid)
    assert [o.patient_order_uuid for o in top.orders] == [order.patient_order_uuid]

    share = client.share_folder(
        parent.folder_uuid,
        share_title="For review",
        expire_date="2099-12-31",
        user_can_download_studies=True,
    )
    assert share.share_url.startswith("http")


def test_shares(client: PacsClient, study: dict[str, bytes]) -> None:
    order = _order_of(client, study)
    link = client.create_share_link(
        [order.patient_order_uuid], "2099-01-31", share_password="pw", downloadable=True
    )
    assert link.share_url.startswith("http")
    by_url = client.share_patient_orders(
        [order.patient_order_uuid], "2099-01-31", user_can_download_studies=False
    )
    assert by_url.share_url.startswith("http") and by_url.share_url != link.share_url

    shares = client.list_shares()
    # The list never shows URLs: only a hash of each share's token is stored.
    assert {link.share_uuid, by_url.share_uuid} <= {s.share_uuid for s in shares}
    target = next(s for s in shares if s.share_uuid == link.share_uuid)
    client.delete_share(target.share_uuid)
    assert link.share_uuid not in {s.share_uuid for s in client.list_shares()}
    with pytest.raises(NotFoundError):
        client.delete_share(target.share_uuid)


def test_assignment(
    client: PacsClient, server: ServerProcess, account: TestAccount, study: dict[str, bytes]
) -> None:
    order = _order_of(client, study)
    client.assign_order_to_user(order.patient_order_uuid, account.user_uuid)
    props = client.get_patient_order(order.institution_uuid, order.patient_order_uuid)
    assert props.assigned_user_uuid == account.user_uuid

    db = Database(server.database_url)
    try:
        with db.session() as session:
            group = accounts.add_group(
                session, accounts.find_account(session, account.account_uuid), "Radiology"
            )
            group_uuid = group.uuid
    finally:
        db.dispose()
    assert group_uuid in {g.user_group_uuid for g in client.list_user_groups()}
    client.assign_order_to_user_group(order.patient_order_uuid, group_uuid)
    props = client.get_patient_order(order.institution_uuid, order.patient_order_uuid)
    assert props.assigned_user_group_uuid == group_uuid


# --------------------------------------------------------------------------- async twin


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_end_to_end(
    server: ServerProcess, account: TestAccount, tmp_path: Path
) -> None:
    files = synthetic_study(tmp_path / "async", f"async-{uuid.uuid4().hex}", instances=2)
    first = dataset_of(next(iter(files.values())))
    async with AsyncPacsClient(server.dicomweb, account.email, account.password) as pacs:
        result = await pacs.upload_directory(tmp_path / "async", batch_size=1, concurrency=3)
        assert result.ok and len(result.stored) == 4
        studies = await pacs.search(patient_id=str(first.PatientID))
        assert [s.study_instance_uid for s in studies] == [first.StudyInstanceUID]
        got = await pacs.retrieve(
            study_instance_uid=first.StudyInstanceUID, output_dir=tmp_path / "o"
        )
        assert Counter(p.read_bytes() for p in got.files) == Counter(files.values())
        institutions = await pacs.list_institutions()
        assert account.institution_uuid in {i.institution_uuid for i in institutions}
        with pytest.raises(NotFoundError):
            await pacs.retrieve(sop_instance_uid="1.2.3.999", output_dir=tmp_path / "x")
