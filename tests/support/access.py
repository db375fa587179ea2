"""An account staffed with one user of each role, for the access-control tests.

``staffed_account`` makes, on a running server's database: the account (its admin),
a member and a reader, a group the reader belongs to, and a study uploaded by the admin
whose order is assigned to the reader. Helpers call the custom API in its POST form
with any user's credentials.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from bench.dataset import make_instance

from openpacs.index.db import Database
from openpacs.services import accounts
from tests.support.browser import order_uuid
from tests.support.server import ServerProcess, TestAccount
from tests.support.specs import small_spec
from tests.support.stow import stow

ROLES = ("admin", "member", "reader")


@dataclass(frozen=True)
class User:
    email: str
    password: str
    user_uuid: str
    role: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.email, self.password)


@dataclass(frozen=True)
class Study:
    study_uid: str
    series_uid: str
    sop_uid: str
    order_uuid: str
    patient_id: str


@dataclass(frozen=True)
class Staff:
    server: ServerProcess
    account: TestAccount
    users: dict[str, User]
    group_uuid: str
    assigned: Study  # assigned to the reader

    @property
    def institution_uuid(self) -> str:
        return self.account.institution_uuid

    def __getitem__(self, role: str) -> User:
        return self.users[role]


def add_user(
    server: ServerProcess,
    account: TestAccount,
    role: str,
    *,
    institutions: Sequence[str] = (),
) -> User:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    password = f"pw-{uuid.uuid4().hex}"
    db = Database(server.database_url)
    try:
        with db.session() as session:
            found = accounts.find_account(session, account.account_uuid)
            user = accounts.add_user(session, found, email=email, password=password, role=role)
            if institutions:
                accounts.set_institutions(session, email, institutions)
            user_uuid = user.uuid
    finally:
        db.dispose()
    return User(email, password, user_uuid, role)


def add_group(server: ServerProcess, account: TestAccount, *members: User) -> str:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            found = accounts.find_account(session, account.account_uuid)
            group = accounts.add_group(session, found, f"group-{uuid.uuid4().hex[:8]}")
            for member in members:
                accounts.add_to_group(session, group.uuid, member.email)
            return group.uuid
    finally:
        db.dispose()


def upload_study(server: ServerProcess, auth: tuple[str, str], tag: str = "") -> Study:
    """A new one-instance study (8x8 CT) stored by ``auth``; its order's UUID."""
    tag = tag or uuid.uuid4().hex[:12]
    patient = f"P-{tag}"
    spec = small_spec(tag, 1, 1, patient_id=patient, accession="")
    response = stow(server.dicomweb, auth, [make_instance(spec)])
    assert response.status_code == 200, response.text
    return Study(
        spec.study_uid, spec.series_uid, spec.sop_uid, order_uuid(server, spec.study_uid), patient
    )


def api(
    server: ServerProcess,
    auth: tuple[str, str] | None,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> httpx.Response:
    """The custom API's POST form (``token``: as Bearer instead of Basic ``auth``)."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return httpx.post(
        server.dicomweb + path, json=body or {}, auth=auth, headers=headers, timeout=30
    )


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


def future(days: int = 30) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def staffed_account(server: ServerProcess) -> Staff:
    account = server.create_account()
    admin = User(account.email, account.password, account.user_uuid, "admin")
    member = add_user(server, account, "member")
    reader = add_user(server, account, "reader")
    group = add_group(server, account, reader)
    study = upload_study(server, account.auth)
    ok(
        api(
            server,
            account.auth,
            "/assignordertouser",
            {"PatientOrderUuid": study.order_uuid, "AssignedUserUuid": reader.user_uuid},
        )
    )
    users = {"admin": admin, "member": member, "reader": reader}
    return Staff(server, account, users, group, study)
