"""Associations with the DICOM node of a real server: who may associate, C-ECHO, audit."""

from __future__ import annotations

import pytest

from openpacs.index.models import AuditEvent
from tests.support.audit import audit_events
from tests.support.dcmtk import run
from tests.support.dimse import add_equipment, new_ae_title
from tests.support.server import ServerProcess, TestAccount


def echo(server: ServerProcess, calling: str, called: str = "OPENPACS") -> str:
    done = run("echoscu", "-aet", calling, "-aec", called, "127.0.0.1", server.dicom_port)
    return f"rc={done.returncode}\n{done.stdout}"


def test_a_registered_equipment_echoes_and_the_association_is_audited(
    server: ServerProcess, account: TestAccount
) -> None:
    title = new_ae_title("ECHO")
    add_equipment(server, account, title)
    assert echo(server, title).startswith("rc=0")
    events = audit_events(
        server.database_url, account.account_uuid, AuditEvent.action == "dicom.associate", count=1
    )
    assert events and f"calling AE {title}" in events[0][1]


@pytest.mark.parametrize("called", ["OPENPACS", "SOMEONE"])
def test_an_unknown_calling_ae_title_is_rejected(server: ServerProcess, called: str) -> None:
    answer = echo(server, new_ae_title("NOBODY"), called)
    assert not answer.startswith("rc=0")
    reason = "Called AE Title Not Recognized" if called != "OPENPACS" else "Calling AE Title"
    assert "Association Rejected" in answer and reason in answer


def test_a_known_peer_calling_another_ae_title_is_rejected(
    server: ServerProcess, account: TestAccount
) -> None:
    title = new_ae_title("ECHO")
    add_equipment(server, account, title)
    answer = echo(server, title, "NOT_OPENPACS")
    assert "Called AE Title Not Recognized" in answer
    events = audit_events(
        server.database_url, account.account_uuid, AuditEvent.action == "dicom.reject", count=1
    )
    assert events and "NOT_OPENPACS" in events[0][1] and title in events[0][1]


def test_an_equipment_added_while_the_server_runs_is_known_at_once(
    server: ServerProcess, account: TestAccount
) -> None:
    title = new_ae_title("LATE")
    assert "Calling AE Title Not Recognized" in echo(server, title)
    add_equipment(server, account, title)
    assert echo(server, title).startswith("rc=0")
