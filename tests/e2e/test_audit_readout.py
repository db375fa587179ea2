"""Reading the audit trail (admins only, the command line and ``/getauditlog``), and no
event of an answered request lost when the server is killed right after answering."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.access import Staff, api, ok, staffed_account, upload_study
from tests.support.cli import run_cli
from tests.support.postgres import temporary_database
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def staff(server: ServerProcess) -> Staff:
    return staffed_account(server)


def audit(staff: Staff, **filters: object) -> list[dict[str, str]]:
    response = api(staff.server, staff["admin"].auth, "/getauditlog", dict(filters))
    events: list[dict[str, str]] = ok(response)["AuditEventList"]
    return events


def test_who_read_which_patients_study_from_where_and_how_it_ended(staff: Staff) -> None:
    reader, study = staff["reader"], staff.assigned
    base = staff.server.dicomweb
    assert httpx.get(f"{base}/studies/{study.study_uid}/metadata", auth=reader.auth).is_success
    series = f"{base}/studies/series/{study.series_uid}"  # PostDICOM form: no study in it
    assert httpx.get(series, auth=reader.auth).is_success
    hidden = upload_study(staff.server, staff["admin"].auth)
    assert httpx.get(f"{base}/studies/{hidden.study_uid}", auth=reader.auth).status_code == 404

    events = audit(staff, User=reader.email, Action="study.*")
    got = [(e["Action"], e["Outcome"], e["PatientId"], e["StudyInstanceUID"]) for e in events]
    assert got == [
        ("study.retrieve", "failure", hidden.patient_id, hidden.study_uid),
        ("study.retrieve", "success", study.patient_id, study.study_uid),
        ("study.metadata", "success", study.patient_id, study.study_uid),
    ]
    newest = events[0]
    assert newest["UserEmail"] == reader.email and newest["UserUuid"] == reader.user_uuid
    assert newest["ClientAddress"] == "127.0.0.1" and newest["Detail"].startswith("404 ")
    assert newest["EventTime"].endswith("+00:00")
    by_patient = audit(staff, PatientId=study.patient_id)
    assert {e["Action"] for e in by_patient} >= {"study.store", "order.assign", "study.metadata"}
    assert all(e["PatientId"] == study.patient_id for e in by_patient)
    by_study = audit(staff, StudyInstanceUID=hidden.study_uid, Outcome="success")
    assert [e["Action"] for e in by_study] == ["study.store"]
    assert audit(staff, DateFrom="2001-01-01", DateTo="2001-12-31") == []
    page = ok(api(staff.server, staff["admin"].auth, "/getauditlog", {"Limit": 1}))
    assert len(page["AuditEventList"]) == 1 and page["More"] is True


def test_refused_custom_api_calls_are_recorded_as_failures(staff: Staff) -> None:
    member = staff["member"]
    body = {
        "PatientOrderInstitutionUuid": staff.institution_uuid,
        "PatientOrderUuid": staff.assigned.order_uuid,
    }
    assert api(staff.server, member.auth, "/deleteorder", body).status_code == 403
    [event] = audit(staff, User=member.user_uuid, Action="order.delete")
    assert event["Outcome"] == "failure"
    assert event["Detail"].startswith("403 your role (member) may not delete")


def test_a_refused_sign_in_of_a_known_user_is_recorded(staff: Staff) -> None:
    member = staff["member"]
    wrong = (member.email, "not the password")
    assert httpx.get(staff.server.dicomweb + "/studies", auth=wrong).status_code == 401
    [event] = audit(staff, User=member.email, Action="login")
    assert (event["Outcome"], event["Detail"]) == ("failure", "wrong e-mail or password")
    assert event["ClientAddress"] == "127.0.0.1"


def test_only_admins_read_the_trail(staff: Staff) -> None:
    for role in ("member", "reader"):
        response = api(staff.server, staff[role].auth, "/getauditlog")
        assert response.status_code == 403
        assert "may not read the audit trail" in response.headers["x-error-reason"]


def test_the_audit_command_in_a_table_csv_and_json(staff: Staff) -> None:
    admin = staff["admin"]
    patient = staff.assigned.patient_id
    env = {
        "OPENPACS_URL": staff.server.dicomweb,
        "OPENPACS_USER": admin.email,
        "OPENPACS_PASSWORD": admin.password,
        "OPENPACS_TOKEN": None,
    }
    table = run_cli("audit", "--patient-id", patient, "--days", "1", env={**env, "COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert "study.store" in table.stdout and patient in table.stdout
    done = run_cli("audit", "--patient-id", patient, "--csv", env=env)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert rows and {row["PatientId"] for row in rows} == {patient}
    assert set(rows[0]) >= {"EventTime", "UserEmail", "ClientAddress", "Action", "Outcome"}
    done = run_cli("audit", "--by", admin.email, "--action", "study.store", "--json", env=env)
    events = json.loads(done.stdout)
    assert events and {e["Action"] for e in events} == {"study.store"}
    few = run_cli("audit", "--limit", "1", env=env)
    assert "More events: use --offset 1 or --all." in few.stderr
    everything = run_cli("audit", "--all", "--json", env=env)
    one_page = run_cli("audit", "--limit", "10000", "--json", env=env)
    assert len(json.loads(everything.stdout)) == len(json.loads(one_page.stdout)) >= 2
    refused = run_cli(
        "audit",
        env={
            **env,
            "OPENPACS_USER": staff["reader"].email,
            "OPENPACS_PASSWORD": staff["reader"].password,
        },
    )
    assert refused.returncode == 1 and "403" in refused.stderr


# -- killed right after answering --------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def killable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own (it is killed), on each index backend."""
    if request.param == "sqlite":
        yield ServerProcess(tmp_path).start()
        return
    with temporary_database() as url:
        process = ServerProcess(tmp_path, database_url=url).start()
        yield process
        process.stop()


def test_events_of_answered_requests_survive_a_kill_9(killable: ServerProcess) -> None:
    staff = staffed_account(killable)
    reader, study = staff["reader"], staff.assigned
    url = f"{killable.dicomweb}/studies/{study.study_uid}"
    for suffix in ("/metadata", "", "/metadata"):
        assert httpx.get(url + suffix, auth=reader.auth).status_code == 200
    assert killable.process is not None
    killable.process.kill()  # SIGKILL at once: the batch of the last second is not written
    killable.process.wait(10)
    journals = list((killable.data_dir / "audit").glob("*.jsonl"))
    assert journals, "the events were journaled before the answers"
    killable.start()
    try:
        events = audit(staff, User=reader.email, Action="study.*")
        assert [e["Action"] for e in events] == [
            "study.metadata",
            "study.retrieve",
            "study.metadata",
        ]
        assert {e["PatientId"] for e in events} == {study.patient_id}
        assert not [p for p in journals if p.exists()], "the dead journal was replayed"
    finally:
        killable.stop()
