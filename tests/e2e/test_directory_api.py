"""Discovery lists (institutions, users, groups, equipment) and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from openpacs.index.models import Account
from openpacs.protocol.custom_params import ENDPOINTS
from openpacs.services.accounts import (
    add_equipment,
    add_group,
    add_institution,
    add_to_group,
    add_user,
)
from tests.e2e.api_client import create_order, csharp, database, error, ok, post
from tests.support.dimse import new_ae_title
from tests.support.server import ServerProcess, TestAccount


@pytest.fixture(scope="module")
def populated(server: ServerProcess) -> tuple[TestAccount, dict[str, str]]:
    account = server.create_account()
    with database(server) as session:
        acct = session.scalar(select(Account).where(Account.uuid == account.account_uuid))
        assert acct is not None
        site = add_institution(session, acct, "Annex")
        user = add_user(
            session,
            acct,
            email=f"reader-{account.email}",
            password="pw-reader",
            display_name="Dr. Ölund",
        )
        group = add_group(session, acct, "Neuro")
        add_to_group(session, group.uuid, user.email)
        # AE titles name one equipment on the whole server: a fresh one per run.
        title = new_ae_title("CT")
        ct = add_equipment(
            session,
            site.uuid,
            name="CT 2",
            modality="ct",
            ae_title=title,
            host="ct2.local",
            port=104,
        )
        uuids = {"site": site.uuid, "user": user.uuid, "group": group.uuid, "ct": ct.uuid}
        uuids["ct_title"] = title
    # Another account's objects never show up.
    other = server.create_account()
    with database(server) as session:
        add_equipment(session, other.institution_uuid, name="Other CT", modality="CT")
    return account, uuids


@pytest.mark.parametrize("form", ["get", "post"])
def test_discovery_lists(
    server: ServerProcess, populated: tuple[TestAccount, dict[str, str]], form: str
) -> None:
    account, uuids = populated

    def call(path: str) -> dict[str, Any]:
        if form == "get":
            return ok(csharp(server, account, path))
        return ok(post(server, account, path, {}))

    institutions = call("/getinstitutionlist")["InstitutionList"]
    assert {i["InstitutionUuid"] for i in institutions} == {account.institution_uuid, uuids["site"]}
    annex = next(i for i in institutions if i["InstitutionUuid"] == uuids["site"])
    assert annex == {
        "InstitutionUuid": uuids["site"],
        "InstitutionName": "Annex",
        "IsDefault": False,
    }

    users = call("/getuserlist")["UserList"]
    assert {u["UserUuid"] for u in users} == {account.user_uuid, uuids["user"]}
    admin = next(u for u in users if u["UserUuid"] == account.user_uuid)
    assert (admin["Email"], admin["Role"]) == (account.email, "admin")
    reader = next(u for u in users if u["UserUuid"] == uuids["user"])
    assert (reader["DisplayName"], reader["Role"]) == ("Dr. Ölund", "member")

    groups = call("/getusergrouplist")["UserGroupList"]
    assert groups == [
        {"UserGroupUuid": uuids["group"], "UserGroupName": "Neuro", "UserUuidList": [uuids["user"]]}
    ]

    equipment = call("/getequipmentlist")["EquipmentList"]
    assert equipment == [
        {
            "EquipmentUuid": uuids["ct"],
            "EquipmentName": "CT 2",
            "Modality": "CT",
            "AETitle": uuids["ct_title"],
            "Host": "ct2.local",
            "Port": 104,
            "InstitutionUuid": uuids["site"],
        }
    ]


def test_discovered_uuids_work_in_other_calls(
    server: ServerProcess, populated: tuple[TestAccount, dict[str, str]]
) -> None:
    account, uuids = populated
    order = create_order(
        server, account, InstitutionUuid=uuids["site"], ScheduledEquipmentUuid=uuids["ct"]
    )
    assert order["PatientOrderInstitutionUuid"] == uuids["site"]
    assert order["ScheduledEquipmentUuid"] == uuids["ct"]


def test_parameterless_endpoints_reject_parameters(
    server: ServerProcess, account: TestAccount
) -> None:
    error(post(server, account, "/getuserlist", {"Foo": "x"}), 400, "Foo")


# -- OpenAPI -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document(server: ServerProcess) -> dict[str, Any]:
    response = httpx.get(server.url + "/openapi.json")  # public: no credentials
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def test_openapi_lists_every_endpoint(server: ServerProcess, document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    assert document["servers"][0]["url"] == server.dicomweb
    assert document["components"]["securitySchemes"]["basicAuth"]["scheme"] == "basic"
    schemas = document["components"]["schemas"]
    operation_ids = set()
    for spec in ENDPOINTS:
        item = document["paths"][spec.path]
        assert set(item) == {"get", "post"}
        operation_ids |= {item["get"]["operationId"], item["post"]["operationId"]}
        for operation in item.values():
            assert {"200", "400", "401", "404"} <= set(operation["responses"])
        if not spec.keys:
            assert "parameters" not in item["get"]
            continue
        (parameter,) = item["get"]["parameters"]
        assert (parameter["name"], parameter["in"]) == (spec.header, "header")
        header_ref = parameter["content"]["application/json"]["schema"]["$ref"]
        body_ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        required = [key.name for key in spec.keys if key.required]
        for ref in (header_ref, body_ref):
            schema = schemas[ref.rsplit("/", 1)[1]]
            assert schema["required"] == required
            assert list(schema["properties"]) == [key.name for key in spec.keys]
        header_schema = schemas[header_ref.rsplit("/", 1)[1]]
        assert all(p["type"] == "string" for p in header_schema["properties"].values())
    assert len(operation_ids) == 2 * len(ENDPOINTS)


def test_openapi_response_schemas_match_the_responses(
    server: ServerProcess, account: TestAccount, document: dict[str, Any]
) -> None:
    schemas = document["components"]["schemas"]

    def properties(path: str) -> set[str]:
        ref = document["paths"][path]["post"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ]["$ref"]
        return set(schemas[ref.rsplit("/", 1)[1]]["properties"])

    order = create_order(server, account)
    assert set(order) == properties("/createpatientorder")
    found = ok(post(server, account, "/getpatientorderlist", {}))
    assert set(found) == properties("/getpatientorderlist")
    assert set(found["PatientOrderList"][0]) == set(schemas["OrderSummary"]["properties"])


def test_openapi_document_is_valid(document: dict[str, Any]) -> None:
    validator = pytest.importorskip(
        "openapi_spec_validator",
        reason="openapi-spec-validator is an optional test tool; the structure is checked above",
    )
    validator.validate(document)
