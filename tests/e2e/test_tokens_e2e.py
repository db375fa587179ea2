"""Personal API tokens against a real server, on SQLite and PostgreSQL: as Bearer and as
the Basic password, read-only scope, expiry, revocation, a disabled user and a new
password, each refused within seconds on a server that had the login cached."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from bench.dataset import make_instance
from dicomweb_client.api import DICOMwebClient
from sqlalchemy import update

from openpacs.client import PacsClient
from openpacs.client.errors import AuthenticationError, PermissionDenied
from openpacs.index.db import Database
from openpacs.index.models import ApiToken
from tests.e2e.test_admin_cli import admin
from tests.support.access import Staff, User, add_user, api, future, ok, staffed_account
from tests.support.cli import run_cli
from tests.support.server import ServerProcess
from tests.support.specs import small_spec
from tests.support.stow import stow

#: A change must be refused within this (the login epoch is read about once a second).
WITHIN_SECONDS = 5.0


@pytest.fixture(scope="module")
def staff(server: ServerProcess) -> Staff:
    return staffed_account(server)


def new_token(staff: Staff, user: User, scope: str = "read-write", **extra: str) -> dict[str, str]:
    body = {"TokenName": f"t-{scope}", "ExpireDate": future(), "Scope": scope, **extra}
    return ok(api(staff.server, user.auth, "/createapitoken", body))


def bearer(staff: Staff, token: str, path: str = "/studies") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(staff.server.dicomweb + path, headers=headers, timeout=30)


def refused_within(check: Callable[[], int], status: int) -> float:
    """Seconds until ``check()`` answers ``status`` (fails after WITHIN_SECONDS)."""
    started = time.monotonic()
    while time.monotonic() - started < WITHIN_SECONDS:
        if check() == status:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"still not {status} after {WITHIN_SECONDS} s")


def admin_cli(server: ServerProcess, *args: str, stdin: str = "") -> None:
    done = admin(server, *args, stdin=stdin)
    assert done.returncode == 0, done.stderr


def test_a_token_is_shown_once_and_works_as_bearer_and_as_basic_password(staff: Staff) -> None:
    member = staff["member"]
    made = new_token(staff, member)
    token = made["Token"]
    assert token.startswith("opat_") and made["Prefix"] == token[:12]
    listed = ok(api(staff.server, member.auth, "/getapitokenlist"))["ApiTokenList"]
    assert [t["ApiTokenUuid"] for t in listed] == [made["ApiTokenUuid"]]
    assert "Token" not in listed[0] and token not in str(listed)
    assert bearer(staff, token).status_code == 200
    with PacsClient(staff.server.dicomweb, member.email, token) as basic:  # PostDICOM style
        assert basic.list_institutions()
    with PacsClient(staff.server.dicomweb, token=token) as alone:
        assert alone.search_studies()
    viewer = DICOMwebClient(staff.server.dicomweb, headers={"Authorization": f"Bearer {token}"})
    assert viewer.search_for_studies()


def test_a_read_token_reads_but_changes_nothing(staff: Staff) -> None:
    token = new_token(staff, staff["admin"], "read")["Token"]
    assert bearer(staff, token, f"/studies/{staff.assigned.study_uid}/metadata").status_code == 200
    with PacsClient(staff.server.dicomweb, token=token) as client:
        with pytest.raises(PermissionDenied, match="read-only"):
            client.create_folder(folder_name="nope")
        with pytest.raises(PermissionDenied, match="with the password"):
            client.list_api_tokens()
    response = stow(
        staff.server.dicomweb, (staff["admin"].email, token), [make_instance(small_spec("t", 1, 1))]
    )
    assert response.status_code == 403


def test_expired_and_unknown_tokens_are_401(staff: Staff) -> None:
    made = new_token(staff, staff["member"])
    db = Database(staff.server.database_url)
    try:
        with db.session() as session:
            past = datetime.now(UTC) - timedelta(minutes=1)
            session.execute(
                update(ApiToken)
                .where(ApiToken.uuid == made["ApiTokenUuid"])
                .values(expires_at=past)
            )
    finally:
        db.dispose()
    response = bearer(staff, made["Token"])
    assert response.status_code == 401
    assert response.headers["x-error-reason"] == "this API token has expired"
    assert bearer(staff, "opat_" + "x" * 43).status_code == 401
    assert bearer(staff, "not-a-token").status_code == 401


def test_a_revoked_token_is_refused_within_seconds(staff: Staff) -> None:
    member = staff["member"]
    made = new_token(staff, member)
    assert bearer(staff, made["Token"]).status_code == 200  # now cached by the server
    ok(api(staff.server, member.auth, "/revokeapitoken", {"ApiTokenUuid": made["ApiTokenUuid"]}))
    refused_within(lambda: bearer(staff, made["Token"]).status_code, 401)
    body = {"User": member.email, "Action": "token.*"}
    events = ok(api(staff.server, staff["admin"].auth, "/getauditlog", body))["AuditEventList"]
    assert [e["Action"] for e in events][:2] == ["token.revoke", "token.create"]
    assert all(made["ApiTokenUuid"] in e["Detail"] for e in events[:2])
    assert bearer(staff, made["Token"]).headers["x-error-reason"] == "this API token was revoked"


def test_disabling_a_user_ends_password_and_tokens_within_seconds(staff: Staff) -> None:
    user = add_user(staff.server, staff.account, "member")
    token = new_token(staff, user)["Token"]
    assert bearer(staff, token).status_code == 200
    assert httpx.get(staff.server.dicomweb + "/studies", auth=user.auth).status_code == 200
    admin_cli(staff.server, "disable-user", "--email", user.email, "--yes")
    refused_within(lambda: bearer(staff, token).status_code, 403)
    response = httpx.get(staff.server.dicomweb + "/studies", auth=user.auth)
    assert response.status_code == 403 and "disabled" in response.headers["x-error-reason"]
    admin_cli(staff.server, "enable-user", "--email", user.email)
    refused_within(lambda: bearer(staff, token).status_code, 200)


def test_a_new_password_ends_the_old_one_and_the_tokens_within_seconds(staff: Staff) -> None:
    user = add_user(staff.server, staff.account, "member")
    token = new_token(staff, user)["Token"]
    assert bearer(staff, token).status_code == 200
    assert httpx.get(staff.server.dicomweb + "/studies", auth=user.auth).status_code == 200
    admin_cli(staff.server, "set-password", "--email", user.email, stdin="a brand new password\n")
    refused_within(
        lambda: httpx.get(staff.server.dicomweb + "/studies", auth=user.auth).status_code, 401
    )
    assert bearer(staff, token).status_code == 401
    new_login = (user.email, "a brand new password")
    assert httpx.get(staff.server.dicomweb + "/studies", auth=new_login).status_code == 200


def test_a_role_change_holds_within_seconds(staff: Staff) -> None:
    user = add_user(staff.server, staff.account, "member")
    folder = {"FolderName": "role change"}
    ok(api(staff.server, user.auth, "/createfolder", folder))
    admin_cli(staff.server, "set-role", "--email", user.email, "--role", "reader")
    refused_within(
        lambda: (
            api(
                staff.server, user.auth, "/createfolder", {"FolderName": str(time.time())}
            ).status_code
        ),
        403,
    )


def test_the_token_commands(staff: Staff) -> None:
    user = staff["member"]
    env = {
        "OPENPACS_URL": staff.server.dicomweb,
        "OPENPACS_USER": user.email,
        "OPENPACS_PASSWORD": user.password,
        "OPENPACS_TOKEN": None,
    }
    made = run_cli("token", "create", "--name", "cli", "--json", env=env)
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    shown = run_cli("token", "create", "--name", "human", "--scope", "read", env=env)
    assert shown.returncode == 0 and shown.stdout.strip().splitlines()[-1].startswith("opat_")
    assert "shown only now" in shown.stderr
    with_token = {**env, "OPENPACS_USER": None, "OPENPACS_PASSWORD": None}
    used = run_cli("institutions", env={**with_token, "OPENPACS_TOKEN": created["Token"]})
    assert used.returncode == 0, used.stderr
    listed = run_cli("token", "list", env=env)
    assert created["ApiTokenUuid"] in listed.stdout and "active" in listed.stdout
    revoked = run_cli("token", "revoke", created["ApiTokenUuid"], "--yes", env=env)
    assert revoked.returncode == 0 and "Revoked" in revoked.stdout
    refused_within(lambda: bearer(staff, created["Token"]).status_code, 401)
    refused = run_cli("institutions", env={**with_token, "OPENPACS_TOKEN": created["Token"]})
    assert refused.returncode == 1 and "this API token was revoked" in refused.stderr
    with (
        pytest.raises(AuthenticationError),
        PacsClient(staff.server.dicomweb, token=created["Token"]) as client,
    ):
        client.list_institutions()
