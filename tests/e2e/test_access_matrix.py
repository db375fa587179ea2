"""The role table, endpoint by endpoint: generated from the custom API's ``ENDPOINTS`` and
the DICOMweb route ``TABLE``, on SQLite and PostgreSQL.

Every cell calls the real server as an admin, a member and a reader with a request that
would succeed (an order assigned to the reader, fresh objects for deletes) and expects
what ``ROLE_TABLE`` says for the permission the route table names: a 2xx answer when
the role has it, 403 with a reason when not. A new endpoint or route without a
permission (``RULES``, ``TABLE``) or without a sample request here fails the suite.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from bench.dataset import make_instance

from openpacs.protocol.custom_params import ENDPOINTS
from openpacs.services.permissions import ROLE_TABLE, Action, Grant, Role
from openpacs.web.api.routes import HANDLERS, RULES
from openpacs.web.dicomweb.routes import TABLE
from tests.support.access import (
    ROLES,
    Staff,
    User,
    api,
    future,
    ok,
    staffed_account,
    upload_study,
)
from tests.support.server import ServerProcess
from tests.support.specs import small_spec
from tests.support.stow import stow

Sample = Callable[[Staff, User], dict[str, Any]]


@pytest.fixture(scope="module")
def staff(server: ServerProcess) -> Staff:
    return staffed_account(server)


def _order(staff: Staff) -> dict[str, str]:
    return {
        "PatientOrderInstitutionUuid": staff.institution_uuid,
        "PatientOrderUuid": staff.assigned.order_uuid,
    }


def _folder(staff: Staff) -> str:
    body = {"FolderName": f"F-{uuid.uuid4().hex[:8]}"}
    return str(ok(api(staff.server, staff["admin"].auth, "/createfolder", body))["FolderUuid"])


def _fresh_order(staff: Staff) -> dict[str, str]:
    """An order made by the admin (not assigned to anyone), for deletes."""
    body = {
        "InstitutionUuid": staff.institution_uuid,
        "PatientName": "Fresh^Order",
        "PatientId": f"F-{uuid.uuid4().hex[:6]}",
        "PatientBirthdate": "1970-01-01",
        "Modality": "CT",
    }
    made = ok(api(staff.server, staff["admin"].auth, "/createpatientorder", body))
    return {
        "PatientOrderInstitutionUuid": staff.institution_uuid,
        "PatientOrderUuid": made["PatientOrderUuid"],
    }


def _own_share(staff: Staff, user: User) -> dict[str, str]:
    """A share the caller made (made by the member when the caller may not share)."""
    maker = user if user.role != "reader" else staff["member"]
    body = {"OrderUuidList": [staff.assigned.order_uuid], "ExpireDate": future()}
    made = ok(api(staff.server, maker.auth, "/sharepatientorderwithurl", body))
    return {"ShareUuid": made["ShareUuid"]}


def _own_token(staff: Staff, user: User) -> dict[str, str]:
    body = {"TokenName": "to revoke", "ExpireDate": future()}
    made = ok(api(staff.server, user.auth, "/createapitoken", body))
    return {"ApiTokenUuid": made["ApiTokenUuid"]}


#: A request body per custom endpoint that succeeds when the caller has the permission.
SAMPLES: dict[str, Sample] = {
    "/createsharelink": lambda s, u: {
        "PatientOrderInfoList": [f'{{"PatientOrderUuid":"{s.assigned.order_uuid}"}}'],
        "ExpireDate": future(),
    },
    "/sharepatientorderwithurl": lambda s, u: {
        "OrderUuidList": [s.assigned.order_uuid],
        "ExpireDate": future(),
    },
    "/createfolder": lambda s, u: {"FolderName": f"F-{uuid.uuid4().hex[:8]}"},
    "/searchfolder": lambda s, u: {"GetOrdersInFolder": True},
    "/sharefolderwithurl": lambda s, u: {"FolderUuid": _folder(s), "ExpireDate": future()},
    "/addordertofolder": lambda s, u: {
        "PatientOrderUuid": s.assigned.order_uuid,
        "FolderUuidList": [_folder(s)],
    },
    "/assignordertouser": lambda s, u: {
        "PatientOrderUuid": s.assigned.order_uuid,
        "AssignedUserUuid": s["reader"].user_uuid,
    },
    "/assignordertousergroup": lambda s, u: {
        "PatientOrderUuid": s.assigned.order_uuid,
        "AssignedUserGroupUuid": s.group_uuid,
    },
    "/createpatientorder": lambda s, u: {
        "InstitutionUuid": s.institution_uuid,
        "PatientName": "New^Order",
        "PatientId": f"N-{uuid.uuid4().hex[:6]}",
        "PatientBirthdate": "1980-01-01",
        "Modality": "MR",
    },
    "/getpatientorderproperties": lambda s, u: _order(s),
    "/getpatientorderlist": lambda s, u: {},
    "/deleteorder": lambda s, u: _fresh_order(s),
    "/getdicomtagcontent": lambda s, u: {**_order(s), "DicomTagIdList": ["PatientID"]},
    "/getinstitutionlist": lambda s, u: {},
    "/getuserlist": lambda s, u: {},
    "/getusergrouplist": lambda s, u: {},
    "/getequipmentlist": lambda s, u: {},
    "/getsharelist": lambda s, u: {},
    "/deleteshare": _own_share,
    "/createapitoken": lambda s, u: {"TokenName": "matrix", "ExpireDate": future()},
    "/getapitokenlist": lambda s, u: {},
    "/revokeapitoken": _own_token,
    "/getauditlog": lambda s, u: {"Limit": 5},
}


def expected_refusal(action: Action, role: str) -> bool:
    return ROLE_TABLE[action][Role(role)] is Grant.NONE


def check(response: httpx.Response, refused: bool) -> None:
    if refused:
        assert response.status_code == 403, (response.status_code, response.text[:300])
        assert response.headers["x-error-reason"], "a refusal says why"
    else:
        assert 200 <= response.status_code < 300, (response.status_code, response.text[:300])


# -- every route has a decision -------------------------------------------------------------


def test_every_custom_endpoint_has_a_handler_a_permission_and_a_sample() -> None:
    paths = {spec.path for spec in ENDPOINTS}
    assert paths == set(HANDLERS), "an endpoint without a handler (or a stray handler)"
    assert paths == set(RULES), "an endpoint without a permission decision in RULES"
    assert paths == set(SAMPLES), "an endpoint without a sample request in this test"


def test_every_dicomweb_route_has_a_permission() -> None:
    for path, _endpoint, methods, action in TABLE:
        assert isinstance(action, Action), path
        expected = {"GET": Action.READ, "POST": Action.WRITE, "DELETE": Action.DELETE}
        assert all(expected[m] is action for m in methods), (path, methods, action)


# -- the custom API --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", [spec.path for spec in ENDPOINTS])
def test_custom_endpoint_for_role(staff: Staff, path: str, role: str) -> None:
    user = staff[role]
    body = SAMPLES[path](staff, user)
    response = api(staff.server, user.auth, path, body)
    check(response, expected_refusal(RULES[path].action, role))


# -- DICOMweb --------------------------------------------------------------------------------

_PARAM = re.compile(r"\{(\w+)(?::path)?\}")


def _url(staff: Staff, path: str, study: Any) -> str:
    values = {
        "study": study.study_uid,
        "series": study.series_uid,
        "sop": study.sop_uid,
        "frames": "1",
        "path": "7FE00010",
    }
    return staff.server.dicomweb + _PARAM.sub(lambda m: values[m.group(1)], path)


def _route_id(row: tuple[Any, ...]) -> str:
    path, endpoint, methods, _action = row
    return f"{methods[0]} {path or '/'} ({endpoint.__name__})"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", TABLE, ids=_route_id)
def test_dicomweb_route_for_role(staff: Staff, row: tuple[Any, ...], role: str) -> None:
    path, _endpoint, methods, action = row
    user, method = staff[role], methods[0]
    if method == "DELETE":
        target = upload_study(staff.server, staff["admin"].auth)  # something to delete
        response = httpx.delete(_url(staff, path, target), auth=user.auth, timeout=30)
    elif method == "POST":
        spec = small_spec(uuid.uuid4().hex[:12], 1, 1)
        url = _url(staff, path, staff.assigned)
        if "{study}" in path:
            spec = small_spec("x", 1, 1, study_uid=staff.assigned.study_uid)
        response = stow(url, user.auth, [make_instance(spec)], path="")
    else:
        url = _url(staff, path, staff.assigned)
        response = httpx.get(url, auth=user.auth, timeout=30)
    check(response, expected_refusal(action, role))
