"""Orders and their images: STOW links studies to orders; tag contents; delete with images."""

from __future__ import annotations

from typing import Any

import pytest
from bench.dataset import InstanceSpec, det_uid, make_instance
from sqlalchemy import func, select

from openpacs.index.models import (
    Account,
    Folder,
    FolderOrder,
    Instance,
    OrderModality,
    PatientOrder,
    Series,
    Share,
    ShareOrder,
    Study,
)
from tests.e2e.api_client import create_order, csharp, database, error, ok, post, stow
from tests.support.server import ServerProcess, TestAccount

PROPS = "/getpatientorderproperties"
TAGS = "/getdicomtagcontent"


def instance(
    seed: str,
    *,
    series: int = 0,
    number: int = 1,
    accession: str = "",
    study_uid: str = "",
    modality: str = "CT",
    name: str = "Jansen^Bram",
) -> bytes:
    return make_instance(
        InstanceSpec(
            patient_id=f"PID-{seed}",
            patient_name=name,
            study_uid=study_uid or det_uid(seed, "study"),
            series_uid=det_uid(seed, "series", series),
            sop_uid=det_uid(seed, "sop", series, number),
            study_date="20240131",
            accession=accession,
            modality=modality,
            instance_number=number,
            series_number=series + 1,
            rows=16,
            columns=16,
        )
    )


def key(order: dict[str, Any]) -> dict[str, str]:
    return {
        "PatientOrderInstitutionUuid": order["PatientOrderInstitutionUuid"],
        "PatientOrderUuid": order["PatientOrderUuid"],
    }


def stored(response: Any) -> None:
    assert response.status_code == 200, (response.status_code, response.text)


def test_images_with_the_accession_number_join_the_scheduled_order(
    server: ServerProcess, account: TestAccount
) -> None:
    order = create_order(server, account, AccessionNumber="ACC-LINK-1", PatientId="PID-link")
    stored(stow(server, account, instance("link", accession="ACC-LINK-1", modality="MR")))
    got = ok(csharp(server, account, PROPS, key(order)))
    assert got["OrderStatus"] == "ImagesReceived"
    assert got["StudyInstanceUID"] == det_uid("link", "study")  # the modality's UID wins
    assert got["StudyDate"] == "2024-01-31"
    assert got["NumberOfSeries"] == 1
    assert got["NumberOfInstances"] == 1
    assert got["ModalitiesInStudy"] == ["MR"]
    assert got["SeriesList"] == [
        {
            "PatientSeriesUuid": got["SeriesList"][0]["PatientSeriesUuid"],
            "SeriesInstanceUID": det_uid("link", "series", 0),
            "Modality": "MR",
            "SeriesDescription": "Synthetic series 1",
            "SeriesNumber": 1,
            "NumberOfInstances": 1,
        }
    ]
    # Found by the image's modality too, and now by study date.
    found = ok(post(server, account, "/getpatientorderlist", {"ModalityList": ["MR"]}))
    assert order["PatientOrderUuid"] in [o["PatientOrderUuid"] for o in found["PatientOrderList"]]
    found = ok(
        post(
            server,
            account,
            "/getpatientorderlist",
            {"StudyDateFrom": "2024-01-31", "StudyDateTo": "2024-01-31"},
        )
    )
    assert [o["PatientOrderUuid"] for o in found["PatientOrderList"]] == [order["PatientOrderUuid"]]


def test_images_with_the_generated_study_uid_join_the_order(
    server: ServerProcess, account: TestAccount
) -> None:
    order = create_order(server, account)
    stored(stow(server, account, instance("uid", study_uid=order["StudyInstanceUID"])))
    got = ok(csharp(server, account, PROPS, key(order)))
    assert (got["OrderStatus"], got["NumberOfInstances"]) == ("ImagesReceived", 1)


def test_one_study_one_file_per_request_lands_in_one_order(
    server: ServerProcess, account: TestAccount
) -> None:
    for series in range(3):
        stored(stow(server, account, instance("single", series=series, accession="")))
    found = ok(post(server, account, "/getpatientorderlist", {"PatientId": "PID-single"}))
    assert found["TotalCount"] == 1
    summary = found["PatientOrderList"][0]
    assert summary["OrderStatus"] == "ImagesReceived"
    assert summary["PatientOrderInstitutionUuid"] == account.institution_uuid
    assert summary["PatientName"] == "Jansen^Bram"
    assert (summary["NumberOfSeries"], summary["NumberOfInstances"]) == (3, 3)
    got = ok(csharp(server, account, PROPS, key(summary)))
    assert [s["SeriesInstanceUID"] for s in got["SeriesList"]] == [
        det_uid("single", "series", n) for n in range(3)
    ]


@pytest.fixture(scope="module")
def imaged(server: ServerProcess) -> tuple[TestAccount, dict[str, Any]]:
    """An order with two series (2 + 1 instances)."""
    account = server.create_account()
    order = create_order(server, account, AccessionNumber="ACC-TAGS", PatientName="Tag^Tess")
    files = [
        instance("tags", series=0, number=1, accession="ACC-TAGS", name="Müller^Jörg"),
        instance("tags", series=0, number=2, accession="ACC-TAGS", name="Müller^Jörg"),
        instance("tags", series=1, number=1, accession="ACC-TAGS", name="Müller^Jörg"),
    ]
    stored(stow(server, account, *files))
    return account, ok(csharp(server, account, PROPS, key(order)))


def test_tag_content_of_the_whole_order(
    server: ServerProcess, imaged: tuple[TestAccount, dict[str, Any]]
) -> None:
    account, order = imaged
    ids = ["00100010", "(0020,000D)", "0010,0020", "Modality", "InstanceNumber"]
    got = ok(csharp(server, account, TAGS, {**key(order), "DicomTagIdList": ids}))
    assert got["PatientOrderUuid"] == order["PatientOrderUuid"]
    assert got["DicomTagIdList"] == ["00100010", "0020000D", "00100020", "00080060", "00200013"]
    assert [s["PatientSeriesUuid"] for s in got["SeriesList"]] == [
        s["PatientSeriesUuid"] for s in order["SeriesList"]
    ]
    first = got["SeriesList"][0]["InstanceList"]
    assert [i["InstanceNumber"] for i in first] == [1, 2]
    tags = first[0]["DicomTags"]
    assert list(tags) == ["00100010", "0020000D", "00100020", "00080060", "00200013"]
    assert tags["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Müller^Jörg"}]}
    assert tags["0020000D"]["Value"] == [det_uid("tags", "study")]
    assert tags["00080060"] == {"vr": "CS", "Value": ["CT"]}
    assert first[0]["SOPInstanceUID"] == det_uid("tags", "sop", 0, 1)
    assert len(got["SeriesList"][1]["InstanceList"]) == 1


def test_tag_content_of_one_series_in_the_post_form(
    server: ServerProcess, imaged: tuple[TestAccount, dict[str, Any]]
) -> None:
    account, order = imaged
    series_uuid = order["SeriesList"][1]["PatientSeriesUuid"]
    got = ok(
        post(
            server,
            account,
            TAGS,
            {**key(order), "PatientSeriesUuid": series_uuid, "DicomTagIdList": ["SeriesNumber"]},
        )
    )
    assert len(got["SeriesList"]) == 1
    assert got["SeriesList"][0]["PatientSeriesUuid"] == series_uuid
    assert got["SeriesList"][0]["InstanceList"][0]["DicomTags"] == {
        "00200011": {"vr": "IS", "Value": [2]}
    }


def test_tag_content_without_a_list_is_every_non_bulk_attribute(
    server: ServerProcess, imaged: tuple[TestAccount, dict[str, Any]]
) -> None:
    account, order = imaged
    got = ok(csharp(server, account, TAGS, {**key(order), "DicomTagIdList": [""]}))
    tags = got["SeriesList"][0]["InstanceList"][0]["DicomTags"]
    assert got["DicomTagIdList"] == []
    assert {"00100010", "00080018", "00280010", "00281050"} <= set(tags)
    assert "7FE00010" not in tags
    # Asked for by name, bulk data comes as a BulkDataURI on this server's DICOMweb root.
    got = ok(post(server, account, TAGS, {**key(order), "DicomTagIdList": ["PixelData"]}))
    pixel = got["SeriesList"][0]["InstanceList"][0]["DicomTags"]["7FE00010"]
    assert pixel["BulkDataURI"].startswith(server.dicomweb + "/")
    assert "@@" not in pixel["BulkDataURI"]


def test_tag_content_errors(
    server: ServerProcess, imaged: tuple[TestAccount, dict[str, Any]], account: TestAccount
) -> None:
    owner, order = imaged
    error(
        post(server, owner, TAGS, {**key(order), "DicomTagIdList": ["PatientName", "Nonsense"]}),
        400,
        "DicomTagIdList",
        "Nonsense",
    )
    error(
        post(server, owner, TAGS, {**key(order), "DicomTagIdList": ["(0010,00"]}),
        400,
        "DicomTagIdList",
    )
    # A series of another order (of the same account) is not found in this order.
    other = create_order(server, owner)
    series_uuid = order["SeriesList"][0]["PatientSeriesUuid"]
    error(
        post(server, owner, TAGS, {**key(other), "PatientSeriesUuid": series_uuid}),
        404,
        "PatientSeriesUuid",
    )
    # Another account learns nothing.
    error(post(server, account, TAGS, key(order)), 404)


def test_delete_removes_images_links_and_files(server: ServerProcess, account: TestAccount) -> None:
    order = create_order(server, account, AccessionNumber="ACC-DEL")
    files = [
        instance("del", series=s, number=n, accession="ACC-DEL") for s in (0, 1) for n in (1, 2)
    ]
    stored(stow(server, account, *files))
    with database(server) as session:
        acct = session.scalar(select(Account).where(Account.uuid == account.account_uuid))
        row = session.scalar(
            select(PatientOrder).where(PatientOrder.uuid == order["PatientOrderUuid"])
        )
        assert acct is not None and row is not None
        folder = Folder(account_id=acct.id, name="Teaching")
        share = Share(account_id=acct.id, token_hash=f"test-{order['PatientOrderUuid']}")
        session.add_all([folder, share])
        session.flush()
        session.add_all(
            [
                FolderOrder(folder_id=folder.id, order_id=row.id),
                ShareOrder(share_id=share.id, order_id=row.id),
            ]
        )
        order_id, folder_uuid = row.id, folder.uuid
        blob_keys = list(
            session.scalars(
                select(Instance.blob_key)
                .join(Study, Study.id == Instance.study_id)
                .where(Study.order_id == order_id)
            )
        )
    assert len(blob_keys) == 4
    blob_root = server.data_dir / "blobs"
    assert all((blob_root / k).exists() for k in blob_keys)
    listed = ok(csharp(server, account, PROPS, key(order)))
    assert listed["FolderList"] == [{"FolderUuid": folder_uuid, "FolderName": "Teaching"}]

    deleted = ok(csharp(server, account, "/deleteorder", key(order)))
    assert deleted == {
        "PatientOrderUuid": order["PatientOrderUuid"],
        "DeletedSeries": 2,
        "DeletedInstances": 4,
    }
    assert not any((blob_root / k).exists() for k in blob_keys)
    with database(server) as session:
        for model, column in (
            (Study, Study.order_id),
            (FolderOrder, FolderOrder.order_id),
            (ShareOrder, ShareOrder.order_id),
        ):
            count = session.scalar(
                select(func.count()).select_from(model).where(column == order_id)
            )
            assert count == 0, model
        series_left = session.scalar(
            select(func.count())
            .select_from(Series)
            .where(Series.series_instance_uid == det_uid("del", "series", 0))
        )
        assert series_left == 0
        assert session.get(Folder, folder.id) is not None  # the folder itself stays
    error(csharp(server, account, PROPS, key(order)), 404)
    # The same images can be stored again afterwards (a new order from their header).
    stored(stow(server, account, files[0]))
    again = ok(post(server, account, "/getpatientorderlist", {"AccessionNumber": "ACC-DEL"}))
    assert again["TotalCount"] == 1
    assert again["PatientOrderList"][0]["PatientOrderUuid"] != order["PatientOrderUuid"]


def test_the_modality_filter_follows_the_order_and_its_images(
    server: ServerProcess, account: TestAccount
) -> None:
    """The filter's per-order list (``order_modality``) follows every change: a new
    scheduled order (its own modality), images of another modality joining it, a second
    series of a third, and the deletion of images (a series, then the whole study)."""
    import httpx

    def found(modality: str) -> bool:
        listed = ok(post(server, account, "/getpatientorderlist", {"ModalityList": [modality]}))
        return order["PatientOrderUuid"] in [
            o["PatientOrderUuid"] for o in listed["PatientOrderList"]
        ]

    order = create_order(server, account, AccessionNumber="ACC-MOD-1", Modality="US")
    assert [found(m) for m in ("US", "MR", "CT")] == [True, False, False]
    stored(stow(server, account, instance("mods", accession="ACC-MOD-1", modality="MR")))
    assert [found(m) for m in ("US", "MR", "CT")] == [True, True, False]
    stored(stow(server, account, instance("mods", series=1, accession="ACC-MOD-1")))  # CT
    assert [found(m) for m in ("US", "MR", "CT")] == [True, True, True]
    study = det_uid("mods", "study")
    series = det_uid("mods", "series", 0)  # the MR series
    url = f"{server.dicomweb}/studies/{study}/series/{series}"
    assert httpx.delete(url, auth=account.auth, timeout=30).status_code == 204
    assert [found(m) for m in ("US", "MR", "CT")] == [True, False, True]
    url = f"{server.dicomweb}/studies/{study}"
    assert httpx.delete(url, auth=account.auth, timeout=30).status_code == 204
    assert [found(m) for m in ("US", "MR", "CT")] == [True, False, False]
    # The order's deletion takes its rows along (the foreign key's cascade).
    with database(server) as session:
        order_id = session.scalar(
            select(PatientOrder.id).where(PatientOrder.uuid == order["PatientOrderUuid"])
        )
    ok(csharp(server, account, "/deleteorder", key(order)))
    with database(server) as session:
        left = session.scalar(
            select(func.count())
            .select_from(OrderModality)
            .where(OrderModality.order_id == order_id)
        )
    assert left == 0
