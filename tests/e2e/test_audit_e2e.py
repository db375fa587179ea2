"""The audit trail records who stored and who read which study."""

from __future__ import annotations

from pathlib import Path

import httpx
import pydicom

from openpacs.index.models import AuditEvent
from openpacs.web.audit import study_read_action
from tests.support.audit import audit_events
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import stow


def test_study_paths_map_to_audit_actions() -> None:
    assert study_read_action("/dicomweb/studies/1.2") == ("study.retrieve", "1.2")
    assert study_read_action("/dicomweb/studies/1.2/metadata") == ("study.metadata", "1.2")
    assert study_read_action("/dicomweb/studies/1.2/series/3/instances/4/frames/1") == (
        "study.view",
        "1.2",
    )
    assert study_read_action("/share/tok/dicomweb/studies/1.2/thumbnail") == ("study.view", "1.2")
    assert study_read_action("/dicomweb/studies/1.2/series") is None  # a search
    assert study_read_action("/dicomweb/studies/series/1.3") is None  # PostDICOM form
    assert study_read_action("/dicomweb/studies") is None


def test_store_and_retrieve_are_recorded_with_the_user(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    path = corpus_dir / "pydicom__CT_small.dcm"
    study = str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
    assert stow(server.dicomweb, account.auth, [path.read_bytes()]).status_code == 200
    assert httpx.get(f"{server.dicomweb}/studies/{study}", auth=account.auth).status_code == 200
    assert (
        httpx.get(f"{server.dicomweb}/studies/{study}/metadata", auth=account.auth).status_code
        == 200
    )
    events = audit_events(
        server.database_url,
        account.account_uuid,
        AuditEvent.study_instance_uid == study,
        count=3,
    )
    actions = sorted(action for action, _detail in events)
    assert actions == ["study.metadata", "study.retrieve", "study.store"]
