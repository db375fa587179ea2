"""Instances without Study or Series Instance UID: refused by default (0xA900); with
OPENPACS_COERCE_MISSING_UIDS=true stored under derived UIDs, recorded in the audit
trail, and retrieved as files whose UIDs match the index; through STOW-RS and C-STORE.
SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from bench.dataset import make_instance
from pydicom.dataset import Dataset

from openpacs.index.models import AuditEvent
from tests.support.audit import audit_events
from tests.support.dimse import add_equipment, new_ae_title, store_files
from tests.support.postgres import temporary_database
from tests.support.server import ServerProcess, TestAccount
from tests.support.specs import small_spec
from tests.support.stow import failed_items, stow
from tests.support.uids import without

OLD_FILES = ("pydicom__hotiron.dcm", "pydicom__SC_rgb_jls_lossy_sample.dcm")
COERCION_OF_DATA_ELEMENTS = 0xB000


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def coercing(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server that derives missing UIDs, on each index backend."""
    data_dir = tmp_path_factory.mktemp(f"coercing-{request.param}")
    env = {"OPENPACS_COERCE_MISSING_UIDS": "true"}
    if request.param == "sqlite":
        process = ServerProcess(data_dir, env=env).start()
        yield process
        process.stop()
        return
    with temporary_database() as url:
        process = ServerProcess(data_dir, database_url=url, env=env).start()
        yield process
        process.stop()


def stored_items(body: dict[str, object]) -> list[dict[str, dict[str, list[object]]]]:
    seq = body.get("00081199", {})
    return list(seq.get("Value", [])) if isinstance(seq, dict) else []


def coerce_details(server: ServerProcess, account: TestAccount, count: int) -> list[str]:
    events = audit_events(
        server.database_url,
        account.account_uuid,
        AuditEvent.action == "instance.coerce",
        count=count,
    )
    return [detail for _action, detail in events]


def test_by_default_a_missing_study_uid_fails_that_part_alone(
    server: ServerProcess, account: TestAccount
) -> None:
    """The default: refused with 0xA900 (the corpus files: test_stow_e2e.py)."""
    good, old = small_spec("refused", 1, 1), small_spec("refused", 1, 2)
    files = [make_instance(good), without(make_instance(old), "StudyInstanceUID")]
    response = stow(server.dicomweb, account.auth, files)
    assert response.status_code == 202
    [item] = stored_items(response.json())
    assert "00081196" not in item  # no warning: nothing was coerced
    [failed] = failed_items(response.json())
    assert failed["00081197"]["Value"] == [0xA900]  # type: ignore[index]
    assert failed["00081155"]["Value"] == [old.sop_uid]  # type: ignore[index]


@pytest.mark.parametrize("name", OLD_FILES)
def test_with_coercion_the_file_is_stored_under_derived_uids_it_then_carries(
    coercing: ServerProcess, corpus_dir: Path, name: str
) -> None:
    account = coercing.create_account()
    data = (corpus_dir / name).read_bytes()
    response = stow(coercing.dicomweb, account.auth, [data])
    assert response.status_code == 202, response.text  # stored, with a warning
    body = response.json()
    [item] = stored_items(body)
    assert item["00081196"]["Value"] == [COERCION_OF_DATA_ELEMENTS]
    url = str(item["00081190"]["Value"][0])
    study = url.split("/studies/")[1].split("/")[0]
    series = url.split("/series/")[1].split("/")[0]
    assert study.startswith("2.25.") and series.startswith("2.25.")
    assert body["00081190"]["Value"] == [f"{coercing.dicomweb}/studies/{study}"]

    # The same file again: the same UIDs, stored once.
    again = stow(coercing.dicomweb, account.auth, [data]).json()
    assert stored_items(again)[0]["00081190"]["Value"] == [url]
    found = httpx.get(
        f"{coercing.dicomweb}/studies/{study}/instances", auth=account.auth, timeout=30
    )
    assert found.status_code == 200 and len(found.json()) == 1

    # WADO returns a file whose UIDs are the index's, and the metadata agrees.
    part10 = httpx.get(url, params={"accept": "application/dicom"}, auth=account.auth)
    assert part10.status_code == 200
    ds = pydicom.dcmread(io.BytesIO(part10.content))
    assert (ds.StudyInstanceUID, ds.SeriesInstanceUID) == (study, series)
    assert ds.OriginalAttributesSequence[0].ReasonForTheAttributeModification == "COERCE"
    metadata = httpx.get(f"{url}/metadata", auth=account.auth).json()
    assert metadata[0]["0020000D"]["Value"] == [study]

    detail = coerce_details(coercing, account, 1)[0]
    assert study in detail and series in detail and ds.SOPInstanceUID in detail


def test_with_coercion_the_images_of_one_old_exam_form_one_study(
    coercing: ServerProcess,
) -> None:
    account = coercing.create_account()
    files = [
        without(
            make_instance(small_spec("oldexam", series, n)), "StudyInstanceUID", "SeriesInstanceUID"
        )
        for series, n in ((1, 1), (1, 2), (2, 1))
    ]
    response = stow(coercing.dicomweb, account.auth, files)
    assert response.status_code == 202, response.text
    urls = [str(item["00081190"]["Value"][0]) for item in stored_items(response.json())]
    studies = {u.split("/studies/")[1].split("/")[0] for u in urls}
    series = [u.split("/series/")[1].split("/")[0] for u in urls]
    assert len(studies) == 1 and series[0] == series[1] != series[2]
    [study] = studies
    listed = httpx.get(f"{coercing.dicomweb}/studies/{study}/series", auth=account.auth)
    assert listed.status_code == 200 and len(listed.json()) == 2
    assert len(coerce_details(coercing, account, 3)) == 3


def test_with_coercion_other_failures_stay_failures(
    coercing: ServerProcess, corpus_dir: Path
) -> None:
    account = coercing.create_account()
    priv_sq = (corpus_dir / "pydicom__priv_SQ.dcm").read_bytes()  # no SOP Class UID
    response = stow(coercing.dicomweb, account.auth, [priv_sq])
    assert response.status_code == 409
    [failed] = failed_items(response.json())
    assert failed["00081197"]["Value"] == [0xA900]  # type: ignore[index]
    assert "SOP Class UID" in failed["00000902"]["Value"][0]  # type: ignore[index]


# --------------------------------------------------------------------------- C-STORE


def c_store(server: ServerProcess, account: TestAccount, path: Path) -> Dataset:
    """C-STORE ``path`` from a registered equipment of ``account``; the status data set."""
    title = new_ae_title("OLDMOD")
    add_equipment(server, account, title)
    answer = store_files(server, title, [path])[path]
    assert answer is not None, "the SOP class was refused in the negotiation"
    return answer


def instances(server: ServerProcess, account: TestAccount, sop_uid: str) -> list[Any]:
    response = httpx.get(
        f"{server.dicomweb}/instances", params={"SOPInstanceUID": sop_uid}, auth=account.auth
    )
    assert response.status_code in (200, 204), response.text
    return list(response.json()) if response.status_code == 200 else []


def test_by_default_c_store_refuses_an_instance_without_a_study_uid(
    server: ServerProcess, account: TestAccount, tmp_path: Path
) -> None:
    spec = small_spec("dimse-refused", 1, 1)
    path = tmp_path / "old.dcm"
    path.write_bytes(without(make_instance(spec), "StudyInstanceUID"))
    answer = c_store(server, account, path)
    assert answer.Status == 0xA900
    assert "Study Instance UID" in answer.ErrorComment
    assert instances(server, account, spec.sop_uid) == []


def test_with_coercion_c_store_stores_under_the_uids_stow_derives(
    coercing: ServerProcess, tmp_path: Path
) -> None:
    """The DICOM node coerces like STOW: status B000, the same derived UIDs for the same
    file whichever face it came through, one audit event."""
    account = coercing.create_account()
    spec = small_spec("dimse-coerced", 1, 1)
    data = without(make_instance(spec), "StudyInstanceUID", "SeriesInstanceUID")
    path = tmp_path / "old.dcm"
    path.write_bytes(data)
    answer = c_store(coercing, account, path)
    assert answer.Status == COERCION_OF_DATA_ELEMENTS
    [found] = instances(coercing, account, spec.sop_uid)
    study, series = found["0020000D"]["Value"][0], found["0020000E"]["Value"][0]
    assert study.startswith("2.25.") and series.startswith("2.25.")
    detail = coerce_details(coercing, account, 1)[0]
    assert study in detail and series in detail and spec.sop_uid in detail

    by_stow = stow(coercing.dicomweb, account.auth, [data])  # the same file, over HTTP
    [item] = stored_items(by_stow.json())
    assert f"/studies/{study}/series/{series}/" in str(item["00081190"]["Value"][0])
    assert len(instances(coercing, account, spec.sop_uid)) == 1
