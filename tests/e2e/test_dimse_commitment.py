"""Storage commitment: N-ACTION, then the N-EVENT-REPORT on the same association (the
modality waits) or on a new one (the modality released), success and failure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.presentation import build_context

from openpacs.index.models import AuditEvent
from tests.support.audit import audit_events
from tests.support.dimse import add_equipment, association, make_image, new_ae_title, store_files
from tests.support.server import ServerProcess, TestAccount, free_port

COMMITMENT = "1.2.840.10008.1.20.1"
WELL_KNOWN = "1.2.840.10008.1.20.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
ROOT = "1.2.826.0.1.3680043.10.1415.97"


@dataclass
class Modality:
    account: TestAccount
    title: str
    port: int
    stored: list[str]


@pytest.fixture(scope="module")
def modality(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Modality]:
    account = server.create_account()
    title, port = new_ae_title("MOD"), free_port()
    add_equipment(server, account, title, host="127.0.0.1", port=port)
    folder = tmp_path_factory.mktemp("commit")
    paths = []
    for n in range(2):
        path = folder / f"{n}.dcm"
        path.write_bytes(
            make_image(
                study=f"{ROOT}.1",
                series=f"{ROOT}.1.1",
                sop=f"{ROOT}.1.1.{n}",
                patient=("Commit^Me", "C1"),
            )
        )
        paths.append(path)
    assert all(a is not None and a.Status == 0 for a in store_files(server, title, paths).values())
    yield Modality(account, title, port, [f"{ROOT}.1.1.0", f"{ROOT}.1.1.1"])


def request(transaction: str, uids: list[str]) -> Dataset:
    ds = Dataset()
    ds.TransactionUID = transaction
    items = []
    for uid in uids:
        item = Dataset()
        item.ReferencedSOPClassUID = CT
        item.ReferencedSOPInstanceUID = uid
        items.append(item)
    ds.ReferencedSOPSequence = items
    return ds


class Reports:
    """N-EVENT-REPORTs received by the modality. ``answered`` is set once the modality's
    response has gone out on the wire: releasing before that would make pynetdicom send the
    response on a released association."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.reports: list[tuple[int, Dataset]] = []

    def handlers(self) -> list[tuple[evt.InterventionEvent | evt.NotificationEvent, Any]]:
        return [(evt.EVT_N_EVENT_REPORT, self._report), (evt.EVT_PDU_SENT, self._sent)]

    def _report(self, event: evt.Event) -> tuple[int, None]:
        self.reports.append((int(event.event_type), event.event_information))
        return 0x0000, None

    def _sent(self, event: evt.Event) -> None:
        if self.reports and isinstance(event.pdu, P_DATA_TF):  # the N-EVENT-REPORT-RSP
            self.answered.set()


def referenced(ds: Dataset, sequence: str) -> list[str]:
    return [str(item.ReferencedSOPInstanceUID) for item in ds.get(sequence, [])]


def test_the_report_comes_on_the_same_association_when_the_modality_waits(
    server: ServerProcess, modality: Modality
) -> None:
    reports = Reports()
    with association(
        server,
        modality.title,
        [build_context(COMMITMENT)],
        evt_handlers=reports.handlers(),
    ) as assoc:
        status, _ = assoc.send_n_action(
            request("2.25.1001", modality.stored), 1, COMMITMENT, WELL_KNOWN
        )
        assert status.Status == 0
        assert reports.answered.wait(20)
    [(event_type, information)] = reports.reports
    assert event_type == 1 and information.TransactionUID == "2.25.1001"
    assert referenced(information, "ReferencedSOPSequence") == modality.stored
    assert "FailedSOPSequence" not in information


def test_the_report_comes_on_a_new_association_when_the_modality_released(
    server: ServerProcess, modality: Modality
) -> None:
    reports = Reports()
    listener = AE(ae_title=modality.title)
    listener.add_supported_context(COMMITMENT, scu_role=False, scp_role=True)
    scp = listener.start_server(
        ("127.0.0.1", modality.port), block=False, evt_handlers=reports.handlers()
    )
    try:
        unknown = f"{ROOT}.404"
        with association(server, modality.title, [build_context(COMMITMENT)]) as assoc:
            status, _ = assoc.send_n_action(
                request("2.25.1002", [*modality.stored, unknown]), 1, COMMITMENT, WELL_KNOWN
            )
            assert status.Status == 0
        assert reports.answered.wait(20)
    finally:
        scp.shutdown()
    [(event_type, information)] = reports.reports
    assert event_type == 2  # some failed
    assert referenced(information, "ReferencedSOPSequence") == modality.stored
    [failed] = information.FailedSOPSequence
    assert (failed.ReferencedSOPInstanceUID, failed.FailureReason) == (unknown, 0x0112)
    events = audit_events(
        server.database_url,
        modality.account.account_uuid,
        AuditEvent.action == "dicom.commit",
        AuditEvent.detail.contains("2.25.1002"),
        count=1,
    )
    assert events and "2 committed, 1 failed; reported on the new association" in events[0][1]


def test_another_accounts_instances_are_not_committed(
    server: ServerProcess, modality: Modality
) -> None:
    other = server.create_account()
    title = new_ae_title("OTHER")
    add_equipment(server, other, title)
    reports = Reports()
    with association(
        server, title, [build_context(COMMITMENT)], evt_handlers=reports.handlers()
    ) as assoc:
        assoc.send_n_action(request("2.25.1003", modality.stored), 1, COMMITMENT, WELL_KNOWN)
        assert reports.answered.wait(20)
    [(event_type, information)] = reports.reports
    assert event_type == 2 and "ReferencedSOPSequence" not in information
    assert [item.FailureReason for item in information.FailedSOPSequence] == [0x0112, 0x0112]


def test_a_request_without_instances_is_refused(server: ServerProcess, modality: Modality) -> None:
    with association(server, modality.title, [build_context(COMMITMENT)]) as assoc:
        status, _ = assoc.send_n_action(request("2.25.1004", []), 1, COMMITMENT, WELL_KNOWN)
    assert status.Status == 0x0115
