"""Patient orders over the custom API: both wire forms, validation, search, isolation."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update

from openpacs.index.models import Account, AuditEvent, PatientOrder
from openpacs.services.accounts import add_equipment, add_group, add_institution, add_user
from openpacs.services.orders import OrderQuery, search_orders
from openpacs.services.principal import Principal
from tests.e2e.api_client import (
    blank_key_is_missing,
    create_order,
    csharp,
    database,
    error,
    ok,
    order_params,
    post,
    required_keys,
)
from tests.support.dimse import new_ae_title
from tests.support.server import ServerProcess, TestAccount

CREATE = "/createpatientorder"
PROPS = "/getpatientorderproperties"
LIST = "/getpatientorderlist"
DELETE = "/deleteorder"


@pytest.fixture(scope="module")
def account(server: ServerProcess) -> TestAccount:
    """One account for this module (per backend): account creation hashes a password, which
    is slow on purpose. Tests use their own identifiers; isolation tests make more accounts."""
    return server.create_account()


def props(server: ServerProcess, account: TestAccount, order: dict[str, Any]) -> httpx.Response:
    return csharp(
        server,
        account,
        PROPS,
        {
            "PatientOrderInstitutionUuid": order["PatientOrderInstitutionUuid"],
            "PatientOrderUuid": order["PatientOrderUuid"],
        },
    )


def search(server: ServerProcess, account: TestAccount, **params: Any) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = ok(post(server, account, LIST, params))["PatientOrderList"]
    return orders


# -- create and read -----------------------------------------------------------------------


def test_create_in_the_csharp_form_and_read_back(
    server: ServerProcess, account: TestAccount
) -> None:
    with database(server) as session:
        account_row = session.scalar(select(Account).where(Account.uuid == account.account_uuid))
        assert account_row is not None
        ct = add_equipment(
            session,
            account.institution_uuid,
            name="CT room 1",
            modality="CT",
            ae_title=new_ae_title("CT"),  # unique on the server (it decides the account)
        )
        equipment_uuid = ct.uuid
    params = {
        "InstitutionUuid": account.institution_uuid,
        "PatientName": "Müller^Jörg",
        "PatientId": "PAT-001",
        "PatientBirthdate": "1961-02-28",
        "Modality": "ct",
        "OtherPatientId": "NL-123",
        "PatientSex": "m",
        "StudyDescription": "CT thorax",
        "AccessionNumber": "ACC-CS-1",
        "PatientComplaints": "Kortademig sinds\ntwee weken",
        "OrderScheduledDatetime": "2025-03-01 14:30",
        "RequestedProcedureId": "RP1",
        "RequestedProcedureDescription": "Thorax met contrast",
        "RequestingPhysician": "Jansen^Piet",
        "ReferringPhysiciansName": "De Vries^Anna",
        "ScheduledEquipmentUuid": equipment_uuid,
    }
    created = ok(csharp(server, account, CREATE, params))
    assert created["OrderStatus"] == "Scheduled"
    assert created["PatientOrderInstitutionUuid"] == account.institution_uuid
    assert created["StudyInstanceUID"].startswith("2.25.")
    assert len(created["StudyInstanceUID"]) <= 64
    assert created["AccessionNumber"] == "ACC-CS-1"

    got = ok(props(server, account, created))
    assert got == created
    expected = {
        "PatientName": "Müller^Jörg",
        "PatientId": "PAT-001",
        "PatientBirthdate": "1961-02-28",
        "Modality": "CT",
        "OtherPatientId": "NL-123",
        "PatientSex": "M",
        "StudyDescription": "CT thorax",
        "PatientComplaints": "Kortademig sinds\ntwee weken",
        "OrderScheduledDatetime": "2025-03-01 14:30",
        "RequestedProcedureId": "RP1",
        "RequestedProcedureDescription": "Thorax met contrast",
        "RequestingPhysician": "Jansen^Piet",
        "ReferringPhysiciansName": "De Vries^Anna",
        "ScheduledEquipmentUuid": equipment_uuid,
        "AssignedUserUuid": "",
        "AssignedUserGroupUuid": "",
        "FolderList": [],
        "SeriesList": [],
        "NumberOfSeries": 0,
        "NumberOfInstances": 0,
        "StudyDate": "",
    }
    assert {key: got[key] for key in expected} == expected
    assert got["CreatedAt"].endswith("+00:00")

    with database(server) as session:
        row = session.scalar(
            select(PatientOrder).where(PatientOrder.uuid == created["PatientOrderUuid"])
        )
        assert row is not None
        assert row.patient_name_norm == "MULLER^JORG"
        audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.create"))
        assert audit is not None


def test_create_in_the_post_form(server: ServerProcess, account: TestAccount) -> None:
    created = create_order(
        server,
        account,
        PatientName="山田^太郎",
        PatientSex="F",
        StudyInstanceUID="1.2.826.0.1.3680043.10.1415.77",
    )
    assert created["StudyInstanceUID"] == "1.2.826.0.1.3680043.10.1415.77"
    assert created["PatientName"] == "山田^太郎"
    # The same known UID twice is a conflict, as is an accession number used before.
    error(
        post(
            server,
            account,
            CREATE,
            order_params(account, StudyInstanceUID="1.2.826.0.1.3680043.10.1415.77"),
        ),
        409,
        "StudyInstanceUID",
    )
    create_order(server, account, AccessionNumber="DUP-1")
    error(post(server, account, CREATE, order_params(account, AccessionNumber="DUP-1")), 409)


@pytest.mark.parametrize("ascii_only", [False, True], ids=["utf8-header", "u-escapes"])
@pytest.mark.parametrize("name", ["Müller^Jörg", "山田^太郎", "Ødegård^Åse"])
def test_non_ascii_names_in_headers(
    server: ServerProcess, account: TestAccount, name: str, ascii_only: bool
) -> None:
    patient_id = f"NA-{len(name)}-{ascii_only}-{name.encode().hex()[:12]}"
    params = order_params(account, PatientName=name, PatientId=patient_id)
    created = ok(csharp(server, account, CREATE, params, ascii_only=ascii_only))
    assert created["PatientName"] == name
    query = {"PatientName": name, "PatientId": patient_id}
    found = ok(csharp(server, account, LIST, query, ascii_only=ascii_only))
    assert [o["PatientOrderUuid"] for o in found["PatientOrderList"]] == [
        created["PatientOrderUuid"]
    ]


def test_institution_and_equipment_must_be_the_accounts(
    server: ServerProcess, account: TestAccount
) -> None:
    other = server.create_account()
    error(
        post(
            server, account, CREATE, order_params(account, InstitutionUuid=other.institution_uuid)
        ),
        404,
        "InstitutionUuid",
    )
    with database(server) as session:
        other_equipment = add_equipment(session, other.institution_uuid, name="MR", modality="MR")
        equipment_uuid = other_equipment.uuid
    error(
        post(server, account, CREATE, order_params(account, ScheduledEquipmentUuid=equipment_uuid)),
        404,
        "equipment",
    )


# -- validation ----------------------------------------------------------------------------

REQUIRED = required_keys(CREATE, PROPS, DELETE, "/getdicomtagcontent")


@pytest.mark.parametrize(("path", "key"), REQUIRED)
def test_each_required_key_missing(
    server: ServerProcess, account: TestAccount, path: str, key: str
) -> None:
    params: dict[str, Any] = {
        **order_params(account),
        "PatientOrderInstitutionUuid": account.institution_uuid,
        "PatientOrderUuid": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
    }
    params = blank_key_is_missing(server, account, path, params, key)
    del params[key]
    error(post(server, account, path, params), 400, key, "missing")


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        (CREATE, {"PatientName": ["Doe"]}, "PatientName"),
        (CREATE, {"PatientId": 42}, "PatientId"),
        (CREATE, {"PatientBirthdate": "1970-02-31"}, "PatientBirthdate"),
        (CREATE, {"PatientBirthdate": "17-05-1970"}, "PatientBirthdate"),
        (CREATE, {"OrderScheduledDatetime": "2025-03-01T25:00"}, "OrderScheduledDatetime"),
        (CREATE, {"InstitutionUuid": "not-a-uuid"}, "InstitutionUuid"),
        (CREATE, {"PatientSex": "Q"}, "PatientSex"),
        (CREATE, {"Modality": "C T"}, "Modality"),
        (CREATE, {"Unknown": "x"}, "Unknown"),
        (CREATE, {"patientname": "x"}, "patientname"),
        (LIST, {"Limit": "lots"}, "Limit"),
        (LIST, {"Limit": 0}, "Limit"),
        (LIST, {"StudyDateFrom": "2020/01/01"}, "StudyDateFrom"),
        (LIST, {"ModalityList": {"CT": 1}}, "ModalityList"),
        (LIST, {"InstitutionUuidList": '["x"]'}, "InstitutionUuidList"),
    ],
)
def test_wrong_values(
    server: ServerProcess, account: TestAccount, path: str, body: dict[str, Any], key: str
) -> None:
    params = {**order_params(account), **body} if path == CREATE else body
    error(post(server, account, path, params), 400, key)


def test_header_that_is_not_json(server: ServerProcess, account: TestAccount) -> None:
    response = httpx.get(
        server.dicomweb + LIST,
        headers={"GetPatientOrderListParameters": "{oops"},
        auth=account.auth,
    )
    error(response, 400, "GetPatientOrderListParameters", "JSON")


def test_header_missing_for_an_endpoint_with_required_keys(
    server: ServerProcess, account: TestAccount
) -> None:
    error(
        httpx.get(server.dicomweb + PROPS, auth=account.auth),
        400,
        "GetPatientOrderPropertiesParameters",
    )


def test_authentication_is_required(server: ServerProcess) -> None:
    error(httpx.get(server.dicomweb + LIST), 401)


# -- wire tolerance ------------------------------------------------------------------------


def test_node_style_get_with_json_content_type_and_double_slash(
    server: ServerProcess, account: TestAccount
) -> None:
    created = create_order(server, account, PatientId="NODE-1")
    response = httpx.get(
        server.dicomweb + "//getpatientorderlist",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/plain, */*",
            "GetPatientOrderListParameters": json.dumps({"PatientId": "NODE-1"}),
        },
        auth=account.auth,
    )
    assert [o["PatientOrderUuid"] for o in ok(response)["PatientOrderList"]] == [
        created["PatientOrderUuid"]
    ]


def test_post_with_the_header_and_no_body(server: ServerProcess, account: TestAccount) -> None:
    created = create_order(server, account, PatientId="HDR-POST")
    response = httpx.post(
        server.dicomweb + LIST,
        headers={"GetPatientOrderListParameters": json.dumps({"PatientId": "HDR-POST"})},
        auth=account.auth,
    )
    assert ok(response)["PatientOrderList"][0]["PatientOrderUuid"] == created["PatientOrderUuid"]


def test_a_64_kib_header_is_accepted(server: ServerProcess, account: TestAccount) -> None:
    created = create_order(server, account, PatientId="BIG-HEADER")
    ids = [account.institution_uuid] * 1500
    value = json.dumps({"InstitutionUuidList": json.dumps(ids), "PatientId": "BIG-HEADER"})
    assert 50_000 < len(value) <= 64 * 1024
    response = httpx.get(
        server.dicomweb + LIST, headers={"GetPatientOrderListParameters": value}, auth=account.auth
    )
    assert ok(response)["PatientOrderList"][0]["PatientOrderUuid"] == created["PatientOrderUuid"]


# -- search --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searchable(server: ServerProcess) -> tuple[TestAccount, dict[str, str]]:
    """One account with a small, varied set of orders (created oldest to newest)."""
    account = server.create_account()
    with database(server) as session:
        acct = session.scalar(select(Account).where(Account.uuid == account.account_uuid))
        assert acct is not None
        second = add_institution(session, acct, "Second site").uuid
    rows = [
        ("a", account.institution_uuid, "Müller^Jörg", "P1", "O1", "ACC-1", "CT", "1950-01-01"),
        ("b", account.institution_uuid, "MULLER^Anna", "P2", "", "ACC-2", "MR", "1960-06-15"),
        ("c", second, "Smith^John", "P3", "O3", "ACC-3", "US", "1970-12-31"),
        ("d", second, "Mullerová^Eva", "P1", "", "XYZ-4", "CT", "1980-03-03"),
        ("e", account.institution_uuid, "山田^太郎", "P5", "", "", "MR", "1990-07-07"),
    ]
    uuids: dict[str, str] = {}
    for label, institution, name, pid, other, accession, modality, birth in rows:
        uuids[label] = create_order(
            server,
            account,
            InstitutionUuid=institution,
            PatientName=name,
            PatientId=pid,
            OtherPatientId=other,
            AccessionNumber=accession,
            Modality=modality,
            PatientBirthdate=birth,
        )["PatientOrderUuid"]
    uuids["second"] = second
    return account, uuids


def labels(found: list[dict[str, Any]], uuids: dict[str, str]) -> list[str]:
    by_uuid = {v: k for k, v in uuids.items()}
    return [by_uuid[o["PatientOrderUuid"]] for o in found]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["e", "d", "c", "b", "a"]),  # newest first
        ({"PatientName": "muller"}, ["d", "b", "a"]),  # prefix, case and accents ignored
        ({"PatientName": "Müller^J*"}, ["a"]),
        ({"PatientName": "*anna"}, ["b"]),
        ({"PatientName": "M?LLER^*"}, ["b", "a"]),
        ({"PatientName": "山田"}, ["e"]),
        ({"PatientName": "nobody"}, []),
        ({"PatientId": "P1"}, ["d", "a"]),
        ({"PatientId": "p1"}, []),  # identifiers are exact
        ({"PatientId": "P*"}, ["e", "d", "c", "b", "a"]),
        ({"PatientId": "p*"}, []),
        ({"OtherPatientId": "O3"}, ["c"]),
        ({"AccessionNumber": "ACC-?"}, ["c", "b", "a"]),
        ({"AccessionNumber": "XYZ-4"}, ["d"]),
        ({"ModalityList": ["MR", " ct"]}, ["e", "d", "b", "a"]),
        ({"ModalityList": '["US"]'}, ["c"]),
        ({"ModalityList": '[""]'}, ["e", "d", "c", "b", "a"]),
        ({"PatientBirthdateFrom": "1960-06-15"}, ["e", "d", "c", "b"]),
        ({"PatientBirthdateTo": "1960-06-15"}, ["b", "a"]),
        ({"PatientBirthdateFrom": "1960-01-01", "PatientBirthdateTo": "1975-01-01"}, ["c", "b"]),
        ({"StudyDateFrom": "2000-01-01"}, []),  # no images yet: no study date
        ({"PatientName": "muller", "PatientId": "P1"}, ["d", "a"]),
        ({"Limit": 2}, ["e", "d"]),
        ({"Limit": "2", "Offset": "2"}, ["c", "b"]),
        ({"Offset": 4}, ["a"]),
    ],
)
def test_search_filters(
    server: ServerProcess,
    searchable: tuple[TestAccount, dict[str, str]],
    params: dict[str, Any],
    expected: list[str],
) -> None:
    account, uuids = searchable
    response = ok(post(server, account, LIST, params))
    assert labels(response["PatientOrderList"], uuids) == expected
    if "Limit" not in params and "Offset" not in params:
        assert response["TotalCount"] == len(expected)
    else:
        assert response["TotalCount"] == 5


def test_search_by_institution_in_both_forms(
    server: ServerProcess, searchable: tuple[TestAccount, dict[str, str]]
) -> None:
    account, uuids = searchable
    by_get = ok(csharp(server, account, LIST, {"InstitutionUuidList": [uuids["second"]]}))
    assert labels(by_get["PatientOrderList"], uuids) == ["d", "c"]
    by_post = ok(post(server, account, LIST, {"InstitutionUuidList": [account.institution_uuid]}))
    assert labels(by_post["PatientOrderList"], uuids) == ["e", "b", "a"]
    error(
        post(
            server,
            account,
            LIST,
            {"InstitutionUuidList": [server.create_account().institution_uuid]},
        ),
        404,
        "InstitutionUuidList",
    )


def test_csharp_search_with_every_key_sent(
    server: ServerProcess, searchable: tuple[TestAccount, dict[str, str]]
) -> None:
    account, uuids = searchable
    found = ok(
        csharp(server, account, LIST, {"ModalityList": ["MR", " CT"], "PatientName": "MULLER"})
    )
    assert labels(found["PatientOrderList"], uuids) == ["d", "b", "a"]
    summary = found["PatientOrderList"][0]
    expected_keys = {
        "PatientOrderUuid",
        "PatientOrderInstitutionUuid",
        "OrderStatus",
        "StudyInstanceUID",
        "PatientName",
        "PatientId",
        "Modality",
        "NumberOfInstances",
        "CreatedAt",
    }
    assert expected_keys <= set(summary)


def test_search_by_assignment(server: ServerProcess, account: TestAccount) -> None:
    first = create_order(server, account, PatientId="AS-1")
    create_order(server, account, PatientId="AS-2")
    with database(server) as session:
        acct = session.scalar(select(Account).where(Account.uuid == account.account_uuid))
        assert acct is not None
        user = add_user(session, acct, email=f"r-{account.email}", password="pw-radiologist")
        group = add_group(session, acct, "Radiologists")
        session.execute(
            update(PatientOrder)
            .where(PatientOrder.uuid == first["PatientOrderUuid"])
            .values(assigned_user_id=user.id, assigned_group_id=group.id)
        )
        user_uuid, group_uuid = user.uuid, group.uuid
    for key, value in (("AssignedUserUuid", user_uuid), ("AssignedUserGroupUuid", group_uuid)):
        found = search(server, account, **{key: value})
        assert [o["PatientOrderUuid"] for o in found] == [first["PatientOrderUuid"]]
        assert found[0][key] == value
    got = ok(props(server, account, first))
    assert (got["AssignedUserUuid"], got["AssignedUserGroupUuid"]) == (user_uuid, group_uuid)


# -- isolation and scope -------------------------------------------------------------------


def test_accounts_are_isolated(server: ServerProcess, account: TestAccount) -> None:
    mine = create_order(server, account, PatientId="ISO-1")
    other = server.create_account()
    theirs = {
        "PatientOrderInstitutionUuid": mine["PatientOrderInstitutionUuid"],
        "PatientOrderUuid": mine["PatientOrderUuid"],
    }
    error(csharp(server, other, PROPS, theirs), 404)
    error(csharp(server, other, DELETE, theirs), 404)
    error(csharp(server, other, "/getdicomtagcontent", theirs), 404)
    assert search(server, other, PatientId="ISO-1") == []
    assert ok(props(server, account, mine))["PatientOrderUuid"] == mine["PatientOrderUuid"]


def test_the_institution_must_match_the_order(server: ServerProcess, account: TestAccount) -> None:
    order = create_order(server, account)
    with database(server) as session:
        acct = session.scalar(select(Account).where(Account.uuid == account.account_uuid))
        assert acct is not None
        elsewhere = add_institution(session, acct, "Elsewhere").uuid
    wrong = {
        "PatientOrderInstitutionUuid": elsewhere,
        "PatientOrderUuid": order["PatientOrderUuid"],
    }
    error(csharp(server, account, PROPS, wrong), 404, "no patient order")
    error(post(server, account, DELETE, wrong), 404)


# -- delete --------------------------------------------------------------------------------


def test_delete_in_both_forms(server: ServerProcess, account: TestAccount) -> None:
    for send in (csharp, post):
        order = create_order(server, account)
        key = {
            "PatientOrderInstitutionUuid": order["PatientOrderInstitutionUuid"],
            "PatientOrderUuid": order["PatientOrderUuid"],
        }
        deleted = ok(send(server, account, DELETE, key))
        assert deleted == {
            "PatientOrderUuid": order["PatientOrderUuid"],
            "DeletedSeries": 0,
            "DeletedInstances": 0,
        }
        error(send(server, account, PROPS, key), 404)
        error(send(server, account, DELETE, key), 404)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (OrderQuery(patient_id="P1"), "ix_order_account_patient_id"),
        (OrderQuery(accession_number="ACC-1"), "ix_order_account_accession"),
        (OrderQuery(patient_name="mull"), "ix_order_account_name"),
        (OrderQuery(study_date_from=date(2020, 1, 1)), "ix_order_account_study_date"),
        (OrderQuery(limit=50), "ix_order_account_created"),
    ],
)
def test_searches_use_the_indexes(
    server: ServerProcess,
    searchable: tuple[TestAccount, dict[str, str]],
    query: OrderQuery,
    index: str,
) -> None:
    """The page query of each search is served by the filter's index (SQLite plans)."""
    if not server.database_url.startswith("sqlite"):
        pytest.skip("plans checked on SQLite only: PostgreSQL plans from table statistics")
    account, _ = searchable
    with database(server) as session:
        account_id = session.scalars(
            select(Account.id).where(Account.uuid == account.account_uuid)
        ).one()
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if statement.lstrip().startswith("SELECT") and "LIMIT" in statement:
                statements.append((statement, params))

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            search_orders(session, Principal(account_id=account_id), query)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        statement, params = statements[0]
        plan = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
        details = " / ".join(str(row[-1]) for row in plan)
    assert f"INDEX {index} " in details, details
