"""DELETE of studies, series and instances, and damaged storage, against a real server."""

from __future__ import annotations

import httpx
import pytest
from bench.dataset import InstanceSpec, make_instance
from sqlalchemy import select

from openpacs.index.db import Database
from openpacs.index.models import Account, PatientOrder, Series, Study
from tests.e2e.wado_support import blob_path, split_multipart
from tests.support.server import ServerProcess, TestAccount
from tests.support.specs import small_spec
from tests.support.stow import stow


def _spec(tag: str, series: int, number: int, modality: str = "CT") -> InstanceSpec:
    return small_spec(
        tag,
        series,
        number,
        patient_id="DEL1",
        patient_name="Delete^Dora",
        accession=f"A{tag[:10]}",
        modality=modality,
        rows=32,
        columns=32,
    )


def _load(server: ServerProcess, account: TestAccount, tag: str) -> list[InstanceSpec]:
    """Series 1 (CT): 3 instances; series 2 (MR): 1 instance."""
    specs = [_spec(tag, 1, n) for n in (1, 2, 3)] + [_spec(tag, 2, 1, "MR")]
    response = stow(server.dicomweb, account.auth, [make_instance(s) for s in specs])
    assert response.status_code == 200, response.text
    return specs


def _url(server: ServerProcess, spec: InstanceSpec, level: str) -> str:
    url = f"{server.dicomweb}/studies/{spec.study_uid}"
    if level in ("series", "instance"):
        url += f"/series/{spec.series_uid}"
    if level == "instance":
        url += f"/instances/{spec.sop_uid}"
    return url


def _study_row(server: ServerProcess, account: TestAccount, uid: str) -> tuple[object, ...] | None:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            row = session.execute(
                select(
                    Study.num_series,
                    Study.num_instances,
                    Study.modalities_in_study,
                    PatientOrder.status,
                )
                .join(Account, Account.id == Study.account_id)
                .join(PatientOrder, PatientOrder.id == Study.order_id)
                .where(Account.uuid == account.account_uuid, Study.study_instance_uid == uid)
            ).first()
            return None if row is None else tuple(row)
    finally:
        db.dispose()


def _order_status(server: ServerProcess, account: TestAccount, study_uid: str) -> str | None:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            return session.scalar(
                select(PatientOrder.status)
                .join(Account, Account.id == PatientOrder.account_id)
                .where(
                    Account.uuid == account.account_uuid,
                    PatientOrder.study_instance_uid == study_uid,
                )
            )
    finally:
        db.dispose()


def _series_count(server: ServerProcess, uid: str) -> int:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            return len(
                session.scalars(select(Series.id).where(Series.series_instance_uid == uid)).all()
            )
    finally:
        db.dispose()


def test_delete_instance_series_and_study(server: ServerProcess, account: TestAccount) -> None:
    specs = _load(server, account, "delete-levels")
    first, second, third, mr = specs
    blobs = {s.sop_uid: blob_path(server, account, s.sop_uid) for s in specs}
    assert all(path.exists() for path in blobs.values())
    assert _study_row(server, account, first.study_uid) == (2, 4, "\\CT\\MR\\", "ImagesReceived")
    auth = account.auth

    response = httpx.delete(_url(server, second, "instance"), auth=auth)
    assert response.status_code == 204, response.headers.get("x-error-reason")
    assert httpx.get(_url(server, second, "instance"), auth=auth).status_code == 404
    assert not blobs[second.sop_uid].exists()
    assert _study_row(server, account, first.study_uid) == (2, 3, "\\CT\\MR\\", "ImagesReceived")
    parts = split_multipart(httpx.get(_url(server, first, "series"), auth=auth))
    assert len(parts) == 2

    # The MR series' only instance: the series row goes, the study loses the modality.
    assert httpx.delete(_url(server, mr, "instance"), auth=auth).status_code == 204
    assert _series_count(server, mr.series_uid) == 0
    assert _study_row(server, account, first.study_uid) == (1, 2, "\\CT\\", "ImagesReceived")

    assert httpx.delete(_url(server, first, "series"), auth=auth).status_code == 204
    assert not blobs[first.sop_uid].exists() and not blobs[third.sop_uid].exists()
    assert _study_row(server, account, first.study_uid) is None  # emptied study removed
    assert httpx.get(_url(server, first, "study"), auth=auth).status_code == 404
    # The order stays (it is a management object) and is scheduled again.
    assert _order_status(server, account, first.study_uid) == "Scheduled"
    assert httpx.delete(_url(server, first, "study"), auth=auth).status_code == 404

    # Storing the study again brings the same order back to ImagesReceived.
    _load(server, account, "delete-levels")
    assert _order_status(server, account, first.study_uid) == "ImagesReceived"
    assert httpx.delete(_url(server, first, "study"), auth=auth).status_code == 204
    assert httpx.get(_url(server, first, "study") + "/metadata", auth=auth).status_code == 404
    assert _order_status(server, account, first.study_uid) == "Scheduled"


def test_delete_is_scoped_to_the_account(server: ServerProcess, account: TestAccount) -> None:
    [first, *_] = _load(server, account, "delete-scope")
    stranger = server.create_account()
    for level in ("study", "series", "instance"):
        response = httpx.delete(_url(server, first, level), auth=stranger.auth)
        assert response.status_code == 404, level
    assert httpx.get(_url(server, first, "study"), auth=account.auth).status_code == 200
    unknown = httpx.delete(f"{server.dicomweb}/studies/1.2.3.4.5", auth=account.auth)
    assert unknown.status_code == 404
    assert "not found" in unknown.headers["x-error-reason"]


def test_a_missing_stored_file_is_a_clear_500_and_the_server_survives(
    server: ServerProcess, account: TestAccount
) -> None:
    first, second, third, _mr = _load(server, account, "delete-missing")
    first_blob = blob_path(server, account, first.sop_uid)
    saved = first_blob.read_bytes()
    first_blob.unlink()
    reason = f"stored file for instance {first.sop_uid} is missing"
    for url in (
        _url(server, first, "instance"),
        _url(server, first, "instance") + "/frames/1",
        _url(server, first, "instance") + "/rendered",
        _url(server, first, "series"),  # the first part: the status can still say so
        _url(server, first, "series") + "?accept=application/zip",
    ):
        response = httpx.get(url, auth=account.auth)
        assert response.status_code == 500, url
        assert response.headers["x-error-reason"] == reason, url
    # Metadata comes from the index and still works.
    meta = httpx.get(_url(server, first, "instance") + "/metadata", auth=account.auth)
    assert meta.status_code == 200
    first_blob.write_bytes(saved)

    # A file missing after the stream started: the response is cut off, never completed.
    blob_path(server, account, third.sop_uid).unlink()
    for url in (
        _url(server, second, "series"),
        _url(server, second, "study") + "?accept=application/zip",
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(url, auth=account.auth)
    assert httpx.get(_url(server, second, "instance"), auth=account.auth).status_code == 200
    assert httpx.get(f"{server.url}/healthz").status_code == 200
