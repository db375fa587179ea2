"""The modality worklist: API-created orders found with findscu -W, matched as QIDO
matches, and left once images made from them have arrived (and joined them)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from tests.e2e.api_client import create_order, ok, post
from tests.support.dcmtk import run
from tests.support.dimse import add_equipment, find, make_image, new_ae_title, store_files
from tests.support.server import ServerProcess, TestAccount

WORKLIST = "1.2.840.10008.5.1.4.31"


def findscu_worklist(server: ServerProcess, title: str, folder: Path, *pairs: str) -> list[Dataset]:
    """findscu -W with these keys; the answers it wrote."""
    folder.mkdir(exist_ok=True)
    for old in folder.glob("rsp*.dcm"):
        old.unlink()
    keys = [arg for pair in pairs for arg in ("-k", pair)]
    done = run("findscu", "-W", "-aet", title, "-aec", "OPENPACS", "127.0.0.1",
               server.dicom_port, "-X", "-od", folder, *keys)  # fmt: skip
    assert done.returncode == 0, done.stdout
    return [pydicom.dcmread(path) for path in sorted(folder.glob("rsp*.dcm"))]


SPS = "ScheduledProcedureStepSequence[0]"


def test_an_api_order_is_a_worklist_item_until_its_images_arrive(
    server: ServerProcess, account: TestAccount, tmp_path: Path
) -> None:
    station = new_ae_title("CT")
    equipment = add_equipment(server, account, station, modality="CT")
    accession = f"WL-{uuid.uuid4().hex[:8]}"
    order = create_order(
        server, account, PatientName="Müller^Jörg", PatientId="WL-P1", Modality="CT",
        AccessionNumber=accession, ScheduledEquipmentUuid=equipment,
        OrderScheduledDatetime="2026-03-04 08:15", RequestedProcedureId="RP-1",
        RequestedProcedureDescription="CT head",
    )  # fmt: skip
    study_uid = order["StudyInstanceUID"]
    assert study_uid.startswith("2.25.")  # given when the order was made
    properties = ok(post(server, account, "/getpatientorderproperties",
                         {"PatientOrderUuid": order["PatientOrderUuid"],
                          "PatientOrderInstitutionUuid": account.institution_uuid}))  # fmt: skip
    assert properties["StudyInstanceUID"] == study_uid

    asked = ("SpecificCharacterSet=ISO_IR 192", "PatientName=müll*", "PatientID",
             "PatientBirthDate", "AccessionNumber", "StudyInstanceUID", "RequestedProcedureID",
             "RequestedProcedureDescription",
             f"{SPS}.Modality=CT", f"{SPS}.ScheduledStationAETitle={station}",
             f"{SPS}.ScheduledProcedureStepStartDate=20260301-20260331",
             f"{SPS}.ScheduledProcedureStepStartTime")  # fmt: skip
    [item] = findscu_worklist(server, station, tmp_path / "a", *asked)
    assert (item.PatientName, item.PatientID, item.AccessionNumber) == (
        "Müller^Jörg", "WL-P1", accession,
    )  # fmt: skip
    assert item.StudyInstanceUID == study_uid and item.RequestedProcedureID == "RP-1"
    assert item.RequestedProcedureDescription == "CT head"
    [step] = item.ScheduledProcedureStepSequence
    assert (step.Modality, step.ScheduledStationAETitle) == ("CT", station)
    assert (step.ScheduledProcedureStepStartDate, step.ScheduledProcedureStepStartTime) == (
        "20260304",
        "0815",
    )
    for miss in (f"{SPS}.Modality=MR", f"{SPS}.ScheduledStationAETitle=OTHER",
                 f"{SPS}.ScheduledProcedureStepStartDate=20260401-"):  # fmt: skip
        assert findscu_worklist(server, station, tmp_path / "b", "PatientID=WL-P1", miss) == []

    # The modality makes images from the item: they carry its Study Instance UID.
    image = tmp_path / "image.dcm"
    image.write_bytes(make_image(study=study_uid, series=f"{study_uid}.1",
                                 sop=f"{study_uid}.1.1", patient=("Müller^Jörg", "WL-P1"),
                                 accession=accession))  # fmt: skip
    answer = store_files(server, station, [image])[image]
    assert answer is not None and answer.Status == 0
    properties = ok(post(server, account, "/getpatientorderproperties",
                         {"PatientOrderUuid": order["PatientOrderUuid"],
                          "PatientOrderInstitutionUuid": account.institution_uuid}))  # fmt: skip
    assert properties["OrderStatus"] == "ImagesReceived" and properties["NumberOfInstances"] == 1
    assert findscu_worklist(server, station, tmp_path / "c", "PatientID=WL-P1") == []


def test_the_worklist_is_the_callers_account_only(
    server: ServerProcess, account: TestAccount
) -> None:
    create_order(server, account, PatientId="WL-MINE", Modality="MR")
    mine, theirs = new_ae_title("MR"), new_ae_title("MR")
    add_equipment(server, account, mine)
    add_equipment(server, server.create_account(), theirs)
    identifier = Dataset()
    identifier.PatientID = "WL-MINE"
    identifier.PatientName = ""
    step = Dataset()
    step.Modality = ""
    identifier.ScheduledProcedureStepSequence = [step]
    statuses, found = find(server, mine, WORKLIST, identifier)
    assert [ds.PatientID for ds in found] == ["WL-MINE"] and statuses[-1] == 0
    assert found[0].ScheduledProcedureStepSequence[0].Modality == "MR"
    assert find(server, theirs, WORKLIST, identifier)[1] == []


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
@pytest.mark.parametrize(
    ("key", "value", "status"),
    [("PatientAge", "045Y", 0xFF01), ("PatientBirthDate", "1970", 0xA900)],
)
def test_unsupported_and_invalid_keys(
    server: ServerProcess, account: TestAccount, key: str, value: str, status: int
) -> None:
    title = new_ae_title("US")
    add_equipment(server, account, title)
    create_order(server, account, PatientId="WL-KEYS", Modality="US")
    identifier = Dataset()
    identifier.PatientID = "WL-KEYS"
    setattr(identifier, key, value)
    statuses, _ = find(server, title, WORKLIST, identifier)
    assert statuses[0] == status
