"""Assigning orders to users and user groups over the custom API; both wire forms."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from openpacs.index.models import Account, AuditEvent
from openpacs.services.accounts import add_group, add_user
from tests.e2e.api_client import (
    blank_key_is_missing,
    create_order,
    csharp,
    database,
    error,
    ok,
    post,
    required_keys,
)
from tests.support.server import ServerProcess, TestAccount

TO_USER = "/assignordertouser"
TO_GROUP = "/assignordertousergroup"
PROPS = "/getpatientorderproperties"
LIST = "/getpatientorderlist"

ASSIGNMENT_KEYS = {
    "PatientOrderUuid",
    "AssignedUserUuid",
    "AssignedUserGroupUuid",
    "PreviousAssignedUserUuid",
    "PreviousAssignedUserGroupUuid",
}


@pytest.fixture(scope="module")
def team(server: ServerProcess) -> tuple[TestAccount, dict[str, str]]:
    """An account with two more users and two groups; and another account with one of each."""
    account = server.create_account()
    other = server.create_account()
    out: dict[str, str] = {"admin": account.user_uuid, "stranger": other.user_uuid}
    with database(server) as session:
        mine = session.scalar(select(Account).where(Account.uuid == account.account_uuid))
        theirs = session.scalar(select(Account).where(Account.uuid == other.account_uuid))
        assert mine is not None and theirs is not None
        for label in ("ann", "bob"):
            out[label] = add_user(
                session, mine, email=f"{label}-{account.email}", password="pw-" + label
            ).uuid
        out["neuro"] = add_group(session, mine, "Neuro").uuid
        out["chest"] = add_group(session, mine, "Chest").uuid
        out["their_group"] = add_group(session, theirs, "Neuro").uuid
    out["other_email"] = other.email
    out["other_password"] = other.password
    out["other_account"] = other.account_uuid
    out["other_institution"] = other.institution_uuid
    return account, out


def props(server: ServerProcess, account: TestAccount, order: dict[str, Any]) -> dict[str, Any]:
    return ok(
        csharp(
            server,
            account,
            PROPS,
            {
                "PatientOrderInstitutionUuid": order["PatientOrderInstitutionUuid"],
                "PatientOrderUuid": order["PatientOrderUuid"],
            },
        )
    )


def found(server: ServerProcess, account: TestAccount, **params: Any) -> list[str]:
    orders = ok(post(server, account, LIST, params))["PatientOrderList"]
    return [o["PatientOrderUuid"] for o in orders]


def other_account(team: dict[str, str]) -> TestAccount:
    return TestAccount(
        team["other_email"],
        team["other_password"],
        team["other_account"],
        team["stranger"],
        team["other_institution"],
    )


def test_assign_to_a_user_and_reassign(
    server: ServerProcess, team: tuple[TestAccount, dict[str, str]]
) -> None:
    account, people = team
    order = create_order(server, account, PatientId=f"AU-{uuid.uuid4().hex[:6]}")
    key = order["PatientOrderUuid"]

    first = ok(
        csharp(
            server, account, TO_USER, {"PatientOrderUuid": key, "AssignedUserUuid": people["ann"]}
        )
    )
    assert set(first) == ASSIGNMENT_KEYS
    assert first == {
        "PatientOrderUuid": key,
        "AssignedUserUuid": people["ann"],
        "AssignedUserGroupUuid": "",
        "PreviousAssignedUserUuid": "",
        "PreviousAssignedUserGroupUuid": "",
    }
    assert props(server, account, order)["AssignedUserUuid"] == people["ann"]
    assert key in found(server, account, AssignedUserUuid=people["ann"])

    # Assigning again replaces the user (the POST form).
    second = ok(
        post(server, account, TO_USER, {"PatientOrderUuid": key, "AssignedUserUuid": people["bob"]})
    )
    assert (second["AssignedUserUuid"], second["PreviousAssignedUserUuid"]) == (
        people["bob"],
        people["ann"],
    )
    assert props(server, account, order)["AssignedUserUuid"] == people["bob"]
    assert key not in found(server, account, AssignedUserUuid=people["ann"])
    assert key in found(server, account, AssignedUserUuid=people["bob"])
    # The same user again is fine (idempotent).
    same = ok(
        post(server, account, TO_USER, {"PatientOrderUuid": key, "AssignedUserUuid": people["bob"]})
    )
    assert (same["AssignedUserUuid"], same["PreviousAssignedUserUuid"]) == (
        people["bob"],
        people["bob"],
    )
    # The admin who calls can assign to themself; upper-case UUIDs are accepted.
    ok(
        post(
            server,
            account,
            TO_USER,
            {"PatientOrderUuid": key.upper(), "AssignedUserUuid": people["admin"].upper()},
        )
    )
    summary = next(
        o
        for o in ok(post(server, account, LIST, {"AssignedUserUuid": people["admin"]}))[
            "PatientOrderList"
        ]
        if o["PatientOrderUuid"] == key
    )
    assert summary["AssignedUserUuid"] == people["admin"]

    with database(server) as session:
        details = session.scalars(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "order.assign", AuditEvent.detail.contains(key))
            .order_by(AuditEvent.id)
        ).all()
    assert len(details) == 4
    assert people["ann"] in details[0] and people["bob"] in details[1]


def test_assign_to_a_group_keeps_the_user(
    server: ServerProcess, team: tuple[TestAccount, dict[str, str]]
) -> None:
    account, people = team
    order = create_order(server, account, PatientId=f"AG-{uuid.uuid4().hex[:6]}")
    key = order["PatientOrderUuid"]
    ok(post(server, account, TO_USER, {"PatientOrderUuid": key, "AssignedUserUuid": people["ann"]}))
    grouped = ok(
        csharp(
            server,
            account,
            TO_GROUP,
            {"PatientOrderUuid": key, "AssignedUserGroupUuid": people["neuro"]},
        )
    )
    assert grouped == {
        "PatientOrderUuid": key,
        "AssignedUserUuid": people["ann"],
        "AssignedUserGroupUuid": people["neuro"],
        "PreviousAssignedUserUuid": people["ann"],
        "PreviousAssignedUserGroupUuid": "",
    }
    got = props(server, account, order)
    assert (got["AssignedUserUuid"], got["AssignedUserGroupUuid"]) == (
        people["ann"],
        people["neuro"],
    )
    assert key in found(server, account, AssignedUserGroupUuid=people["neuro"])
    # Reassigning replaces the group and keeps the user.
    moved = ok(
        post(
            server,
            account,
            TO_GROUP,
            {"PatientOrderUuid": key, "AssignedUserGroupUuid": people["chest"]},
        )
    )
    assert (moved["AssignedUserGroupUuid"], moved["PreviousAssignedUserGroupUuid"]) == (
        people["chest"],
        people["neuro"],
    )
    assert moved["AssignedUserUuid"] == people["ann"]
    assert key not in found(server, account, AssignedUserGroupUuid=people["neuro"])
    assert found(
        server, account, AssignedUserGroupUuid=people["chest"], AssignedUserUuid=people["ann"]
    ) == [key]
    with database(server) as session:
        audit = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "order.assign", AuditEvent.detail.contains(people["chest"])
            )
        ).one()
        assert audit.study_instance_uid == order["StudyInstanceUID"]
        assert audit.user_id is not None


def test_users_groups_and_orders_of_other_accounts_are_not_found(
    server: ServerProcess, team: tuple[TestAccount, dict[str, str]]
) -> None:
    account, people = team
    order = create_order(server, account, PatientId=f"AX-{uuid.uuid4().hex[:6]}")
    key = order["PatientOrderUuid"]
    error(
        post(
            server,
            account,
            TO_USER,
            {"PatientOrderUuid": key, "AssignedUserUuid": people["stranger"]},
        ),
        404,
        "AssignedUserUuid",
    )
    error(
        csharp(
            server,
            account,
            TO_GROUP,
            {"PatientOrderUuid": key, "AssignedUserGroupUuid": people["their_group"]},
        ),
        404,
        "AssignedUserGroupUuid",
    )
    error(
        post(
            server,
            account,
            TO_USER,
            {"PatientOrderUuid": key, "AssignedUserUuid": str(uuid.uuid4())},
        ),
        404,
        "no user",
    )
    # The other account cannot assign my order, even to its own user or group.
    other = other_account(people)
    error(
        csharp(
            server,
            other,
            TO_USER,
            {"PatientOrderUuid": key, "AssignedUserUuid": people["stranger"]},
        ),
        404,
        "patient order",
    )
    error(
        post(
            server,
            other,
            TO_GROUP,
            {"PatientOrderUuid": key, "AssignedUserGroupUuid": people["their_group"]},
        ),
        404,
        "patient order",
    )
    error(
        post(
            server,
            account,
            TO_USER,
            {"PatientOrderUuid": str(uuid.uuid4()), "AssignedUserUuid": people["ann"]},
        ),
        404,
        "patient order",
    )
    got = props(server, account, order)
    assert (got["AssignedUserUuid"], got["AssignedUserGroupUuid"]) == ("", "")
    # A search by another account's user or group is a 404 too.
    error(post(server, account, LIST, {"AssignedUserUuid": people["stranger"]}), 404)


REQUIRED = required_keys(TO_USER, TO_GROUP)


@pytest.mark.parametrize(("path", "key"), REQUIRED)
def test_each_required_key_missing(
    server: ServerProcess, team: tuple[TestAccount, dict[str, str]], path: str, key: str
) -> None:
    account, people = team
    order = create_order(server, account, PatientId=f"AR-{uuid.uuid4().hex[:6]}")
    params = {
        "PatientOrderUuid": order["PatientOrderUuid"],
        "AssignedUserUuid": people["ann"],
        "AssignedUserGroupUuid": people["neuro"],
    }
    params = blank_key_is_missing(server, account, path, params, key)
    params[key] = "00000000-0000-0000-0000-000000000000"  # all-zero: not given
    error(post(server, account, path, params), 400, key, "missing")
    del params[key]
    error(post(server, account, path, params), 400, key, "missing")


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        (TO_USER, {"AssignedUserUuid": "ann"}, "AssignedUserUuid"),
        (TO_USER, {"AssignedUserUuid": ["x"]}, "AssignedUserUuid"),
        (TO_USER, {"PatientOrderUuid": 12}, "PatientOrderUuid"),
        (TO_GROUP, {"AssignedUserGroupUuid": "Neuro"}, "AssignedUserGroupUuid"),
        (TO_GROUP, {"AssignedUserUuid": str(uuid.uuid4())}, "AssignedUserUuid"),  # unknown key
    ],
)
def test_wrong_values(
    server: ServerProcess,
    team: tuple[TestAccount, dict[str, str]],
    path: str,
    body: dict[str, Any],
    key: str,
) -> None:
    account, _ = team
    base = {
        "PatientOrderUuid": str(uuid.uuid4()),
        ("AssignedUserUuid" if path == TO_USER else "AssignedUserGroupUuid"): str(uuid.uuid4()),
    }
    error(post(server, account, path, {**base, **body}), 400, key)
