"""The web application's session cookie against a real server, on SQLite and PostgreSQL:
sign-in (wrong, then right), the cookie's attributes, the cookie on DICOMweb and the
custom API, CSRF (token and origin) on every state-changing call, a cross-site form
post, sign-out, and a password change ending the other sessions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import BOUNDARY, multipart_body

CT = Path(__file__).resolve().parents[1] / "data" / "dicom" / "deid-data__ctbrain1.dcm"


@contextmanager
def sign_in(server: ServerProcess, account: TestAccount) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        form = {"email": account.email, "password": account.password}
        answer = client.post("/signin", data=form)
        assert answer.status_code == 303, answer.text
        yield client


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/orders")
    assert page.status_code == 200
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found is not None
    return found.group(1)


def test_sign_in_wrong_then_right_and_the_cookie(
    server: ServerProcess, account: TestAccount
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        form = client.get("/")
        assert form.status_code == 200 and 'id="signin-form"' in form.text
        assert "script-src 'self'" in form.headers["content-security-policy"]
        wrong = client.post("/signin", data={"email": account.email, "password": "nope-nope"})
        assert wrong.status_code == 401 and "Wrong e-mail or password." in wrong.text
        assert "set-cookie" not in wrong.headers
        # Not signed in: pages send the browser to the sign-in page, and back afterwards.
        away = client.get("/orders", params={"page": "2"})
        assert away.status_code == 303
        assert away.headers["location"] == "/signin?next=/orders%3Fpage%3D2"
        right = client.post(
            "/signin",
            data={"email": account.email, "password": account.password, "next": "/orders?page=2"},
        )
        assert right.status_code == 303 and right.headers["location"] == "/orders?page=2"
        cookie = right.headers["set-cookie"]
        assert cookie.startswith("openpacs_session=v1.")
        for attribute in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"):
            assert attribute in cookie
        assert "Secure" not in cookie  # plain http, no trusted proxy
        assert client.get("/orders").status_code == 200
        # An open redirect is never made of "next".
        again = client.post(
            "/signin",
            data={"email": account.email, "password": account.password, "next": "//evil.example"},
        )
        assert again.headers["location"] == "/orders"


def test_the_cookie_works_on_dicomweb_and_the_api_with_csrf(
    server: ServerProcess, account: TestAccount
) -> None:
    with sign_in(server, account) as client:
        token = csrf_of(client)
        # Reads need no token (a viewer's GETs) ...
        assert client.get("/dicomweb/studies").status_code in (200, 204)
        # ... changes do, and the custom API always (it answers GET too).
        body = multipart_body([CT.read_bytes()])
        stow_type = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
        refused = client.post(
            "/dicomweb/studies", content=body, headers={"Content-Type": stow_type}
        )
        assert refused.status_code == 403 and "CSRF" in refused.headers["x-error-reason"]
        listed = client.get("/dicomweb/getinstitutionlist")
        assert listed.status_code == 403
        headers = {"Content-Type": stow_type, "X-CSRF-Token": token, "Origin": server.url}
        stored = client.post("/dicomweb/studies", content=body, headers=headers)
        assert stored.status_code == 200, stored.text
        listed = client.get("/dicomweb/getinstitutionlist", headers={"X-CSRF-Token": token})
        assert listed.status_code == 200 and listed.json()["InstitutionList"]
        # The right token from a page of another site: refused all the same.
        evil = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
        made = client.post("/dicomweb/createfolder", json={"FolderName": "x"}, headers=evil)
        assert made.status_code == 403
        # Another session's token does not do either.
        with sign_in(server, account) as other:
            foreign = {"X-CSRF-Token": csrf_of(other)}
            made = client.post("/dicomweb/createfolder", json={"FolderName": "y"}, headers=foreign)
            assert made.status_code == 403
        # Basic still works as before, without any token.
        with httpx.Client(base_url=server.url, auth=account.auth, timeout=30) as basic:
            assert basic.post("/dicomweb/createfolder", json={"FolderName": "z"}).status_code == 200


def test_a_cross_site_form_post_is_refused(server: ServerProcess, account: TestAccount) -> None:
    with sign_in(server, account) as client:
        token = csrf_of(client)
        form = {
            "csrf_token": token,
            "current": account.password,
            "new": "x" * 12,
            "repeat": "x" * 12,
        }
        evil = client.post(
            "/account/password", data=form, headers={"Origin": "https://evil.example"}
        )
        assert evil.status_code == 403 and "another site" in evil.text
        no_token = client.post("/account/password", data={**form, "csrf_token": ""})
        assert no_token.status_code == 403
        # A sign-in form posted from another site is refused too (login CSRF).
        login = client.post(
            "/signin",
            data={"email": account.email, "password": account.password},
            headers={"Origin": "https://evil.example"},
        )
        assert login.status_code == 403
        assert client.get("/orders").status_code == 200  # still signed in, nothing changed


@pytest.mark.parametrize("how", ["sign-out", "password"])
def test_sign_out_and_a_new_password_end_sessions(
    server: ServerProcess, account: TestAccount, how: str
) -> None:
    with sign_in(server, account) as client, sign_in(server, account) as other:
        token = csrf_of(client)
        if how == "sign-out":
            out = client.post("/signout", data={"csrf_token": token})
            assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
            assert client.get("/orders").status_code == 303
            return
        new = "a fresh password 9"
        changed = client.post(
            "/account/password",
            data={"csrf_token": token, "current": account.password, "new": new, "repeat": new},
        )
        assert changed.status_code == 303, changed.text
        page = client.get(changed.headers["location"])
        assert page.status_code == 200 and "Your password was changed." in page.text
        # The other browser's session ended at once; so did the old password.
        assert other.get("/orders").status_code == 303
        assert other.get("/dicomweb/studies").status_code == 401
        assert httpx.get(server.dicomweb + "/studies", auth=account.auth).status_code == 401


def test_sign_out_ends_the_session_on_the_server(
    server: ServerProcess, account: TestAccount
) -> None:
    """A copy of the cookie taken before sign-out is refused right after it: pages send
    it to the sign-in page, DICOMweb answers 401 without a Basic challenge."""
    with sign_in(server, account) as client:
        token = csrf_of(client)
        value = client.cookies["openpacs_session"]
        with httpx.Client(base_url=server.url, timeout=30) as copy:
            copy.cookies.set("openpacs_session", value)
            assert copy.get("/orders").status_code == 200
            assert copy.get("/dicomweb/studies").status_code in (200, 204)
            out = client.post("/signout", data={"csrf_token": token})
            assert out.status_code == 303
            page = copy.get("/orders")
            assert page.status_code == 303 and page.headers["location"].startswith("/signin")
            refused = copy.get("/dicomweb/studies")
            assert refused.status_code == 401
            assert "www-authenticate" not in refused.headers
            assert "your session has ended; sign in again" in refused.text
    # Signing in again makes a new session, which works.
    with sign_in(server, account) as again:
        assert again.get("/dicomweb/studies").status_code in (200, 204)


@pytest.mark.parametrize("cookie", ["forged", "expired"])
def test_a_dead_session_cookie_gets_no_basic_challenge(
    server: ServerProcess, account: TestAccount, cookie: str
) -> None:
    """A browser whose cookie no longer works must not get ``WWW-Authenticate: Basic``
    (it would pop its own login dialog inside OHIF); a Basic client still does."""
    with sign_in(server, account) as client:
        value = client.cookies["openpacs_session"]
    fields = value.split(".")
    if cookie == "forged":
        fields[1] = str(int(fields[1]) + 1)  # another user id: the signature no longer fits
    else:
        fields[3] = fields[4] = "1000000000"  # signed in and last seen in 2001
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        browser.cookies.set("openpacs_session", ".".join(fields))
        for path in ("/dicomweb/studies", "/dicomweb/getinstitutionlist"):
            refused = browser.get(path)
            assert refused.status_code == 401, path
            assert "www-authenticate" not in refused.headers, path
            assert "your session has ended; sign in again" in refused.text
    plain = httpx.get(server.dicomweb + "/studies", timeout=30)
    assert plain.status_code == 401
    assert plain.headers["www-authenticate"].startswith("Basic ")
    # Basic credentials beside a dead cookie are still used.
    both = httpx.get(
        server.dicomweb + "/studies",
        auth=account.auth,
        cookies={"openpacs_session": ".".join(fields)},
        timeout=30,
    )
    assert both.status_code in (200, 204)
