"""Share links over the custom API: create (orders, folders), list, delete; both wire forms.

Also the functions the recipient's side calls (``services.shares``), against the real
index the server wrote.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from openpacs.index.models import AuditEvent, Share, ShareOrder
from openpacs.services.passwords import verify_password
from openpacs.services.shares import (
    find_share_by_token,
    share_is_expired,
    share_order_ids,
    token_hash,
)
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

LINK = "/createsharelink"
BY_URL = "/sharepatientorderwithurl"
FOLDER = "/sharefolderwithurl"
LIST = "/getsharelist"
DELETE = "/deleteshare"

CREATED_KEYS = {
    "ShareUuid",
    "ShareUrl",
    "Kind",
    "FolderUuid",
    "PatientOrderUuidList",
    "ExpireDate",
    "Expired",
    "Downloadable",
    "PasswordProtected",
    "ShareTitle",
    "ShareDescription",
    "CreatedByUserUuid",
    "CreatedAt",
}
LISTED_KEYS = CREATED_KEYS - {"ShareUrl"}
FUTURE = "2099-12-31"


@pytest.fixture(scope="module")
def account(server: ServerProcess) -> TestAccount:
    return server.create_account()


def new_order(server: ServerProcess, account: TestAccount) -> str:
    uuid_: str = create_order(server, account, PatientId=f"SH-{uuid.uuid4().hex[:8]}")[
        "PatientOrderUuid"
    ]
    return uuid_


def info_list(*order_uuids: str) -> list[str]:
    """PatientOrderInfoList as the C# sample builds it: a list of JSON strings."""
    return [json.dumps({"PatientOrderUuid": u}) for u in order_uuids]


def make_folder(server: ServerProcess, account: TestAccount, parent: str = "") -> str:
    body = {"FolderName": f"Shared {uuid.uuid4().hex[:8]}", "ParentFolderUuid": parent}
    folder_uuid: str = ok(post(server, account, "/createfolder", body))["FolderUuid"]
    return folder_uuid


def add_to_folder(server: ServerProcess, account: TestAccount, order: str, folder: str) -> None:
    ok(
        post(
            server,
            account,
            "/addordertofolder",
            {"PatientOrderUuid": order, "FolderUuidList": [folder]},
        )
    )


def listed(server: ServerProcess, account: TestAccount) -> dict[str, dict[str, Any]]:
    shares = ok(csharp(server, account, LIST))["ShareList"]
    return {s["ShareUuid"]: s for s in shares}


def token_of(server: ServerProcess, share: dict[str, Any]) -> str:
    prefix = server.url + "/share/"
    url: str = share["ShareUrl"]
    assert url.startswith(prefix), url
    return url[len(prefix) :]


def stored(server: ServerProcess, share_uuid: str) -> Share:
    with database(server) as session:
        row = session.scalar(select(Share).where(Share.uuid == share_uuid))
        assert row is not None
        session.expunge(row)
        return row


# -- create --------------------------------------------------------------------------------


def test_share_link_in_the_csharp_form(server: ServerProcess, account: TestAccount) -> None:
    a, b = new_order(server, account), new_order(server, account)
    created = ok(
        csharp(
            server,
            account,
            LINK,
            {
                "PatientOrderInfoList": info_list(a, b),  # double encoded by the helper
                "ExpireDate": FUTURE,
                "SharePassword": "s3cret pass",
                "Downloadable": "True",
            },
        )
    )
    assert set(created) == CREATED_KEYS
    assert created["Kind"] == "orders"
    assert sorted(created["PatientOrderUuidList"]) == sorted([a, b])
    assert (created["ExpireDate"], created["Expired"]) == (FUTURE, False)
    assert (created["Downloadable"], created["PasswordProtected"]) == (True, True)
    assert (created["FolderUuid"], created["ShareTitle"]) == ("", "")
    assert created["CreatedByUserUuid"] == account.user_uuid

    token = token_of(server, created)
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    row = stored(server, created["ShareUuid"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() == token_hash(token)
    assert token not in row.token_hash
    assert row.password_hash is not None and row.password_hash.startswith("$argon2")
    assert verify_password(row.password_hash, "s3cret pass")
    assert (row.expire_date, row.downloadable, row.folder_id) == (FUTURE, True, None)

    with database(server) as session:
        found = find_share_by_token(session, token)
        assert found is not None and found.uuid == created["ShareUuid"]
        assert find_share_by_token(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert find_share_by_token(session, "") is None
        assert find_share_by_token(session, "x" * 10_000) is None
        ids = share_order_ids(session, found)
        audits = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "share.create",
                AuditEvent.detail.contains(created["ShareUuid"]),
            )
        ).all()
    assert len(ids) == 2
    assert len(audits) == 2  # one per shared study


def test_share_link_in_the_post_form(server: ServerProcess, account: TestAccount) -> None:
    a, b = new_order(server, account), new_order(server, account)
    # Real JSON: objects, JSON strings and a bare UUID are all order-info items.
    body = {
        "PatientOrderInfoList": [{"PatientOrderUuid": a}, json.dumps({"PatientOrderUuid": b}), a],
        "ExpireDate": FUTURE,
        "Downloadable": False,
    }
    created = ok(post(server, account, LINK, body))
    assert sorted(created["PatientOrderUuidList"]) == sorted([a, b])
    assert (created["Downloadable"], created["PasswordProtected"]) == (False, False)
    assert stored(server, created["ShareUuid"]).password_hash is None
    # Defaults: no password, no download.
    plain = ok(
        post(server, account, LINK, {"PatientOrderInfoList": info_list(a), "ExpireDate": FUTURE})
    )
    assert (plain["Downloadable"], plain["PasswordProtected"]) == (False, False)
    assert plain["ShareUrl"] != created["ShareUrl"]


@pytest.mark.parametrize("send", [csharp, post], ids=["get", "post"])
def test_share_orders_with_url(server: ServerProcess, account: TestAccount, send: Any) -> None:
    a, b = new_order(server, account), new_order(server, account)
    created = ok(
        send(
            server,
            account,
            BY_URL,
            {
                "OrderUuidList": [a, " " + b] if send is csharp else [a, b],
                "ExpireDate": FUTURE,
                "SharePassword": "",
                "UserCanDownloadStudies": "true" if send is csharp else True,
            },
        )
    )
    assert set(created) == CREATED_KEYS
    assert sorted(created["PatientOrderUuidList"]) == sorted([a, b])
    assert (created["Downloadable"], created["PasswordProtected"]) == (True, False)
    token_of(server, created)
    # "False" and "" are false.
    for value in ("False", ""):
        made = ok(
            csharp(
                server,
                account,
                BY_URL,
                {"OrderUuidList": [a], "ExpireDate": FUTURE, "UserCanDownloadStudies": value},
            )
        )
        assert made["Downloadable"] is False


@pytest.mark.parametrize("send", [csharp, post], ids=["get", "post"])
def test_share_folder_with_url(server: ServerProcess, account: TestAccount, send: Any) -> None:
    folder = make_folder(server, account)
    sub = make_folder(server, account, folder)
    first = new_order(server, account)
    add_to_folder(server, account, first, folder)
    created = ok(
        send(
            server,
            account,
            FOLDER,
            {
                "FolderUuid": folder,
                "SharePassword": "pw",
                "ShareTitle": "For review",
                "ShareDescription": "Cases of the week",
                "ExpireDate": FUTURE,
                "UserCanDownloadStudies": "True" if send is csharp else True,
            },
        )
    )
    assert set(created) == CREATED_KEYS
    assert created["Kind"] == "folder"
    assert created["FolderUuid"] == folder
    assert (created["ShareTitle"], created["ShareDescription"]) == (
        "For review",
        "Cases of the week",
    )
    assert (created["Downloadable"], created["PasswordProtected"]) == (True, True)
    assert created["PatientOrderUuidList"] == [first]
    token = token_of(server, created)
    row = stored(server, created["ShareUuid"])
    assert row.folder_id is not None

    # Live: orders added later, also to a subfolder, are shared; no ShareOrder rows.
    later, below = new_order(server, account), new_order(server, account)
    add_to_folder(server, account, later, folder)
    add_to_folder(server, account, below, sub)
    assert sorted(listed(server, account)[created["ShareUuid"]]["PatientOrderUuidList"]) == sorted(
        [first, later, below]
    )
    with database(server) as session:
        share = find_share_by_token(session, token)
        assert share is not None
        assert len(share_order_ids(session, share)) == 3
        assert (
            session.scalars(select(ShareOrder).where(ShareOrder.share_id == share.id)).all() == []
        )


def test_folder_share_defaults(server: ServerProcess, account: TestAccount) -> None:
    folder = make_folder(server, account)
    created = ok(csharp(server, account, FOLDER, {"FolderUuid": folder}))
    name = ok(post(server, account, "/searchfolder", {"ParentFolderUuid": ""}))["FolderList"]
    folder_name = next(f["FolderName"] for f in name if f["FolderUuid"] == folder)
    assert created["ShareTitle"] == folder_name  # the title defaults to the folder's name
    assert (created["ExpireDate"], created["Expired"]) == ("", False)  # never expires
    assert (created["Downloadable"], created["PasswordProtected"]) == (False, False)
    assert created["PatientOrderUuidList"] == []
    assert stored(server, created["ShareUuid"]).expire_date == ""


# -- validation ----------------------------------------------------------------------------


def test_expire_date_today_works_and_the_past_is_refused(
    server: ServerProcess, account: TestAccount
) -> None:
    order = new_order(server, account)
    folder = make_folder(server, account)
    today = datetime.now(UTC).date()  # the test server's time zone is UTC
    yesterday = today - timedelta(days=1)
    ok(post(server, account, BY_URL, {"OrderUuidList": [order], "ExpireDate": today.isoformat()}))
    for path, body in (
        (LINK, {"PatientOrderInfoList": info_list(order)}),
        (BY_URL, {"OrderUuidList": [order]}),
        (FOLDER, {"FolderUuid": folder}),
    ):
        for send in (csharp, post):
            reason = error(
                send(server, account, path, {**body, "ExpireDate": yesterday.isoformat()}),
                400,
                "ExpireDate",
                "in the past",
            )
            assert today.isoformat() in reason and "UTC" in reason
            for bad in ("2031-13-01", "31-12-2031", "2031-02-30", "tomorrow", "2031/01/01"):
                error(send(server, account, path, {**body, "ExpireDate": bad}), 400, "ExpireDate")
        error(post(server, account, path, {**body, "ExpireDate": 20310101}), 400, "ExpireDate")


REQUIRED = required_keys(LINK, BY_URL, FOLDER, DELETE)


@pytest.mark.parametrize(("path", "key"), REQUIRED)
def test_each_required_key_missing(
    server: ServerProcess, account: TestAccount, path: str, key: str
) -> None:
    order = new_order(server, account)
    params: dict[str, Any] = {
        "PatientOrderInfoList": info_list(order),
        "OrderUuidList": [order],
        "ExpireDate": FUTURE,
        "FolderUuid": make_folder(server, account),
        "ShareUuid": str(uuid.uuid4()),
    }
    params = blank_key_is_missing(server, account, path, params, key)
    del params[key]
    error(post(server, account, path, params), 400, key, "missing")
    if key.endswith("List"):
        # An empty list, in every spelling, is a missing list.
        for empty in ([""], [], "[]", '[""]'):
            error(csharp(server, account, path, {**params, key: empty}), 400, key, "missing")
            error(post(server, account, path, {**params, key: empty}), 400, key, "missing")


def test_empty_order_id_inside_the_list(server: ServerProcess, account: TestAccount) -> None:
    order = new_order(server, account)
    error(
        csharp(
            server,
            account,
            LINK,
            {"PatientOrderInfoList": info_list("", order), "ExpireDate": FUTURE},
        ),
        400,
        "PatientOrderInfoList",
        "empty PatientOrderUuid",
    )
    error(
        post(
            server,
            account,
            LINK,
            {"PatientOrderInfoList": [{"OrderUuid": order}], "ExpireDate": FUTURE},
        ),
        400,
        "PatientOrderInfoList",
    )


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        (LINK, {"PatientOrderInfoList": "[oops", "ExpireDate": FUTURE}, "PatientOrderInfoList"),
        (LINK, {"PatientOrderInfoList": 5, "ExpireDate": FUTURE}, "PatientOrderInfoList"),
        (BY_URL, {"OrderUuidList": ["nope"], "ExpireDate": FUTURE}, "OrderUuidList"),
        (BY_URL, {"OrderUuidList": {"a": 1}, "ExpireDate": FUTURE}, "OrderUuidList"),
        (LINK, {"Downloadable": "perhaps", "ExpireDate": FUTURE}, "Downloadable"),
        (BY_URL, {"UserCanDownloadStudies": "yes please", "ExpireDate": FUTURE}, "UserCan"),
        (LINK, {"SharePassword": ["pw"], "ExpireDate": FUTURE}, "SharePassword"),
        (LINK, {"SharePassword": "x" * 201, "ExpireDate": FUTURE}, "SharePassword"),
        (FOLDER, {"FolderUuid": "folder-1"}, "FolderUuid"),
        (FOLDER, {"ShareTitle": 3}, "ShareTitle"),
        (FOLDER, {"ShareTitle": "t" * 201}, "ShareTitle"),
        (FOLDER, {"Downloadable": True}, "Downloadable"),  # not a key of this endpoint
        (DELETE, {"ShareUuid": "share-1"}, "ShareUuid"),
    ],
)
def test_wrong_values(
    server: ServerProcess, account: TestAccount, path: str, body: dict[str, Any], key: str
) -> None:
    base: dict[str, Any] = {
        LINK: {"PatientOrderInfoList": info_list(str(uuid.uuid4()))},
        BY_URL: {"OrderUuidList": [str(uuid.uuid4())]},
        FOLDER: {"FolderUuid": str(uuid.uuid4())},
        DELETE: {},
    }[path]
    error(post(server, account, path, {**base, **body}), 400, key)


def test_orders_and_folders_of_other_accounts_are_not_found(
    server: ServerProcess, account: TestAccount
) -> None:
    mine = new_order(server, account)
    other = server.create_account()
    theirs = new_order(server, other)
    their_folder = make_folder(server, other)
    before = set(listed(server, account))
    reason = error(
        csharp(
            server,
            account,
            LINK,
            {"PatientOrderInfoList": info_list(mine, theirs), "ExpireDate": FUTURE},
        ),
        404,
        "PatientOrderInfoList",
    )
    assert theirs in reason
    error(
        post(server, account, BY_URL, {"OrderUuidList": [theirs, mine], "ExpireDate": FUTURE}),
        404,
        "OrderUuidList",
    )
    error(
        post(server, account, BY_URL, {"OrderUuidList": [str(uuid.uuid4())], "ExpireDate": FUTURE}),
        404,
        "OrderUuidList",
    )
    error(csharp(server, account, FOLDER, {"FolderUuid": their_folder}), 404, "FolderUuid")
    assert set(listed(server, account)) == before  # nothing was created

    # Shares are listed and deleted only by their own account.
    share = ok(post(server, account, BY_URL, {"OrderUuidList": [mine], "ExpireDate": FUTURE}))
    assert share["ShareUuid"] not in listed(server, other)
    error(csharp(server, other, DELETE, {"ShareUuid": share["ShareUuid"]}), 404, "ShareUuid")
    assert share["ShareUuid"] in listed(server, account)


# -- list and delete -----------------------------------------------------------------------


def test_list_and_delete(server: ServerProcess, account: TestAccount) -> None:
    fresh = server.create_account()
    order = new_order(server, fresh)
    folder = make_folder(server, fresh)
    assert ok(post(server, fresh, LIST, {})) == {"ShareList": []}
    link = ok(
        post(
            server,
            fresh,
            LINK,
            {"PatientOrderInfoList": info_list(order), "ExpireDate": FUTURE, "SharePassword": "pw"},
        )
    )
    by_url = ok(post(server, fresh, BY_URL, {"OrderUuidList": [order], "ExpireDate": FUTURE}))
    of_folder = ok(post(server, fresh, FOLDER, {"FolderUuid": folder, "ShareTitle": "T"}))

    for response in (csharp(server, fresh, LIST), post(server, fresh, LIST, {})):
        body = ok(response)
        assert set(body) == {"ShareList"}
        shares = body["ShareList"]
        # Newest first; never a URL or a token.
        assert [s["ShareUuid"] for s in shares] == [
            of_folder["ShareUuid"],
            by_url["ShareUuid"],
            link["ShareUuid"],
        ]
        assert all(set(s) == LISTED_KEYS for s in shares)
        for created in (link, by_url, of_folder):
            assert token_of(server, created) not in response.text
        got = {s["ShareUuid"]: s for s in shares}
        for created in (link, by_url, of_folder):
            assert got[created["ShareUuid"]] == {
                k: v for k, v in created.items() if k != "ShareUrl"
            }
        assert got[link["ShareUuid"]]["PasswordProtected"] is True
        assert got[of_folder["ShareUuid"]]["Kind"] == "folder"

    # An expired share is listed as expired.
    with database(server) as session:
        session.execute(
            update(Share).where(Share.uuid == by_url["ShareUuid"]).values(expire_date="2001-01-01")
        )
    assert listed(server, fresh)[by_url["ShareUuid"]]["Expired"] is True
    assert listed(server, fresh)[link["ShareUuid"]]["Expired"] is False

    # Delete in both forms; a second delete is a 404.
    deleted = ok(csharp(server, fresh, DELETE, {"ShareUuid": link["ShareUuid"]}))
    assert deleted == {"ShareUuid": link["ShareUuid"]}
    ok(post(server, fresh, DELETE, {"ShareUuid": of_folder["ShareUuid"]}))
    assert list(listed(server, fresh)) == [by_url["ShareUuid"]]
    error(post(server, fresh, DELETE, {"ShareUuid": link["ShareUuid"]}), 404, "ShareUuid")
    with database(server) as session:
        assert find_share_by_token(session, token_of(server, link)) is None
        assert session.scalar(select(Share).where(Share.uuid == of_folder["ShareUuid"])) is None
        # The refused second delete is audited too, when its event has landed: count
        # the delete that succeeded.
        assert session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "share.delete",
                AuditEvent.outcome == "success",
                AuditEvent.detail.contains(link["ShareUuid"]),
            )
        ).one()


def test_deleting_an_order_removes_it_from_every_share(
    server: ServerProcess, account: TestAccount
) -> None:
    keep, gone = new_order(server, account), new_order(server, account)
    folder = make_folder(server, account)
    add_to_folder(server, account, gone, folder)
    add_to_folder(server, account, keep, folder)
    one = ok(post(server, account, BY_URL, {"OrderUuidList": [keep, gone], "ExpireDate": FUTURE}))
    two = ok(
        post(server, account, LINK, {"PatientOrderInfoList": info_list(gone), "ExpireDate": FUTURE})
    )
    three = ok(post(server, account, FOLDER, {"FolderUuid": folder}))
    institution = account.institution_uuid
    ok(
        post(
            server,
            account,
            "/deleteorder",
            {"PatientOrderInstitutionUuid": institution, "PatientOrderUuid": gone},
        )
    )
    shares = listed(server, account)
    assert shares[one["ShareUuid"]]["PatientOrderUuidList"] == [keep]
    assert shares[two["ShareUuid"]]["PatientOrderUuidList"] == []
    assert shares[three["ShareUuid"]]["PatientOrderUuidList"] == [keep]
    with database(server) as session:
        share = find_share_by_token(session, token_of(server, one))
        assert share is not None
        assert len(share_order_ids(session, share)) == 1


def test_openapi_schemas_match(server: ServerProcess, account: TestAccount) -> None:
    document = httpx.get(server.url + "/openapi.json").json()

    def properties(path: str) -> set[str]:
        return response_properties(document, path)

    assert properties(LINK) == properties(BY_URL) == properties(FOLDER) == CREATED_KEYS
    assert properties(LIST) == {"ShareList"}
    assert set(document["components"]["schemas"]["ShareInfo"]["properties"]) == LISTED_KEYS
    assert properties(DELETE) == {"ShareUuid"}


# -- expiry in the server's time zone -------------------------------------------------------


def test_share_is_expired() -> None:
    share = Share(expire_date="2030-06-15")
    assert not share_is_expired(share, "UTC", date(2030, 6, 14))
    assert not share_is_expired(share, "UTC", date(2030, 6, 15))  # works through that day
    assert share_is_expired(share, "UTC", date(2030, 6, 16))
    assert not share_is_expired(Share(expire_date=""), "UTC", date(2999, 1, 1))
    assert share_is_expired(Share(expire_date="garbage"), "UTC", date(2000, 1, 1))  # fail closed
    # Without ``today``: today in the zone. Kiritimati (UTC+14) and Pago Pago (UTC-11) are
    # never on the same date; a share that ends "today" in Pago Pago has ended there only
    # once it is the next day in Pago Pago.
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Amsterdam"):
        today = datetime.now(ZoneInfo(zone)).date()
        assert not share_is_expired(Share(expire_date=today.isoformat()), zone)
        yesterday = (today - timedelta(days=1)).isoformat()
        assert share_is_expired(Share(expire_date=yesterday), zone)


@pytest.fixture(scope="module")
def kiritimati(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server 14 hours ahead of UTC (SQLite), so 'today' there is not today in UTC."""
    process = ServerProcess(
        Path(tmp_path_factory.mktemp("kiritimati")),
        env={
            "OPENPACS_TIMEZONE": "Pacific/Kiritimati",
            "OPENPACS_PUBLIC_URL": "https://pacs.example.org/",
        },
    ).start()
    yield process
    process.stop()


def test_expiry_uses_the_servers_time_zone(kiritimati: ServerProcess) -> None:
    account = kiritimati.create_account()
    order = new_order(kiritimati, account)
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    created = ok(
        post(
            kiritimati, account, BY_URL, {"OrderUuidList": [order], "ExpireDate": today.isoformat()}
        )
    )
    # The configured public URL, without a doubled slash.
    assert created["ShareUrl"].startswith("https://pacs.example.org/share/")
    yesterday = (today - timedelta(days=1)).isoformat()
    reason = error(
        post(kiritimati, account, BY_URL, {"OrderUuidList": [order], "ExpireDate": yesterday}),
        400,
        "ExpireDate",
    )
    assert "Pacific/Kiritimati" in reason
