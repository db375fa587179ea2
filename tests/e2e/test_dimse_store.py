"""C-STORE into a real server: the corpus as STOW sees it, concurrency, refusals, orders."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import httpx
import pydicom
from bench.dataset import InstanceSpec, make_instance, study_specs
from pydicom.filereader import read_file_meta_info
from sqlalchemy import select

from openpacs.dicom import status
from openpacs.index.models import Account, AuditEvent, Institution, PatientOrder
from openpacs.services import accounts
from tests.e2e.api_client import database
from tests.support.audit import audit_events
from tests.support.dcmtk import run
from tests.support.dimse import add_equipment, new_ae_title, store_files
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import failed_items, referenced_uids, stow


def sendable(path: Path) -> bool:
    """A Part-10 file a modality could send (File Meta with SOP class and syntax)."""
    try:
        meta = read_file_meta_info(path)
    except Exception:
        return False
    return "MediaStorageSOPClassUID" in meta and "TransferSyntaxUID" in meta


def buckets(files: list[Path]) -> list[list[Path]]:
    """The files in groups without a repeated SOP Instance UID (the corpus has copies of
    one image in several transfer syntaxes): one account per group."""
    groups: list[tuple[set[str], list[Path]]] = []
    for path in files:
        uid = str(pydicom.dcmread(path, stop_before_pixels=True, force=True).get("SOPInstanceUID"))
        group = next((g for g in groups if uid not in g[0]), None)
        if group is None:
            group = (set(), [])
            groups.append(group)
        group[0].add(uid)
        group[1].append(path)
    return [g[1] for g in groups]


def stow_outcome(server: ServerProcess, account: TestAccount, path: Path) -> int:
    body = stow(server.dicomweb, account.auth, [path.read_bytes()]).json()
    if referenced_uids(body):
        return 0
    return int(failed_items(body)[0]["00081197"]["Value"][0])  # type: ignore[index]


def dataset_bytes(part10: bytes) -> bytes:
    """A Part-10 file's data set bytes (what follows the File Meta group)."""
    meta_length = int.from_bytes(part10[140:144], "little")  # (0002,0000) UL value
    return part10[144 + meta_length :]


def wado_instance(server: ServerProcess, account: TestAccount, path: Path) -> bytes:
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    url = (
        f"{server.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )
    response = httpx.get(url, auth=account.auth, headers={"Accept": "application/dicom"})
    assert response.status_code == 200, (path.name, response.status_code)
    return response.content


def test_every_file_stow_accepts_is_accepted_and_comes_back_as_sent(
    server: ServerProcess, corpus_dir: Path
) -> None:
    files = [p for p in sorted(corpus_dir.glob("*.dcm")) if sendable(p)]
    compared = 0
    for group in buckets(files):
        by_stow, by_dimse = server.create_account(), server.create_account()
        title = new_ae_title("CORPUS")
        add_equipment(server, by_dimse, title)
        answers = store_files(server, title, group)
        for path in group:
            expected = stow_outcome(server, by_stow, path)
            answer = answers[path]
            if answer is None:  # its SOP class was refused in the negotiation
                assert expected == status.SOP_CLASS_NOT_SUPPORTED, path.name
                continue
            got = int(answer.Status)
            if expected == 0:
                assert got == 0, (path.name, hex(got), answer.get("ErrorComment"))
                stored = wado_instance(server, by_dimse, path)
                assert dataset_bytes(stored) == dataset_bytes(path.read_bytes()), path.name
                meta = pydicom.dcmread(pydicom.filebase.DicomBytesIO(stored)).file_meta
                assert meta.SourceApplicationEntityTitle == title
                compared += 1
            else:
                assert got == expected, (path.name, hex(got), hex(expected))
                assert answer.ErrorComment, path.name
    assert compared >= 25


def test_a_bad_dataset_gets_a_failure_status_and_the_association_goes_on(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    title = new_ae_title("BAD")
    add_equipment(server, account, title)
    bad, good = corpus_dir / "pydicom__badVR.dcm", corpus_dir / "pydicom__CT_small.dcm"
    answers = store_files(server, title, [bad, good])
    refused, stored = answers[bad], answers[good]
    assert refused is not None and refused.Status == status.CANNOT_UNDERSTAND
    assert "Number of Frames" in refused.ErrorComment
    assert stored is not None and stored.Status == 0
    again = store_files(server, title, [good])[good]  # sending it again is idempotent
    assert again is not None and again.Status == 0


def write_instances(folder: Path, specs: list[InstanceSpec]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        path = folder / f"{spec.series_number}-{spec.instance_number:04d}.dcm"
        path.write_bytes(make_instance(spec))
        paths.append(path)
    return paths


def test_four_concurrent_storescu_associations_lose_nothing(
    server: ServerProcess, account: TestAccount, tmp_path: Path
) -> None:
    """One 240-image study sent over 4 associations at once (60 images each): the
    associations race for the same study, series and order rows."""
    title = new_ae_title("CONC")
    add_equipment(server, account, title)
    seed = f"conc-{title}"
    specs = list(study_specs(1, series_per_study=2, instances_per_series=120, seed=seed,
                             rows=64, columns=64))  # fmt: skip
    folders = [tmp_path / f"a{n}" for n in range(4)]
    for n, folder in enumerate(folders):
        write_instances(folder, specs[n::4])

    def send(folder: Path) -> str:
        done = run("storescu", "-aet", title, "-aec", "OPENPACS", "+sd", "127.0.0.1",
                   server.dicom_port, folder)  # fmt: skip
        assert done.returncode == 0, done.stdout
        return done.stdout

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(send, folders))
    study_uid = specs[0].study_uid
    response = httpx.get(
        f"{server.dicomweb}/studies/{study_uid}/instances",
        params={"limit": "1000"},
        auth=account.auth,
    )
    found = {item["00080018"]["Value"][0] for item in response.json()}
    assert found == {spec.sop_uid for spec in specs}
    studies = httpx.get(
        f"{server.dicomweb}/studies", params={"StudyInstanceUID": study_uid}, auth=account.auth
    ).json()
    assert studies[0]["00201208"]["Value"] == [240]  # NumberOfStudyRelatedInstances
    with database(server) as session:
        orders = session.scalars(
            select(PatientOrder).where(PatientOrder.study_instance_uid == study_uid)
        ).all()
    assert len(orders) == 1


def test_a_new_study_gets_its_order_in_the_equipment_institution_and_is_audited(
    server: ServerProcess, account: TestAccount, tmp_path: Path
) -> None:
    with database(server) as session:
        owner = session.scalar(select(Account).where(Account.uuid == account.account_uuid))
        assert owner is not None
        annex = accounts.add_institution(session, owner, "Annex").uuid
    title = new_ae_title("ANNEX")
    add_equipment(server, account, title, institution_uuid=annex)
    specs = list(study_specs(1, instances_per_series=3, seed=title, rows=32, columns=32))
    answers = store_files(server, title, write_instances(tmp_path, specs))
    assert [a.Status if a else None for a in answers.values()] == [0, 0, 0]
    with database(server) as session:
        institution = session.scalar(
            select(Institution.uuid)
            .join(PatientOrder, PatientOrder.institution_id == Institution.id)
            .where(PatientOrder.study_instance_uid == specs[0].study_uid)
        )
    assert institution == annex
    events = audit_events(
        server.database_url, account.account_uuid, AuditEvent.action == "study.store", count=1
    )
    assert events == [("study.store", f"3 instance(s) by C-STORE from {title}")]
