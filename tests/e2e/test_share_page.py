"""The recipient's pages of a share link, over HTTP: password, session, list, viewer,
download, expiry, escaping, rate limit and audit (the browser test drives the same pages
in Chromium)."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from openpacs.index.models import AuditEvent, Share
from openpacs.services.shares import token_hash
from tests.e2e.api_client import database
from tests.support.browser import (
    add_to_folder,
    create_folder,
    create_share,
    past_date,
    set_expire_date,
    share_folder,
    study_specs,
    token_of,
    upload,
)
from tests.support.server import ServerProcess, TestAccount

XSS = "<script>alert(1)</script>"
PASSWORD = "correct horse"


@dataclass(frozen=True)
class Data:
    account: TestAccount
    xss_study: str
    xss_series: str
    xss_order: str
    other_study: str
    other_order: str


@pytest.fixture(scope="module")
def data(server: ServerProcess) -> Data:
    account = server.create_account()
    tag = uuid.uuid4().hex[:8]
    xss = study_specs(f"page-xss-{tag}", XSS, images=4, size=64)
    other = study_specs(f"page-other-{tag}", "Jansen^Anna", images=2, size=64)
    return Data(
        account,
        xss[0].study_uid,
        xss[0].series_uid,
        upload(server, account, xss),
        other[0].study_uid,
        upload(server, account, other),
    )


def login(client: httpx.Client, url: str, password: str = PASSWORD) -> httpx.Response:
    return client.post(url, data={"password": password})


def audit_actions(server: ServerProcess, share_url: str) -> list[tuple[str, str]]:
    with database(server) as session:
        share_id = session.scalar(
            select(Share.id).where(Share.token_hash == token_hash(token_of(share_url)))
        )
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.study_instance_uid)
            .where(AuditEvent.share_id == share_id)
            .order_by(AuditEvent.id)
        ).all()
    return [(str(a), str(s)) for a, s in rows]


# -- password and session ---------------------------------------------------------------------


def test_password_form_then_session_cookie(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.xss_order], password=PASSWORD)
    token = token_of(url)
    with httpx.Client(timeout=30) as client:
        form = client.get(url)
        assert form.status_code == 200
        assert 'type="password"' in form.text
        assert "Jansen" not in form.text and "alert(1)" not in form.text  # nothing shown yet
        assert form.headers["cache-control"] == "no-store"
        assert form.headers["referrer-policy"] == "no-referrer"

        wrong = login(client, url, "not it")
        assert wrong.status_code == 401
        assert "not right" in wrong.text
        assert "set-cookie" not in wrong.headers

        right = login(client, url)
        assert right.status_code == 303
        assert right.headers["location"] == f"/share/{token}"
        cookie = right.headers["set-cookie"]
        assert cookie.startswith("openpacs_share=")
        for attribute in (f"Path=/share/{token}", "HttpOnly", "SameSite=lax", "Max-Age="):
            assert attribute in cookie, cookie
        assert "Secure" not in cookie  # the public URL is http here

        page = client.get(url)
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert f"/share/{token}/dicomweb/studies/{data.xss_study}/series/" in page.text

        # A forged or tampered cookie is no session.
        value = client.cookies["openpacs_share"]
        share_id, expires, mac = value.split(".")
        for bad in (f"{share_id}.{int(expires) + 99}.{mac}", f"{share_id}.{expires}.{mac[:-2]}AA"):
            assert httpx.get(url, cookies={"openpacs_share": bad}).text.count('type="password"')
    assert ("share.view", "") in audit_actions(server, url)


def test_session_is_scoped_to_its_share(server: ServerProcess, data: Data) -> None:
    first = create_share(server, data.account, [data.xss_order], password=PASSWORD)
    second = create_share(server, data.account, [data.other_order], password=PASSWORD)
    with httpx.Client(timeout=30) as client:
        assert login(client, first).status_code == 303
        value = client.cookies["openpacs_share"]
    # The cookie's path keeps a browser from sending it to the other share; and even sent
    # there on purpose, it opens nothing.
    page = httpx.get(second, cookies={"openpacs_share": value})
    assert 'type="password"' in page.text and "Jansen" not in page.text


def test_share_without_password_opens_directly(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.other_order, data.xss_order])
    page = httpx.get(url)
    assert page.status_code == 200
    assert "Jansen, Anna" in page.text
    assert page.text.index("&lt;script&gt;") >= 0
    assert "2 studies" in page.text
    assert 'type="password"' not in page.text
    # POSTing to a share without password just goes to the page.
    assert httpx.post(url, data={"password": "x"}).status_code == 303


def test_patient_data_is_escaped_and_scripts_are_locked_down(
    server: ServerProcess, data: Data
) -> None:
    url = create_share(server, data.account, [data.xss_order])
    page = httpx.get(url)
    assert XSS not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'nonce-" in csp and "default-src 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    viewer = httpx.get(f"{url}/viewer/{data.xss_series}")
    assert viewer.status_code == 200
    assert XSS not in viewer.text
    nonce = re.search(r"script-src 'nonce-([^']+)'", viewer.headers["content-security-policy"])
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in viewer.text


# -- what the page shows ----------------------------------------------------------------------


def test_page_lists_orders_with_facts_and_thumbnails(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.other_order], downloadable=True)
    token = token_of(url)
    page = httpx.get(url).text
    for text in ("Jansen, Anna", "2024-03-15", "1970-01-01", "Synthetic study", ">CT<", ">2<"):
        assert text in page, text
    assert f'href="/share/{token}/download/{data.other_study}"' in page
    thumbs = re.findall(r'<img class="thumb"[^>]* src="([^"]+)"', page)
    assert len(thumbs) == 1
    image = httpx.get(server.url + thumbs[0])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"


def test_folder_share_is_live_with_title_and_description(server: ServerProcess, data: Data) -> None:
    folder = create_folder(server, data.account, f"Teaching {uuid.uuid4().hex[:6]}", "")
    add_to_folder(server, data.account, data.other_order, folder)
    url = share_folder(
        server, data.account, folder, title="Chest cases", description="For the <b>board</b>"
    )
    page = httpx.get(url).text
    assert "Chest cases" in page and "For the &lt;b&gt;board&lt;/b&gt;" in page
    assert "Jansen, Anna" in page and "alert(1)" not in page
    add_to_folder(server, data.account, data.xss_order, folder)
    page = httpx.get(url).text
    assert "Jansen, Anna" in page and "&lt;script&gt;alert(1)" in page


def test_viewer_pages_and_presets(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.xss_order])
    first = httpx.get(f"{url}/viewer/{data.xss_series}")
    assert "Image 1 of 4" in first.text
    src = re.search(r'<img id="image" src="([^"]+)"', first.text)
    assert src is not None and src.group(1).endswith("/rendered")
    assert httpx.get(server.url + src.group(1)).headers["content-type"] == "image/jpeg"

    lung = httpx.get(f"{url}/viewer/{data.xss_series}", params={"image": "3", "preset": "lung"})
    assert "Image 3 of 4" in lung.text
    src = re.search(r'<img id="image" src="([^"]+)"', lung.text)
    assert src is not None and src.group(1).endswith("/rendered?window=-600,1500,linear")
    rendered = httpx.get(server.url + src.group(1).replace("&amp;", "&"))
    assert rendered.status_code == 200
    # Out of range: clamped; not shared: 404.
    assert "Image 4 of 4" in httpx.get(f"{url}/viewer/{data.xss_series}?image=99").text
    other = create_share(server, data.account, [data.other_order])
    assert httpx.get(f"{other}/viewer/{data.xss_series}").status_code == 404
    assert ("share.view", data.xss_study) in audit_actions(server, url)


# -- download ---------------------------------------------------------------------------------


def test_download_when_allowed(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.xss_order], downloadable=True, password=PASSWORD)
    with httpx.Client(timeout=60) as client:
        assert client.get(f"{url}/download/{data.xss_study}").status_code == 401  # no session
        assert login(client, url).status_code == 303
        response = client.get(f"{url}/download/{data.xss_study}")
        # A study that is not in the share is not found.
        assert client.get(f"{url}/download/{data.other_study}").status_code == 404
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f'filename="{data.xss_study}.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert len(archive.namelist()) == 4 + 1  # and the DICOMDIR
    assert ("share.download", data.xss_study) in audit_actions(server, url)


def test_download_refused_when_not_allowed(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.xss_order])
    page = httpx.get(url).text
    assert "/download/" not in page and "Download not enabled" in page
    refused = httpx.get(f"{url}/download/{data.xss_study}")
    assert refused.status_code == 403
    assert "Download not allowed" in refused.text
    assert refused.headers["content-type"].startswith("text/html")


# -- expired, unknown, deleted ----------------------------------------------------------------


def test_expired_link_is_gone(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.xss_order], downloadable=True)
    set_expire_date(server, url, past_date())
    for path in ("", f"/viewer/{data.xss_series}", f"/download/{data.xss_study}"):
        response = httpx.get(url + path)
        assert response.status_code == 410, path
        assert "This link has expired" in response.text
        assert past_date() in response.text
    assert httpx.post(url, data={"password": "x"}).status_code == 410


def test_unknown_and_deleted_links_look_the_same(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.xss_order])
    with database(server) as session:
        share_uuid = session.scalar(
            select(Share.uuid).where(Share.token_hash == token_hash(token_of(url)))
        )
    deleted = httpx.post(
        f"{server.dicomweb}/deleteshare", json={"ShareUuid": share_uuid}, auth=data.account.auth
    )
    assert deleted.status_code == 200, deleted.text

    def visible(response: httpx.Response) -> str:
        return re.sub(r'nonce="[^"]*"', "", response.text)

    gone = httpx.get(url)
    unknown = httpx.get(f"{server.url}/share/{'x' * 43}")
    assert gone.status_code == unknown.status_code == 404
    assert visible(gone) == visible(unknown)
    assert "Link not found" in gone.text


# -- brute force ------------------------------------------------------------------------------


def test_wrong_passwords_are_rate_limited(server: ServerProcess, data: Data) -> None:
    url = create_share(server, data.account, [data.xss_order], password=PASSWORD)
    other = create_share(server, data.account, [data.other_order], password=PASSWORD)
    with httpx.Client(timeout=30) as client:
        for attempt in range(10):
            assert login(client, url, f"guess {attempt}").status_code == 401
        blocked = login(client, url)  # even the right password: no more checks for now
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 60
        assert "Too many attempts" in blocked.text
        assert "set-cookie" not in blocked.headers
        # The share's DICOMweb root counts the same failures.
        dicomweb = client.get(f"{url}/dicomweb/studies", auth=("viewer", PASSWORD))
        assert dicomweb.status_code == 429 and "retry-after" in dicomweb.headers
        # Another share is not affected.
        assert login(client, other).status_code == 303
