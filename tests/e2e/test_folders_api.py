"""Folders over the custom API: create, nest, search, add orders; both wire forms."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from openpacs.index.models import AuditEvent, Folder, FolderOrder
from openpacs.protocol.custom_params import NIL_UUID
from tests.e2e.api_client import (
    blank_key_is_missing,
    create_order,
    csharp,
    database,
    error,
    ok,
    post,
    required_keys,
    response_properties,
)
from tests.support.server import ServerProcess, TestAccount

CREATE = "/createfolder"
SEARCH = "/searchfolder"
ADD = "/addordertofolder"
PROPS = "/getpatientorderproperties"

FOLDER_KEYS = {
    "FolderUuid",
    "FolderName",
    "FolderDescription",
    "ParentFolderUuid",
    "CreatedAt",
    "NumberOfOrders",
    "NumberOfSubfolders",
    "PatientOrderList",
}


@pytest.fixture(scope="module")
def account(server: ServerProcess) -> TestAccount:
    """One account per module (and backend); tests use unique folder names."""
    return server.create_account()


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def make_folder(
    server: ServerProcess, account: TestAccount, name: str, parent: str = "", **extra: Any
) -> dict[str, Any]:
    body = {"FolderName": name, "ParentFolderUuid": parent, **extra}
    return ok(post(server, account, CREATE, body))


def search(server: ServerProcess, account: TestAccount, **params: Any) -> list[dict[str, Any]]:
    folders: list[dict[str, Any]] = ok(post(server, account, SEARCH, params))["FolderList"]
    return folders


def uuids(items: list[dict[str, Any]], key: str = "FolderUuid") -> list[str]:
    return [item[key] for item in items]


def order_folders(server: ServerProcess, account: TestAccount, order: dict[str, Any]) -> list[str]:
    got = ok(
        post(
            server,
            account,
            PROPS,
            {
                "PatientOrderInstitutionUuid": order["PatientOrderInstitutionUuid"],
                "PatientOrderUuid": order["PatientOrderUuid"],
            },
        )
    )
    return sorted(f["FolderUuid"] for f in got["FolderList"])


# -- create --------------------------------------------------------------------------------


def test_create_in_the_csharp_form(server: ServerProcess, account: TestAccount) -> None:
    name = unique("Teaching")
    created = ok(
        csharp(server, account, CREATE, {"FolderName": name, "FolderDescription": "Files"})
    )
    assert set(created) == FOLDER_KEYS
    assert created["FolderName"] == name
    assert created["FolderDescription"] == "Files"
    assert created["ParentFolderUuid"] == ""  # "" = at the top
    assert (created["NumberOfOrders"], created["NumberOfSubfolders"]) == (0, 0)
    assert created["PatientOrderList"] == []
    assert created["CreatedAt"].endswith("+00:00")
    uuid.UUID(created["FolderUuid"])
    assert uuids(search(server, account, FolderName=name)) == [created["FolderUuid"]]


def test_create_in_the_post_form_and_nested(server: ServerProcess, account: TestAccount) -> None:
    top = make_folder(server, account, unique("Top"), NIL_UUID)  # all-zero = at the top
    assert top["ParentFolderUuid"] == ""
    middle = make_folder(server, account, "Middle", top["FolderUuid"])
    bottom = ok(
        csharp(
            server,
            account,
            CREATE,
            {"FolderName": "Bottom", "ParentFolderUuid": middle["FolderUuid"]},
        )
    )
    deeper = make_folder(server, account, "Deeper", bottom["FolderUuid"])
    assert middle["ParentFolderUuid"] == top["FolderUuid"]
    assert bottom["ParentFolderUuid"] == middle["FolderUuid"]
    assert deeper["ParentFolderUuid"] == bottom["FolderUuid"]

    # ParentFolderUuid lists the direct subfolders only.
    assert uuids(search(server, account, ParentFolderUuid=top["FolderUuid"])) == [
        middle["FolderUuid"]
    ]
    [found] = ok(csharp(server, account, SEARCH, {"ParentFolderUuid": middle["FolderUuid"]}))[
        "FolderList"
    ]
    assert found["FolderUuid"] == bottom["FolderUuid"]
    assert found["NumberOfSubfolders"] == 1
    assert search(server, account, ParentFolderUuid=deeper["FolderUuid"]) == []
    # Without a parent the search covers every depth.
    everything = uuids(search(server, account))
    assert {top["FolderUuid"], middle["FolderUuid"], bottom["FolderUuid"]} <= set(everything)
    assert deeper["FolderUuid"] in uuids(ok(csharp(server, account, SEARCH, {}))["FolderList"])
    with database(server) as session:
        row = session.scalar(select(Folder).where(Folder.uuid == deeper["FolderUuid"]))
        assert row is not None and row.parent_id is not None


def test_duplicate_names_under_one_parent_are_a_conflict(
    server: ServerProcess, account: TestAccount
) -> None:
    name = unique("Ärztliche Befunde")
    first = make_folder(server, account, name)
    # The same name, ignoring case, accents and extra spaces, at the same level: 409.
    variant = "  " + name.upper().replace("Ä", "A").replace(" ", "   ") + " "
    reason = error(post(server, account, CREATE, {"FolderName": variant}), 409, "FolderName")
    assert first["FolderUuid"] in reason
    error(csharp(server, account, CREATE, {"FolderName": name}), 409, first["FolderUuid"])
    # The same name in another parent, or inside the first folder, is fine.
    inner = make_folder(server, account, name, first["FolderUuid"])
    error(
        post(
            server, account, CREATE, {"FolderName": name, "ParentFolderUuid": first["FolderUuid"]}
        ),
        409,
        inner["FolderUuid"],
    )
    other_top = make_folder(server, account, unique("Other"))
    make_folder(server, account, name, other_top["FolderUuid"])
    # Stored trimmed, with single spaces.
    assert (
        make_folder(server, account, "  Two   words  ", other_top["FolderUuid"])["FolderName"]
        == "Two words"
    )


def test_parent_must_be_in_the_account(server: ServerProcess, account: TestAccount) -> None:
    other = server.create_account()
    theirs = make_folder(server, other, unique("Theirs"))
    error(
        post(
            server, account, CREATE, {"FolderName": "x", "ParentFolderUuid": theirs["FolderUuid"]}
        ),
        404,
        "ParentFolderUuid",
    )
    error(
        csharp(server, account, CREATE, {"FolderName": "x", "ParentFolderUuid": str(uuid.uuid4())}),
        404,
        "ParentFolderUuid",
    )
    error(post(server, account, SEARCH, {"ParentFolderUuid": theirs["FolderUuid"]}), 404)
    # Neither account sees the other's folders.
    assert theirs["FolderUuid"] not in uuids(search(server, account))
    mine = make_folder(server, account, unique("Mine"))
    assert uuids(search(server, other)) == [theirs["FolderUuid"]]
    assert mine["FolderUuid"] not in uuids(search(server, other, FolderName="Mine"))


# -- search by name ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def named(server: ServerProcess) -> tuple[TestAccount, dict[str, str]]:
    account = server.create_account()
    names = {
        "uni": "Ünïvérsity Cases",
        "neuro": "Neuro teaching",
        "percent": "100% done",
        "under": "a_b",
        "kanji": "山田 フォルダ",
    }
    folders = {
        label: make_folder(server, account, name)["FolderUuid"] for label, name in names.items()
    }
    folders["child"] = make_folder(server, account, "Cases of the week", folders["neuro"])[
        "FolderUuid"
    ]
    return account, folders


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"FolderName": "university"}, ["uni"]),
        ({"FolderName": "CASES"}, ["child", "uni"]),  # every depth, ordered by name
        ({"FolderName": "sity ca"}, ["uni"]),
        ({"FolderName": "ÜNÏ"}, ["uni"]),
        ({"FolderName": "%"}, ["percent"]),  # LIKE wildcards are plain text
        ({"FolderName": "_"}, ["under"]),
        ({"FolderName": "フォルダ"}, ["kanji"]),
        ({"FolderName": "nothing like this"}, []),
        ({}, ["percent", "under", "child", "neuro", "uni", "kanji"]),
        ({"FolderName": "cases", "ParentFolderUuid": "neuro"}, ["child"]),
        ({"FolderName": "teaching", "ParentFolderUuid": "neuro"}, []),
    ],
)
def test_search_by_part_of_the_name(
    server: ServerProcess,
    named: tuple[TestAccount, dict[str, str]],
    params: dict[str, Any],
    expected: list[str],
) -> None:
    account, folders = named
    if "ParentFolderUuid" in params:
        params = {**params, "ParentFolderUuid": folders[params["ParentFolderUuid"]]}
    by_uuid = {v: k for k, v in folders.items()}
    for response in (
        post(server, account, SEARCH, params),
        csharp(server, account, SEARCH, params),
    ):
        assert [by_uuid[u] for u in uuids(ok(response)["FolderList"])] == expected


# -- orders in folders ---------------------------------------------------------------------


def test_add_order_to_several_folders_idempotently(
    server: ServerProcess, account: TestAccount
) -> None:
    order = create_order(server, account, PatientId=unique("F"))
    a = make_folder(server, account, unique("A"))
    b = make_folder(server, account, unique("B"), a["FolderUuid"])
    c = make_folder(server, account, unique("C"))

    # The C# form: FolderUuidList as JSON text, with untrimmed items.
    first = ok(
        csharp(
            server,
            account,
            ADD,
            {
                "PatientOrderUuid": order["PatientOrderUuid"],
                "FolderUuidList": [a["FolderUuid"], " " + b["FolderUuid"]],
            },
        )
    )
    assert first["PatientOrderUuid"] == order["PatientOrderUuid"]
    assert first["AddedFolderUuidList"] == [a["FolderUuid"], b["FolderUuid"]]
    assert sorted(uuids(first["FolderList"])) == sorted([a["FolderUuid"], b["FolderUuid"]])
    # Again, plus one more folder, in the POST form: only the new one is added.
    again = ok(
        post(
            server,
            account,
            ADD,
            {
                "PatientOrderUuid": order["PatientOrderUuid"],
                "FolderUuidList": [b["FolderUuid"], c["FolderUuid"], a["FolderUuid"]],
            },
        )
    )
    assert again["AddedFolderUuidList"] == [c["FolderUuid"]]
    expected = sorted([a["FolderUuid"], b["FolderUuid"], c["FolderUuid"]])
    assert sorted(uuids(again["FolderList"])) == expected
    same = ok(
        post(
            server,
            account,
            ADD,
            {"PatientOrderUuid": order["PatientOrderUuid"], "FolderUuidList": [a["FolderUuid"]]},
        )
    )
    assert same["AddedFolderUuidList"] == []
    assert order_folders(server, account, order) == expected
    with database(server) as session:
        rows = session.scalars(select(FolderOrder.folder_id)).all()
        folder_ids = session.scalars(select(Folder.id).where(Folder.uuid.in_(expected))).all()
        assert sorted(r for r in rows if r in folder_ids) == sorted(folder_ids)  # no duplicates
        audits = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "folder.add_order",
                AuditEvent.detail.contains(order["PatientOrderUuid"]),
            )
        ).all()
        assert len(audits) == 2


def test_add_order_checks_every_folder_first(server: ServerProcess, account: TestAccount) -> None:
    order = create_order(server, account, PatientId=unique("F"))
    mine = make_folder(server, account, unique("Mine"))
    other = server.create_account()
    theirs = make_folder(server, other, unique("Theirs"))
    body = {
        "PatientOrderUuid": order["PatientOrderUuid"],
        "FolderUuidList": [mine["FolderUuid"], theirs["FolderUuid"]],
    }
    reason = error(post(server, account, ADD, body), 404, "FolderUuidList")
    assert theirs["FolderUuid"] in reason
    assert order_folders(server, account, order) == []  # nothing was added
    # Another account can neither use my order nor put anything in my folder.
    their_order = create_order(server, other, PatientId="THEIRS")
    error(
        post(
            server,
            other,
            ADD,
            {
                "PatientOrderUuid": order["PatientOrderUuid"],
                "FolderUuidList": [theirs["FolderUuid"]],
            },
        ),
        404,
        "patient order",
    )
    error(
        csharp(
            server,
            other,
            ADD,
            {
                "PatientOrderUuid": their_order["PatientOrderUuid"],
                "FolderUuidList": [mine["FolderUuid"]],
            },
        ),
        404,
        "FolderUuidList",
    )


def test_get_orders_in_folder(server: ServerProcess, account: TestAccount) -> None:
    name = unique("With orders")
    folder = make_folder(server, account, name)
    sub = make_folder(server, account, name + " sub", folder["FolderUuid"])
    older = create_order(server, account, PatientId=unique("O"), PatientName="Older^Pat")
    newer = create_order(server, account, PatientId=unique("N"), PatientName="Newer^Pat")
    in_sub = create_order(server, account, PatientId=unique("S"))
    for order in (older, newer):
        ok(
            post(
                server,
                account,
                ADD,
                {
                    "PatientOrderUuid": order["PatientOrderUuid"],
                    "FolderUuidList": [folder["FolderUuid"]],
                },
            )
        )
    ok(
        post(
            server,
            account,
            ADD,
            {"PatientOrderUuid": in_sub["PatientOrderUuid"], "FolderUuidList": [sub["FolderUuid"]]},
        )
    )
    # The C# form sends "True"; orders are the folder's own, newest first.
    found = ok(csharp(server, account, SEARCH, {"FolderName": name, "GetOrdersInFolder": "True"}))
    top, below = found["FolderList"]
    assert top["FolderUuid"] == folder["FolderUuid"]
    assert (top["NumberOfOrders"], top["NumberOfSubfolders"]) == (2, 1)
    assert uuids(top["PatientOrderList"], "PatientOrderUuid") == [
        newer["PatientOrderUuid"],
        older["PatientOrderUuid"],
    ]
    assert uuids(below["PatientOrderList"], "PatientOrderUuid") == [in_sub["PatientOrderUuid"]]
    # The same summary as an item of /getpatientorderlist.
    listed = ok(post(server, account, "/getpatientorderlist", {"PatientId": newer["PatientId"]}))
    assert top["PatientOrderList"][0] == listed["PatientOrderList"][0]
    # Not asked ("False", "" or absent): counts only.
    for value in ("False", "", "false"):
        plain = ok(
            csharp(server, account, SEARCH, {"FolderName": name, "GetOrdersInFolder": value})
        )
        assert [f["PatientOrderList"] for f in plain["FolderList"]] == [[], []]
        assert [f["NumberOfOrders"] for f in plain["FolderList"]] == [2, 1]
    posted = ok(post(server, account, SEARCH, {"FolderName": name, "GetOrdersInFolder": True}))
    assert posted == found

    # Deleting an order removes it from its folders.
    ok(
        post(
            server,
            account,
            "/deleteorder",
            {
                "PatientOrderInstitutionUuid": newer["PatientOrderInstitutionUuid"],
                "PatientOrderUuid": newer["PatientOrderUuid"],
            },
        )
    )
    top = search(server, account, FolderName=name, GetOrdersInFolder=True)[0]
    assert uuids(top["PatientOrderList"], "PatientOrderUuid") == [older["PatientOrderUuid"]]
    assert top["NumberOfOrders"] == 1


# -- validation ----------------------------------------------------------------------------

REQUIRED = required_keys(CREATE, ADD)


@pytest.mark.parametrize(("path", "key"), REQUIRED)
def test_each_required_key_missing(
    server: ServerProcess, account: TestAccount, path: str, key: str
) -> None:
    order = create_order(server, account, PatientId=unique("R"))
    folder = make_folder(server, account, unique("Required"))
    params: dict[str, Any] = {
        "FolderName": "Name",
        "PatientOrderUuid": order["PatientOrderUuid"],
        "FolderUuidList": [folder["FolderUuid"]],
    }
    params = blank_key_is_missing(server, account, path, params, key)
    params[key] = [] if key.endswith("List") else ""
    error(post(server, account, path, params), 400, key, "missing")
    del params[key]
    error(post(server, account, path, params), 400, key, "missing")
    if key.endswith("List"):
        error(csharp(server, account, path, {**params, key: [""]}), 400, key, "missing")


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        (CREATE, {"FolderName": ["x"]}, "FolderName"),
        (CREATE, {"FolderName": 7}, "FolderName"),
        (CREATE, {"FolderName": "x" * 201}, "FolderName"),
        (CREATE, {"FolderName": "a\x01b"}, "FolderName"),
        (CREATE, {"FolderName": "x", "ParentFolderUuid": "top"}, "ParentFolderUuid"),
        (CREATE, {"FolderName": "x", "FolderDescription": {"a": 1}}, "FolderDescription"),
        (CREATE, {"FolderName": "x", "Parent": ""}, "Parent"),
        (SEARCH, {"GetOrdersInFolder": "maybe"}, "GetOrdersInFolder"),
        (SEARCH, {"GetOrdersInFolder": 2}, "GetOrdersInFolder"),
        (SEARCH, {"ParentFolderUuid": "123"}, "ParentFolderUuid"),
        (SEARCH, {"FolderName": True}, "FolderName"),
        (ADD, {"PatientOrderUuid": str(uuid.uuid4()), "FolderUuidList": '["x"]'}, "FolderUuidList"),
        (ADD, {"PatientOrderUuid": str(uuid.uuid4()), "FolderUuidList": "[oops"}, "FolderUuidList"),
        (ADD, {"PatientOrderUuid": "x", "FolderUuidList": [str(uuid.uuid4())]}, "PatientOrderUuid"),
    ],
)
def test_wrong_values(
    server: ServerProcess, account: TestAccount, path: str, body: dict[str, Any], key: str
) -> None:
    error(post(server, account, path, body), 400, key)


def test_header_missing_and_not_json(server: ServerProcess, account: TestAccount) -> None:
    error(httpx.get(server.dicomweb + CREATE, auth=account.auth), 400, "CreateFolderParameters")
    error(
        httpx.get(
            server.dicomweb + ADD,
            headers={"AddOrderToFolderParameters": "{not json"},
            auth=account.auth,
        ),
        400,
        "AddOrderToFolderParameters",
        "JSON",
    )
    # searchfolder has no required key: no header lists every folder.
    assert "FolderList" in ok(httpx.get(server.dicomweb + SEARCH, auth=account.auth))
    error(httpx.get(server.dicomweb + SEARCH), 401)


def test_unknown_orders_and_folders(server: ServerProcess, account: TestAccount) -> None:
    folder = make_folder(server, account, unique("Known"))
    error(
        post(
            server,
            account,
            ADD,
            {"PatientOrderUuid": str(uuid.uuid4()), "FolderUuidList": [folder["FolderUuid"]]},
        ),
        404,
        "patient order",
    )
    order = create_order(server, account, PatientId=unique("U"))
    missing = str(uuid.uuid4())
    reason = error(
        csharp(
            server,
            account,
            ADD,
            {
                "PatientOrderUuid": order["PatientOrderUuid"],
                "FolderUuidList": json.dumps([missing]),
            },
        ),
        404,
    )
    assert missing in reason


def test_openapi_schemas_match(server: ServerProcess, account: TestAccount) -> None:
    document = httpx.get(server.url + "/openapi.json").json()

    def properties(path: str) -> set[str]:
        return response_properties(document, path)

    folder = make_folder(server, account, unique("Schema"))
    assert set(folder) == properties(CREATE) == FOLDER_KEYS
    assert set(search(server, account, FolderName="Schema")[0]) == FOLDER_KEYS
    order = create_order(server, account, PatientId=unique("S"))
    added = ok(
        post(
            server,
            account,
            ADD,
            {
                "PatientOrderUuid": order["PatientOrderUuid"],
                "FolderUuidList": [folder["FolderUuid"]],
            },
        )
    )
    assert set(added) == properties(ADD)
    assert set(ok(post(server, account, SEARCH, {}))) == properties(SEARCH)


def test_concurrent_identical_adds(server: ServerProcess, account: TestAccount) -> None:
    """Racing identical requests all succeed and leave one link (ON CONFLICT DO NOTHING)."""
    order = create_order(server, account, PatientId=unique("C"))
    folder = make_folder(server, account, unique("Race"))
    body = {"PatientOrderUuid": order["PatientOrderUuid"], "FolderUuidList": [folder["FolderUuid"]]}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: post(server, account, ADD, body), range(16)))
    added = [ok(r)["AddedFolderUuidList"] for r in responses]
    assert [folder["FolderUuid"]] in added
    assert order_folders(server, account, order) == [folder["FolderUuid"]]
