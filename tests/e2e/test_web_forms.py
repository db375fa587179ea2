"""The web application's forms that the browser test does not walk, posted as a browser
does (session cookie, CSRF token), on SQLite and PostgreSQL: folders (rename, move,
delete, share), share links (new expiry, revoke), administration (groups, institutions,
equipment), what a member is refused, and a new order's readable errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import httpx

from tests.support.dimse import new_ae_title
from tests.support.server import ServerProcess, TestAccount


@contextmanager
def browser(server: ServerProcess, email: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.post("/signin", data={"email": email, "password": password})
        assert answer.status_code == 303, answer.text
        yield client


def csrf(client: httpx.Client) -> str:
    """The session's CSRF token, as our pages hold it."""
    page = client.get("/orders")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token is not None
    return token.group(1)


def post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    """A form post from one of our pages (its CSRF token, our origin)."""
    return client.post(path, data={"csrf_token": csrf(client), **fields})


def api(server: ServerProcess, account: TestAccount, path: str) -> dict[str, object]:
    answer = httpx.post(server.dicomweb + path, json={}, auth=account.auth, timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def done(answer: httpx.Response, key: str) -> None:
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith(f"done={key}")


def test_folders_and_share_links(server: ServerProcess, account: TestAccount) -> None:
    with browser(server, account.email, account.password) as client:
        done(post(client, "/folders", name="Teaching", description=""), "folder-created")
        done(post(client, "/folders", name="Archive", description=""), "folder-created")
        folders = {
            f["FolderName"]: f["FolderUuid"]
            for f in api(server, account, "/searchfolder")["FolderList"]
        }  # type: ignore[index, union-attr]
        teaching, archive = folders["Teaching"], folders["Archive"]
        page = client.get("/folders", params={"folder": teaching})
        assert page.status_code == 200 and 'id="folder-title">Teaching<' in page.text
        moved = post(client, f"/folders/{teaching}/change", name="Teaching files", parent=archive)
        done(moved, "folder-changed")
        into_itself = post(client, f"/folders/{archive}/change", name="Archive", parent=teaching)
        assert into_itself.status_code == 400 and "cannot be moved into itself" in into_itself.text
        shared = post(client, f"/folders/{archive}/share", title="Board", expire="")
        assert shared.status_code == 200
        link = re.search(r'id="share-url" value="([^"]+)"', shared.text)
        assert link is not None and "/share/" in link.group(1)
        assert httpx.get(link.group(1), timeout=30).status_code == 200
        not_empty = post(client, f"/folders/{archive}/delete")
        assert not_empty.status_code == 409 and "not empty" in not_empty.text
        done(post(client, f"/folders/{archive}/delete", with_contents="1"), "folder-deleted")
        assert api(server, account, "/searchfolder")["FolderList"] == []
        assert httpx.get(link.group(1), timeout=30).status_code == 404  # its link ended
        # A share link of an order: a new last day, then revoked.
        made = httpx.post(
            server.dicomweb + "/createpatientorder",
            json={
                "InstitutionUuid": account.institution_uuid,
                "PatientName": "Doe^Jane",
                "PatientId": "P-forms",
                "PatientBirthdate": "1970-01-01",
                "Modality": "CT",
            },
            auth=account.auth,
            timeout=30,
        ).json()
        expire = (date.today() + timedelta(days=3)).isoformat()
        shared = post(client, f"/orders/{made['PatientOrderUuid']}/share", expire=expire)
        assert shared.status_code == 200
        (share,) = api(server, account, "/getsharelist")["ShareList"]  # type: ignore[misc]
        later = (date.today() + timedelta(days=90)).isoformat()
        done(post(client, f"/shares/{share['ShareUuid']}/extend", expire=later), "share-extended")
        (share,) = api(server, account, "/getsharelist")["ShareList"]  # type: ignore[misc]
        assert share["ExpireDate"] == later
        past = post(client, f"/shares/{share['ShareUuid']}/extend", expire="2020-01-01")
        assert past.status_code == 400 and "in the past" in past.text
        assert "Doe, Jane" in client.get("/shares").text
        done(post(client, f"/shares/{share['ShareUuid']}/revoke"), "share-deleted")
        assert api(server, account, "/getsharelist")["ShareList"] == []


def test_administration_and_what_a_member_is_refused(
    server: ServerProcess, account: TestAccount
) -> None:
    with browser(server, account.email, account.password) as admin:
        done(post(admin, "/admin/institutions", name="North"), "institution-added")
        institutions = api(server, account, "/getinstitutionlist")["InstitutionList"]
        north = next(i for i in institutions if i["InstitutionName"] == "North")  # type: ignore[index, union-attr]
        # AE titles are unique across the accounts of a server that other tests share.
        title = new_ae_title("CT")
        equipment = dict(
            institution=north["InstitutionUuid"],
            name="CT 1",
            modality="CT",
            ae_title=title,
            host="10.0.0.9",
            port="104",
        )
        done(post(admin, "/admin/equipment", **equipment), "equipment-added")
        bad_port = post(admin, "/admin/equipment", **{**equipment, "name": "CT 2", "port": "x"})
        assert bad_port.status_code == 400 and "port" in bad_port.text
        clash = post(admin, "/admin/equipment", **{**equipment, "name": "CT 2"})
        assert clash.status_code == 409 and f"AE title {title}" in clash.text
        (ct,) = api(server, account, "/getequipmentlist")["EquipmentList"]  # type: ignore[misc]
        assert (ct["AETitle"], ct["Host"], ct["Port"]) == (title, "10.0.0.9", 104)
        done(
            post(admin, f"/admin/equipment/{ct['EquipmentUuid']}", **{**equipment, "port": ""}),
            "equipment-changed",
        )
        (ct,) = api(server, account, "/getequipmentlist")["EquipmentList"]  # type: ignore[misc]
        assert ct["Port"] is None
        done(post(admin, f"/admin/equipment/{ct['EquipmentUuid']}/remove"), "equipment-removed")
        done(post(admin, "/admin/groups", name="Radiology"), "group-added")
        email, password = f"m-{account.account_uuid[:8]}@example.org", "member password 77"
        done(
            post(admin, "/admin/users", email=email, name="Mem", role="member", password=password),
            "user-added",
        )
        users = api(server, account, "/getuserlist")["UserList"]
        member = next(u for u in users if u["Email"] == email)  # type: ignore[index, union-attr]
        (group,) = api(server, account, "/getusergrouplist")["UserGroupList"]  # type: ignore[misc]
        done(
            post(admin, f"/admin/groups/{group['UserGroupUuid']}/members", user=member["UserUuid"]),
            "group-changed",
        )
        assert "Mem" in admin.get("/admin/groups").text
        with browser(server, email, password) as mem:
            for page in (
                "/admin/users",
                "/admin/groups",
                "/admin/institutions",
                "/admin/equipment",
            ):
                refused = mem.get(page)
                assert refused.status_code == 403 and "may not manage" in refused.text
            refused = post(
                mem, "/admin/users", email="x@example.org", role="admin", password="p" * 12
            )
            assert refused.status_code == 403
            assert 'id="nav-admin"' not in mem.get("/orders").text
        # Disabling the member ends their session at once.
        with browser(server, email, password) as mem:
            done(post(admin, f"/admin/users/{member['UserUuid']}/disable"), "user-changed")
            assert mem.get("/orders").status_code == 303
        denied = httpx.post(server.url + "/signin", data={"email": email, "password": password})
        assert denied.status_code == 403 and "disabled" in denied.text


def test_a_new_order_form_says_what_is_wrong(server: ServerProcess, account: TestAccount) -> None:
    with browser(server, account.email, account.password) as client:
        fields = dict(
            family="Doe",
            given="Jane",
            pid="P-form",
            birthdate="2999-01-01",
            modality="CT",
            institution=account.institution_uuid,
        )
        future = post(client, "/orders/new", **fields)
        assert future.status_code == 400 and "is in the future" in future.text
        assert 'value="P-form"' in future.text  # what was typed is kept
        odd = post(client, "/orders/new", **{**fields, "birthdate": "1970-01-01", "family": "A^B"})
        assert odd.status_code == 400 and "not allowed" in odd.text
        made = post(
            client, "/orders/new", **{**fields, "birthdate": "1970-01-01", "accession": "A-1"}
        )
        assert made.status_code == 303 and "done=order-created" in made.headers["location"]
        again = post(
            client,
            "/orders/new",
            **{**fields, "birthdate": "1970-01-01", "accession": "A-1", "pid": "P-2"},
        )
        assert again.status_code == 409 and "A-1" in again.text
