"""The administration and folder forms that replace the server's command line for
day-to-day work, posted as a browser does, on SQLite and PostgreSQL: a user's
institutions, renaming and removing groups and institutions, the default institution,
the account's DICOMweb switch, a folder share's description, the folder-name search and
a readable name clash. Each change is audited; members and readers are refused (403)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.test_web_forms import browser, done, post
from tests.support.server import ServerProcess, TestAccount


def call(server: ServerProcess, account: TestAccount, path: str, **body: Any) -> Any:
    """A custom API call as the account's admin (200 expected)."""
    answer = httpx.post(server.dicomweb + path, json=body, auth=account.auth, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def audited(server: ServerProcess, account: TestAccount, action: str) -> list[dict[str, Any]]:
    """The account's audit events of ``action``, newest first."""
    events: list[dict[str, Any]] = call(server, account, "/getauditlog", Action=action)[
        "AuditEventList"
    ]
    return events


def add_user(
    server: ServerProcess, account: TestAccount, admin: httpx.Client, role: str
) -> tuple[str, str, str]:
    """A new user of the account (e-mail, password, UserUuid)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    password = f"{role} password {uuid.uuid4().hex[:6]}"
    added = post(admin, "/admin/users", email=email, name=role, role=role, password=password)
    done(added, "user-added")
    users = call(server, account, "/getuserlist")["UserList"]
    return email, password, next(x["UserUuid"] for x in users if x["Email"] == email)


def new_order(server: ServerProcess, account: TestAccount, institution: str) -> str:
    made = call(
        server,
        account,
        "/createpatientorder",
        InstitutionUuid=institution,
        PatientName="Doe^Jane",
        PatientId=f"P-{uuid.uuid4().hex[:6]}",
        PatientBirthdate="1970-01-01",
        Modality="CT",
    )
    order: str = made["PatientOrderUuid"]
    return order


def institutions(server: ServerProcess, account: TestAccount) -> dict[str, dict[str, Any]]:
    listed = call(server, account, "/getinstitutionlist")["InstitutionList"]
    return {i["InstitutionName"]: i for i in listed}


def institution_list(server: ServerProcess, email: str, password: str) -> list[dict[str, Any]]:
    """The institutions this user sees."""
    answer = httpx.post(
        server.dicomweb + "/getinstitutionlist", json={}, auth=(email, password), timeout=30
    )
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["InstitutionList"]
    return listed


def eventually(check: Callable[[], bool], seconds: float = 5) -> bool:
    """Whether ``check`` comes true within ``seconds`` (a change that every server
    process applies within about a second)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def refused_to(
    server: ServerProcess, email: str, password: str, changes: list[tuple[str, dict[str, str]]]
) -> None:
    """Each change, posted by this (member or reader) user, is refused with 403."""
    with browser(server, email, password) as client:
        for path, fields in changes:
            answer = post(client, path, **fields)
            assert answer.status_code == 403, (path, answer.status_code)
            assert "may not manage" in answer.text, path
        assert client.get("/admin/account").status_code == 403


def test_an_admin_limits_a_user_to_institutions(
    server: ServerProcess, account: TestAccount
) -> None:
    with browser(server, account.email, account.password) as admin:
        done(post(admin, "/admin/institutions", name="North"), "institution-added")
        north = institutions(server, account)["North"]["InstitutionUuid"]
        email, password, member = add_user(server, account, admin, "member")
        page = admin.get("/admin/users").text
        assert f'action="/admin/users/{member}/institutions"' in page
        limit = post(admin, f"/admin/users/{member}/institutions", institution=north)
        done(limit, "user-changed")
        row = re.search(
            rf'<tr data-user="{re.escape(email)}">.*?</tr>', admin.get("/admin/users").text
        )
        assert row is not None and "<summary>North</summary>" in row.group(0)
        # The member now sees only that institution (their logins were renewed).
        seen = institution_list(server, email, password)
        assert [i["InstitutionUuid"] for i in seen] == [north]
        (event,) = audited(server, account, "user.set_institutions")
        assert event["UserEmail"] == account.email and event["Detail"].endswith(f": {north}")
        done(post(admin, f"/admin/users/{member}/institutions"), "user-changed")  # none: all
        # Cached logins are forgotten within about a second (the login epoch).
        assert eventually(lambda: len(institution_list(server, email, password)) == 2)
        own = post(admin, f"/admin/users/{account.user_uuid}/institutions", institution=north)
        assert own.status_code == 403 and "your own institutions" in own.text
        foreign = server.create_account()
        theirs = post(
            admin, f"/admin/users/{member}/institutions", institution=foreign.institution_uuid
        )
        assert theirs.status_code == 404
        _, _, reader_uuid = add_user(server, account, admin, "reader")
    changes = [(f"/admin/users/{reader_uuid}/institutions", {"institution": north})]
    refused_to(server, email, password, changes)


def test_groups_are_renamed_and_removed_after_a_confirmation(
    server: ServerProcess, account: TestAccount
) -> None:
    with browser(server, account.email, account.password) as admin:
        done(post(admin, "/admin/groups", name="Radiology"), "group-added")
        done(post(admin, "/admin/groups", name="Cardiology"), "group-added")
        groups = {
            g["UserGroupName"]: g["UserGroupUuid"]
            for g in call(server, account, "/getusergrouplist")["UserGroupList"]
        }
        radiology = groups["Radiology"]
        email, password, member = add_user(server, account, admin, "member")
        done(post(admin, f"/admin/groups/{radiology}/members", user=member), "group-changed")
        order = new_order(server, account, account.institution_uuid)
        call(
            server,
            account,
            "/assignordertousergroup",
            PatientOrderUuid=order,
            AssignedUserGroupUuid=radiology,
        )
        page = admin.get("/admin/groups").text
        assert "1 order assigned to this group" in page
        assert (
            "Remove the group Radiology? Its members (1) stay users, outside the group; the "
            "orders assigned to it (1) are then assigned to no group" in page
        )
        clash = post(admin, f"/admin/groups/{radiology}/rename", name="Cardiology")
        assert clash.status_code == 409 and "already exists" in clash.text
        done(post(admin, f"/admin/groups/{radiology}/rename", name="Neuro"), "group-renamed")
        names = [
            g["UserGroupName"] for g in call(server, account, "/getusergrouplist")["UserGroupList"]
        ]
        assert sorted(names) == ["Cardiology", "Neuro"]
        refused_to(
            server,
            email,
            password,
            [
                (f"/admin/groups/{radiology}/rename", {"name": "Mine"}),
                (f"/admin/groups/{radiology}/remove", {}),
            ],
        )
        done(post(admin, f"/admin/groups/{radiology}/remove"), "group-removed")
        names = [
            g["UserGroupName"] for g in call(server, account, "/getusergrouplist")["UserGroupList"]
        ]
        assert names == ["Cardiology"]
        props = call(
            server,
            account,
            "/getpatientorderproperties",
            PatientOrderUuid=order,
            PatientOrderInstitutionUuid=account.institution_uuid,
        )
        assert not props.get("AssignedUserGroupUuid")
        (removed,) = audited(server, account, "group.remove")
        assert removed["Detail"] == (
            f"Neuro ({radiology}): 1 member(s), 1 order assignment(s) ended"
        )
        assert audited(server, account, "group.rename")[0]["Detail"] == (
            f"Radiology -> Neuro ({radiology})"
        )


def test_institutions_are_renamed_made_default_and_removed_when_unused(
    server: ServerProcess, account: TestAccount
) -> None:
    home = account.institution_uuid
    with browser(server, account.email, account.password) as admin:
        done(post(admin, "/admin/institutions", name="North"), "institution-added")
        done(post(admin, "/admin/institutions", name="South"), "institution-added")
        listed = institutions(server, account)
        north, south = listed["North"]["InstitutionUuid"], listed["South"]["InstitutionUuid"]
        new_order(server, account, north)
        done(
            post(admin, f"/admin/institutions/{south}/rename", name="South wing"),
            "institution-changed",
        )
        clash = post(admin, f"/admin/institutions/{south}/rename", name="North")
        assert clash.status_code == 409 and "already exists" in clash.text
        page = admin.get("/admin/institutions").text
        assert "Cannot be removed: North has 1 order;" in page
        refused = post(admin, f"/admin/institutions/{north}/remove")
        assert refused.status_code == 409 and "North has 1 order;" in refused.text
        refused = post(admin, f"/admin/institutions/{home}/remove")
        assert refused.status_code == 409 and "is the default institution" in refused.text
        done(post(admin, f"/admin/institutions/{south}/default"), "institution-changed")
        listed = institutions(server, account)
        assert [n for n, i in listed.items() if i["IsDefault"]] == ["South wing"]
        done(post(admin, f"/admin/institutions/{home}/remove"), "institution-removed")
        assert sorted(institutions(server, account)) == ["North", "South wing"]
        assert [e["Action"] for e in audited(server, account, "institution.*")][:4] == [
            "institution.remove",
            "institution.set_default",
            "institution.rename",
            "institution.add",
        ]
        email, password, _ = add_user(server, account, admin, "member")
        reader_email, reader_password, _ = add_user(server, account, admin, "reader")
    changes = [
        (f"/admin/institutions/{north}/rename", {"name": "Mine"}),
        (f"/admin/institutions/{north}/default", {}),
        (f"/admin/institutions/{south}/remove", {}),
    ]
    refused_to(server, email, password, changes)
    refused_to(server, reader_email, reader_password, changes)


def test_the_dicomweb_switch_holds_within_seconds(
    server: ServerProcess, account: TestAccount
) -> None:
    studies = server.dicomweb + "/studies"
    assert httpx.get(studies, auth=account.auth, timeout=30).is_success  # now cached
    with browser(server, account.email, account.password) as admin:
        assert 'id="dicomweb-state">on<' in admin.get("/admin/account").text
        bad = post(admin, "/admin/account/dicomweb", enabled="maybe")
        assert bad.status_code == 400
        done(post(admin, "/admin/account/dicomweb", enabled="0"), "account-changed")
        # The cached login does not outlive the switch.
        assert eventually(lambda: httpx.get(studies, auth=account.auth).status_code == 403)
        page = admin.get("/admin/account")
        assert page.status_code == 200 and 'id="dicomweb-state">off<' in page.text
        assert admin.get("/orders").status_code == 200  # the pages stay open
        done(post(admin, "/admin/account/dicomweb", enabled="1"), "account-changed")
        assert eventually(lambda: httpx.get(studies, auth=account.auth).is_success)
        email, password, _ = add_user(server, account, admin, "member")
    details = [e["Detail"] for e in audited(server, account, "account.set_dicomweb")]
    assert details == ["DICOMweb on", "DICOMweb off"]
    refused_to(server, email, password, [("/admin/account/dicomweb", {"enabled": "0"})])


def test_folders_search_share_with_a_description_and_name_clashes_in_words(
    server: ServerProcess, account: TestAccount
) -> None:
    with browser(server, account.email, account.password) as client:
        done(post(client, "/folders", name="Teaching"), "folder-created")
        folders = call(server, account, "/searchfolder")["FolderList"]
        teaching = folders[0]["FolderUuid"]
        done(post(client, "/folders", name="Chest cases", parent=teaching), "folder-created")
        done(post(client, "/folders", name="Other", parent=teaching), "folder-created")
        found = {
            f["FolderName"]: f["FolderUuid"]
            for f in call(server, account, "/searchfolder")["FolderList"]
        }
        page = client.get("/folders", params={"q": "CHEST"})
        results = re.search(r'<ul class="tree root" id="folder-results">(.*?)</ul>', page.text)
        assert results is not None and "Teaching / Chest cases" in results.group(1)
        assert "Other" not in results.group(1)
        none = client.get("/folders", params={"q": "nothing like it"})
        assert "No folder name contains that." in none.text
        clash = post(
            client, f"/folders/{found['Other']}/change", name="chest  CASES", parent=teaching
        )
        assert clash.status_code == 409
        assert (
            "there is already a folder named &#x27;Chest cases&#x27; in &#x27;Teaching&#x27;"
            in clash.text
        )
        page = client.get("/folders", params={"folder": teaching})
        assert 'name="description"' in page.text.split('id="share-folder"')[1]
        shared = post(
            client,
            f"/folders/{teaching}/share",
            title="Board",
            description="Cases for Tuesday's board",
        )
        assert shared.status_code == 200
        link = re.search(r'id="share-url" value="([^"]+)"', shared.text)
        assert link is not None
        (share,) = call(server, account, "/getsharelist")["ShareList"]
        assert share["ShareDescription"] == "Cases for Tuesday's board"
        assert "Cases for Tuesday&#x27;s board" in httpx.get(link.group(1), timeout=30).text
