"""What a reader and a user limited to some institutions can see and do, on every face,
on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from bench.dataset import make_instance

from tests.support.access import (
    Staff,
    User,
    add_user,
    api,
    future,
    ok,
    staffed_account,
    upload_study,
)
from tests.support.server import ServerProcess
from tests.support.specs import small_spec
from tests.support.stow import failed_items, stow


@pytest.fixture(scope="module")
def staff(server: ServerProcess) -> Staff:
    return staffed_account(server)


def get(staff: Staff, user: User, path: str, **params: str) -> httpx.Response:
    return httpx.get(staff.server.dicomweb + path, params=params, auth=user.auth, timeout=30)


def order_key(staff: Staff, order_uuid: str) -> dict[str, str]:
    return {
        "PatientOrderInstitutionUuid": staff.institution_uuid,
        "PatientOrderUuid": order_uuid,
    }


def test_a_reader_sees_only_the_orders_assigned_to_them_or_their_group(staff: Staff) -> None:
    admin, reader = staff["admin"], staff["reader"]
    other = upload_study(staff.server, admin.auth)  # assigned to nobody
    by_group = upload_study(staff.server, admin.auth)
    body = {"PatientOrderUuid": by_group.order_uuid, "AssignedUserGroupUuid": staff.group_uuid}
    ok(api(staff.server, admin.auth, "/assignordertousergroup", body))
    mine = {staff.assigned.study_uid, by_group.study_uid}

    studies = get(staff, reader, "/studies", limit="1000").json()
    assert {s["0020000D"]["Value"][0] for s in studies} == mine
    listed = ok(api(staff.server, reader.auth, "/getpatientorderlist"))
    assert listed["TotalCount"] == 2
    assert {o["PatientOrderUuid"] for o in listed["PatientOrderList"]} == {
        staff.assigned.order_uuid,
        by_group.order_uuid,
    }
    for study in (staff.assigned, by_group):
        assert get(staff, reader, f"/studies/{study.study_uid}/metadata").status_code == 200
    # Not theirs: 404 on every face, as for another account's.
    for path in (
        f"/studies/{other.study_uid}",
        f"/studies/{other.study_uid}/metadata",
        f"/studies/{other.study_uid}/series",
        f"/studies/series/{other.series_uid}",
        f"/studies/series/instances/{other.sop_uid}",
        f"/studies/{other.study_uid}/series/{other.series_uid}/instances/{other.sop_uid}/frames/1",
    ):
        assert get(staff, reader, path).status_code in (404, 204), path
    assert get(staff, reader, "/studies", PatientID=other.patient_id).status_code == 204
    for endpoint in ("/getpatientorderproperties", "/getdicomtagcontent"):
        response = api(staff.server, reader.auth, endpoint, order_key(staff, other.order_uuid))
        assert response.status_code == 404, response.text
        assert "no patient order" in response.headers["x-error-reason"]


def test_folders_show_a_reader_only_their_orders(staff: Staff) -> None:
    admin, reader = staff["admin"], staff["reader"]
    other = upload_study(staff.server, admin.auth)
    folder = ok(api(staff.server, admin.auth, "/createfolder", {"FolderName": "Board"}))
    uuid = folder["FolderUuid"]
    for order in (staff.assigned.order_uuid, other.order_uuid):
        body = {"PatientOrderUuid": order, "FolderUuidList": [uuid]}
        ok(api(staff.server, admin.auth, "/addordertofolder", body))
    query = {"FolderName": "Board", "GetOrdersInFolder": True}
    [as_admin] = ok(api(staff.server, admin.auth, "/searchfolder", query))["FolderList"]
    [as_reader] = ok(api(staff.server, reader.auth, "/searchfolder", query))["FolderList"]
    assert as_admin["NumberOfOrders"] == 2
    assert as_reader["NumberOfOrders"] == 1
    assert [o["PatientOrderUuid"] for o in as_reader["PatientOrderList"]] == [
        staff.assigned.order_uuid
    ]


def test_a_reader_is_refused_every_change_with_a_reason(staff: Staff) -> None:
    reader = staff["reader"]
    spec = small_spec("reader-upload", 1, 1)
    response = stow(staff.server.dicomweb, reader.auth, [make_instance(spec)])
    assert response.status_code == 403
    assert "your role (reader) may not upload" in response.headers["x-error-reason"]
    url = f"{staff.server.dicomweb}/studies/{staff.assigned.study_uid}"
    assert httpx.delete(url, auth=reader.auth).status_code == 403
    body = {"OrderUuidList": [staff.assigned.order_uuid], "ExpireDate": future()}
    response = api(staff.server, reader.auth, "/sharepatientorderwithurl", body)
    assert response.status_code == 403


def test_members_revoke_only_the_shares_they_created(staff: Staff) -> None:
    admin, member = staff["admin"], staff["member"]
    body = {"OrderUuidList": [staff.assigned.order_uuid], "ExpireDate": future()}
    admins_share = ok(api(staff.server, admin.auth, "/sharepatientorderwithurl", body))
    members_share = ok(api(staff.server, member.auth, "/sharepatientorderwithurl", body))
    listed = ok(api(staff.server, member.auth, "/getsharelist"))["ShareList"]
    assert {s["ShareUuid"] for s in listed} == {members_share["ShareUuid"]}
    refused = api(
        staff.server, member.auth, "/deleteshare", {"ShareUuid": admins_share["ShareUuid"]}
    )
    assert refused.status_code == 403
    assert "only the share links you created" in refused.headers["x-error-reason"]
    ok(api(staff.server, member.auth, "/deleteshare", {"ShareUuid": members_share["ShareUuid"]}))
    ok(api(staff.server, admin.auth, "/deleteshare", {"ShareUuid": admins_share["ShareUuid"]}))


def _institution(staff: Staff, name: str) -> str:
    from openpacs.index.db import Database
    from openpacs.services import accounts

    db = Database(staff.server.database_url)
    try:
        with db.session() as session:
            account = accounts.find_account(session, staff.account.account_uuid)
            return accounts.add_institution(session, account, name).uuid
    finally:
        db.dispose()


def test_a_user_limited_to_an_institution_sees_and_creates_only_there(staff: Staff) -> None:
    admin = staff["admin"]
    north = _institution(staff, "North")
    limited = add_user(staff.server, staff.account, "member", institutions=[north])
    listed = ok(api(staff.server, limited.auth, "/getinstitutionlist"))["InstitutionList"]
    assert [i["InstitutionUuid"] for i in listed] == [north]

    order = {
        "PatientName": "Limited^Lou",
        "PatientId": "LIM-1",
        "PatientBirthdate": "1960-02-02",
        "Modality": "CT",
    }
    elsewhere = api(
        staff.server,
        limited.auth,
        "/createpatientorder",
        {**order, "InstitutionUuid": staff.institution_uuid},
    )
    assert elsewhere.status_code == 404
    made = ok(
        api(staff.server, limited.auth, "/createpatientorder", {**order, "InstitutionUuid": north})
    )
    assert made["PatientOrderInstitutionUuid"] == north

    # A new study uploaded by them gets its order in their institution ...
    spec = small_spec("limited-new", 1, 1, patient_id="LIM-2")
    assert stow(staff.server.dicomweb, limited.auth, [make_instance(spec)]).status_code == 200
    orders = ok(api(staff.server, limited.auth, "/getpatientorderlist"))["PatientOrderList"]
    assert {o["PatientOrderInstitutionUuid"] for o in orders} == {north}
    assert {o["PatientId"] for o in orders} == {"LIM-1", "LIM-2"}
    # ... an image of a study of another institution is refused, the others' are hidden.
    again = small_spec("x", 1, 2, study_uid=staff.assigned.study_uid)
    refused = stow(staff.server.dicomweb, limited.auth, [make_instance(again)])
    assert refused.status_code == 409
    [failure] = failed_items(refused.json())
    assert failure["00081197"]["Value"] == [0x0124]
    studies = httpx.get(staff.server.dicomweb + "/studies", auth=limited.auth).json()
    assert {s["00100020"]["Value"][0] for s in studies} == {"LIM-2"}
    assert (
        httpx.get(
            f"{staff.server.dicomweb}/studies/{staff.assigned.study_uid}/metadata",
            auth=limited.auth,
        ).status_code
        == 404
    )
    # The admin (no limit) sees both institutions.
    everything = ok(api(staff.server, admin.auth, "/getpatientorderlist"))["PatientOrderList"]
    assert {o["PatientOrderInstitutionUuid"] for o in everything} >= {north, staff.institution_uuid}
    folder = ok(api(staff.server, limited.auth, "/createfolder", {"FolderName": "Lim"}))
    body = {"FolderUuid": folder["FolderUuid"], "ExpireDate": future()}
    refused = api(staff.server, limited.auth, "/sharefolderwithurl", body)
    assert refused.status_code == 403 and "folder share is live" in refused.text
