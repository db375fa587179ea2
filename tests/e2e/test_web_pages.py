"""Pages of the web application read as a browser would, on SQLite and PostgreSQL:
unknown addresses (a page for people, the plain answer for programs), errors that lead
back to the form, the order list's odd requests, and how an order's values are shown."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import httpx
import pydicom
from pydicom.uid import generate_uid

from openpacs.web.ui.layout import CSP
from tests.e2e.test_web_forms import browser, csrf
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import stow_files

CT = Path(__file__).resolve().parents[1] / "data" / "dicom" / "pydicom__CT_small.dcm"


def test_an_unknown_address_is_a_page_for_people_and_plain_for_programs(
    server: ServerProcess, account: TestAccount
) -> None:
    stranger = httpx.get(server.url + "/no/such/page", timeout=30)
    assert stranger.status_code == 404
    assert stranger.headers["content-type"].startswith("text/html")
    assert stranger.headers["content-security-policy"] == CSP
    assert "<h1>Page not found</h1>" in stranger.text and 'href="/signin"' in stranger.text
    assert "/static/app.css" in stranger.text  # the application's look
    with browser(server, account.email, account.password) as client:
        mistyped = client.get("/orderz")
        assert mistyped.status_code == 404 and 'id="sign-out"' in mistyped.text
        assert 'href="/orders">Go to the orders' in mistyped.text
        visited = client.get("/folders/1234/delete")  # a form's address, not a page
        assert visited.status_code == 405 and "Not available this way" in visited.text
        assert visited.headers["content-security-policy"] == CSP
        escaped = client.get("/<script>x")
        assert escaped.status_code == 404 and "<script>x" not in escaped.text
    for path in ("/dicomweb/no/such/resource", "/static/nothing.js", "/healthz/x"):
        answer = httpx.get(server.url + path, auth=account.auth, timeout=30)
        assert answer.status_code == 404, path
        assert not answer.headers["content-type"].startswith("text/html"), path


def test_a_failed_form_links_back_to_its_own_page_only(
    server: ServerProcess, account: TestAccount
) -> None:
    with browser(server, account.email, account.password) as client:
        form = {"csrf_token": csrf(client), "expire": "2020-01-01"}
        came_from = {"referer": server.url + "/shares?show=all"}
        failed = client.post("/shares/not-a-share/extend", data=form, headers=came_from)
        assert failed.status_code == 400 and "<h1>That did not work</h1>" in failed.text
        assert 'href="/shares?show=all" id="back"' in failed.text
        for elsewhere in ("https://evil.example/shares", server.url + "//evil.example/x"):
            other = client.post(
                "/shares/not-a-share/extend", data=form, headers={"referer": elsewhere}
            )
            assert other.status_code == 400 and 'id="back"' not in other.text
            assert "evil.example" not in other.text
        refused = client.post("/folders", data={"name": "x"}, headers=came_from)  # no token
        assert refused.status_code == 403 and 'href="/shares?show=all" id="back"' in refused.text


def new_order(server: ServerProcess, account: TestAccount, name: str, **fields: str) -> str:
    """A scheduled order of ``name``; ``fields`` are more (or other) API parameters."""
    made = httpx.post(
        server.dicomweb + "/createpatientorder",
        json={
            "InstitutionUuid": account.institution_uuid,
            "PatientName": name,
            "PatientId": "P-" + name,
            "PatientBirthdate": "1970-01-01",
            "Modality": "CT",
            **fields,
        },
        auth=account.auth,
        timeout=30,
    )
    assert made.status_code == 200, made.text
    return str(made.json()["PatientOrderUuid"])


def listed_names(page: httpx.Response) -> set[str]:
    assert page.status_code == 200, page.text
    return set(re.findall(r'<a class="patient" href="[^"]+">([^<]+)</a>', page.text))


def test_the_order_list_has_every_filter_of_the_vendor_order_search(
    server: ServerProcess, account: TestAccount
) -> None:
    with browser(server, account.email, account.password) as client:
        token = csrf(client)
        for name in ("North", "South"):
            added = client.post("/admin/institutions", data={"csrf_token": token, "name": name})
            assert added.status_code == 303, added.text
        institutions = {
            i["InstitutionName"]: i["InstitutionUuid"]
            for i in httpx.post(
                server.dicomweb + "/getinstitutionlist", json={}, auth=account.auth, timeout=30
            ).json()["InstitutionList"]
        }
        north, south = institutions["North"], institutions["South"]
        new_order(
            server,
            account,
            "Ant^A",
            OtherPatientId="OTHER-1",
            Modality="MR",
            PatientBirthdate="1950-05-05",
            InstitutionUuid=north,
        )
        new_order(
            server,
            account,
            "Bee^B",
            OtherPatientId="OTHER-2",
            Modality="US",
            PatientBirthdate="1980-01-01",
            InstitutionUuid=south,
        )
        new_order(server, account, "Cat^C", Modality="CT", PatientBirthdate="2000-12-31")

        assert listed_names(client.get("/orders", params={"opid": "OTHER-1"})) == {"Ant, A"}
        assert listed_names(client.get("/orders", params={"opid": "OTHER-*"})) == {
            "Ant, A",
            "Bee, B",
        }
        born = client.get("/orders", params={"bfrom": "1979-01-01", "bto": "2000-12-31"})
        assert listed_names(born) == {"Bee, B", "Cat, C"}
        assert listed_names(client.get("/orders", params={"bto": "1950-05-05"})) == {"Ant, A"}
        both = client.get("/orders", params=[("modality", "mr"), ("modality", "US ")])
        assert listed_names(both) == {"Ant, A", "Bee, B"}
        two_places = client.get("/orders", params=[("institution", north), ("institution", south)])
        assert listed_names(two_places) == {"Ant, A", "Bee, B"}
        assert listed_names(client.get("/orders", params={"institution": south})) == {"Bee, B"}

        # The form shows the search it answered: the new fields filled, the choices ticked,
        # "More filters" open because one of its filters is set; paging keeps them all.
        form = client.get(
            "/orders",
            params=[
                ("modality", "MR"),
                ("modality", "US"),
                ("institution", north),
                ("institution", south),
                ("opid", "OTHER-*"),
                ("size", "25"),
            ],
        ).text
        for box in ("MR", "US", north, south):
            assert re.search(rf'value="{box}" id="f-\w+-\d+" checked>', form), box
        assert not re.search(r'value="CT" id="f-modality-\d+" checked>', form)
        assert 'id="more-filters" open>' in form
        assert 'id="f-opid" name="opid" value="OTHER-*"' in form
        assert 'id="more-filters" open>' not in client.get("/orders").text

        bad_birth = client.get("/orders", params={"bfrom": "2000-01-01", "bto": "1999-01-01"})
        assert bad_birth.status_code == 400
        assert "Birth date from is after Birth date to." in bad_birth.text
        not_ours = client.get("/orders", params=[("institution", north), ("institution", "zzz")])
        assert not_ours.status_code == 400 and "not one of yours" in not_ours.text


def test_the_list_keeps_repeated_filters_across_pages(
    server: ServerProcess, account: TestAccount
) -> None:
    for n in range(3):
        new_order(server, account, f"Page^{n}", Modality="MR")
    new_order(server, account, "Page^us", Modality="US")
    new_order(server, account, "Page^ct", Modality="CT")
    with browser(server, account.email, account.password) as client:
        search = [("modality", "MR"), ("modality", "US"), ("sort", "name")]
        past_the_end = client.get("/orders", params=[*search, ("page", "9")])
        assert past_the_end.status_code == 303
        assert past_the_end.headers["location"] == "/orders?sort=name&modality=MR&modality=US"
        assert 'id="total">4</strong>' in client.get(past_the_end.headers["location"]).text


def test_the_order_list_answers_odd_requests_in_words(
    server: ServerProcess, account: TestAccount
) -> None:
    for name in ("Doe^Jane", "Roe^Rick"):
        new_order(server, account, name)
    with browser(server, account.email, account.password) as client:
        past_the_end = client.get("/orders", params={"page": "999", "name": "doe"})
        assert past_the_end.status_code == 303
        assert past_the_end.headers["location"] == "/orders?name=doe"
        last = client.get(past_the_end.headers["location"])
        assert '<span class="count" id="count">1–1 of <strong id="total">1</strong>' in last.text
        zzz = client.get("/orders", params={"institution": "zzz"})
        assert zzz.status_code == 400
        assert "not one of yours" in zzz.text and "InstitutionUuidList" not in zzz.text
        bad_date = client.get("/orders", params={"from": "2020-13-01"})
        assert bad_date.status_code == 400
        assert "Study date from: &#x27;2020-13-01&#x27; is not a date" in bad_date.text


def test_several_orders_are_shared_by_one_link(server: ServerProcess, account: TestAccount) -> None:
    jane = new_order(server, account, "Doe^Jane")
    rick = new_order(server, account, "Roe^Rick")
    new_order(server, account, "Poe^Edgar")  # not ticked
    with browser(server, account.email, account.password) as client:
        listed = client.get("/orders").text
        assert listed.count('type="checkbox" name="order" form="share-selected"') == 3
        assert 'id="share-selected-submit"' in listed
        token = csrf(client)
        form = {"csrf_token": token, "order": [jane, rick, jane], "expire": "2099-01-01"}
        shared = client.post("/orders/share", data=form)
        assert shared.status_code == 200, shared.text
        link = re.search(r'id="share-url" value="([^"]+)"', shared.text)
        assert link is not None
        recipient = httpx.get(link.group(1), timeout=30).text
        assert "Doe, Jane" in recipient and "Roe, Rick" in recipient
        assert "Poe, Edgar" not in recipient
        nothing = client.post("/orders/share", data={"csrf_token": token, "expire": "2099-01-01"})
        assert nothing.status_code == 400 and "Tick the orders to share" in nothing.text


def test_an_order_shows_multi_valued_fields_in_words(
    server: ServerProcess, account: TestAccount
) -> None:
    assert stow_files(server.dicomweb, account.auth, [CT]).status_code == 200
    listed = httpx.post(
        server.dicomweb + "/getpatientorderlist", json={}, auth=account.auth, timeout=30
    ).json()
    order = listed["PatientOrderList"][0]["PatientOrderUuid"]
    with browser(server, account.email, account.password) as client:
        text = client.get(f"/orders/{order}").text
        assert "<dd>ABCD1234, 1234ABCD</dd>" in text and "ABCD1234\\" not in text
        # The first thing a keyboard reaches: a link past the navigation to the content.
        body = text.split("<body", 1)[1]
        assert body.split("<a ", 1)[1].startswith('class="skip-link" href="#main"')
        assert '<main id="main" tabindex="-1"' in body


def test_each_series_of_an_order_downloads_as_its_own_zip(
    server: ServerProcess, account: TestAccount, tmp_path: Path
) -> None:
    second = pydicom.dcmread(CT)
    second.SeriesInstanceUID = generate_uid()
    second.SOPInstanceUID = second.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    second.SeriesNumber = 2
    copy = tmp_path / "second-series.dcm"
    second.save_as(copy)
    assert stow_files(server.dicomweb, account.auth, [CT, copy]).status_code == 200
    listed = httpx.post(
        server.dicomweb + "/getpatientorderlist", json={}, auth=account.auth, timeout=30
    ).json()
    (order,) = listed["PatientOrderList"]
    with browser(server, account.email, account.password) as client:
        text = client.get(f"/orders/{order['PatientOrderUuid']}").text
        links = re.findall(r'<a class="series-zip" href="([^"]+)" download', text)
        assert len(links) == 2
        got = set()
        for link in links:
            answer = client.get(link.replace("&amp;", "&"))
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("application/zip")
            with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
                files = [n for n in archive.namelist() if n != "DICOMDIR"]
                assert len(files) == 1, archive.namelist()
                got.add(pydicom.dcmread(io.BytesIO(archive.read(files[0]))).SeriesInstanceUID)
        assert got == {pydicom.dcmread(CT).SeriesInstanceUID, second.SeriesInstanceUID}
        study = re.search(r'id="download" href="([^"]+)" download', text)
        assert study is not None
        whole = client.get(study.group(1).replace("&amp;", "&"))
        with zipfile.ZipFile(io.BytesIO(whole.content)) as archive:
            assert len([n for n in archive.namelist() if n != "DICOMDIR"]) == 2
