"""The OHIF viewer's URLs over plain HTTP: who may open which page (the web application's
signed-in users, a share's recipients after its password), what the
configuration holds, how the bundle's files are served, and the fall-back without it.

The bundle is the installed release (``make viewer``); the fall-back server points
``OPENPACS_OHIF_ROOT`` at an empty folder.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from openpacs.ohif.bundle import load_bundle
from openpacs.ohif.release import default_root, release_for
from tests.support.browser import create_share, study_specs, token_of, upload
from tests.support.ohif import require_ohif
from tests.support.server import ServerProcess, TestAccount

PASSWORD = "ohif-http-2024"


@dataclass(frozen=True)
class Served:
    server: ServerProcess
    account: TestAccount
    study: str
    share: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    require_ohif()
    server = ServerProcess(tmp_path_factory.mktemp("ohif-http")).start()
    try:
        account = server.create_account()
        specs = study_specs(f"ohif-http-{uuid.uuid4().hex[:6]}", "Roe^Jane", images=2)
        order = upload(server, account, specs)
        share = create_share(server, account, [order], password=PASSWORD)
        yield Served(server, account, specs[0].study_uid, share)
    finally:
        server.stop()


def asset_names() -> dict[str, str]:
    bundle = load_bundle(default_root(), release_for())
    names = sorted(bundle.assets)
    return {
        "app": next(n for n in names if re.fullmatch(r"app\.bundle\.[0-9a-f]+\.js", n)),
        "wasm": next(n for n in names if n.endswith(".wasm") and "/" not in n),
        "css": "app.bundle.css",
    }


@contextmanager
def signed_in(served: Served) -> Iterator[httpx.Client]:
    """A client with the web application's session cookie."""
    with httpx.Client(base_url=served.server.url, timeout=30) as client:
        form = {"email": served.account.email, "password": served.account.password}
        assert client.post("/signin", data=form).status_code == 303
        yield client


def test_the_page_is_for_signed_in_users(served: Served) -> None:
    url = f"{served.server.url}/viewer/"
    route = f"/viewer/viewer?StudyInstanceUIDs={served.study}"
    refused = httpx.get(served.server.url + route)
    assert refused.status_code == 303  # to the sign-in page, and back here afterwards
    assert refused.headers["location"] == "/signin?next=" + quote(route, safe="/")
    # Basic credentials are for DICOMweb clients; the viewer is a page of the web app.
    assert httpx.get(url, auth=served.account.auth).status_code == 303
    with signed_in(served) as client:
        page = client.get(url)
        same = client.get(route)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp
    assert "worker-src 'self' blob:" in csp and "object-src 'none'" in csp
    assert "unsafe-eval'" not in csp.replace("wasm-unsafe-eval", "")
    assert "http" not in csp  # no other origin, anywhere
    # No inline script (the CSP would block it), the assets under /viewer/.
    assert "<script>" not in page.text
    assert '<script src="/viewer/app-config.js"></script>' in page.text
    assert re.search(r'<script defer src="/viewer/app\.bundle\.[0-9a-f]+\.js"></script>', page.text)
    assert same.text == page.text  # OHIF's own routes are the same page


def test_the_web_application_links_to_ohif(served: Served) -> None:
    """The orders list (each order with images) and the order page (the order, each
    study) open the study in OHIF; the built-in viewer stays as "Quick view"."""
    link = f'href="/viewer/viewer?StudyInstanceUIDs={served.study}"'
    with signed_in(served) as client:
        listed = client.get("/orders").text
        assert f'<a class="viewer-link small" {link}>Open in viewer</a>' in listed
        order = re.search(r'data-order="([0-9a-f-]+)"', listed)
        assert order is not None
        page = client.get(f"/orders/{order.group(1)}").text
    assert f'<a class="button" id="open-viewer" {link}>Open in viewer</a>' in page
    assert f'<a class="button small study-viewer" {link}>Open in viewer</a>' in page
    assert re.search(r'id="view" href="/orders/[0-9a-f-]+/viewer/[0-9.]+">Quick view<', page)


def test_the_configuration_names_the_account_root_and_no_secret(served: Served) -> None:
    url = f"{served.server.url}/viewer/app-config.js"
    assert httpx.get(url).status_code == 303
    with signed_in(served) as client:
        config = client.get(url)
        # The cookie is what OHIF's DICOMweb requests carry: the root accepts it.
        studies = client.get("/dicomweb/studies", params={"includefield": "00081030,00080060"})
    assert studies.status_code == 200 and len(studies.json()) == 1
    assert config.status_code == 200
    assert config.headers["content-type"] == "text/javascript; charset=utf-8"
    text = config.text
    assert 'window.PUBLIC_URL = "/viewer/";' in text
    for expected in (
        '"routerBasename":"/viewer"',
        '"qidoRoot":"/dicomweb"',
        '"wadoRoot":"/dicomweb"',
        '"qidoSupportsIncludeField":true',
        '"showStudyList":true',
    ):
        assert expected in text, expected
    assert served.account.password not in text and served.account.email not in text
    # A DICOMweb call answered 401 (the session ended) sends the page to sign in again.
    assert "window.config.httpErrorHandler = function (error)" in text
    assert 'window.location.assign("/signin" + "?next="' in text


def test_files_are_served_from_the_bundle_only(served: Served) -> None:
    base = f"{served.server.url}/viewer"
    names = asset_names()
    app = httpx.get(f"{base}/{names['app']}", headers={"Accept-Encoding": "gzip"})
    assert app.status_code == 200  # no sign-in: a public release's code
    assert app.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert app.headers["content-encoding"] == "gzip"
    assert app.headers["content-type"] == "text/javascript; charset=utf-8"
    assert '__webpack_require__.p = "/viewer/";' in app.text  # decoded by httpx
    again = httpx.get(f"{base}/{names['app']}", headers={"If-None-Match": app.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    plain = httpx.get(f"{base}/{names['app']}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == app.content
    wasm = httpx.get(f"{base}/{names['wasm']}")
    assert wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm"
    css = httpx.get(f"{base}/{names['css']}")
    assert css.headers["cache-control"] == "no-cache"
    assert "url(/viewer/" in css.text and "url(/a" not in css.text
    # Not in the table: 404, whatever the path says.
    with signed_in(served) as client:
        for path in ("nope.js", "index.html", "sw.js", "app-config.js.gz", "%2e%2e/openpacs.db"):
            assert client.get(f"{base}/{path}").status_code == 404, path
    assert httpx.get(f"{served.server.url}/viewer/..%2f..%2fopenpacs.db").status_code == 404


def test_share_viewer_after_the_password(served: Served) -> None:
    share = served.share
    page_url = f"{share}/ohif/viewer?StudyInstanceUIDs={served.study}"
    with httpx.Client() as browser:
        form = browser.get(page_url)
        assert form.status_code == 401 and "Password required" in form.text
        assert f'value="{page_url.removeprefix(served.server.url).replace("&", "&amp;")}"' in (
            form.text
        )
        assert browser.get(f"{share}/ohif/app-config.js").status_code == 401
        back = browser.post(
            share,
            data={"password": PASSWORD, "next": page_url.removeprefix(served.server.url)},
        )
        assert back.status_code == 303
        assert back.headers["location"] == page_url.removeprefix(served.server.url)
        page = browser.get(page_url)
        assert page.status_code == 200 and "<script>" not in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        path = share.removeprefix(served.server.url)
        assert f'<script src="{path}/ohif/app-config.js"></script>' in page.text
        config = browser.get(f"{share}/ohif/app-config.js").text
        assert f'"qidoRoot":"{path}/dicomweb"' in config
        assert f'"routerBasename":"{path}/ohif"' in config
        assert PASSWORD not in config
        assert "httpErrorHandler" not in config  # the share's page asks its own password
        assert browser.get(f"{share}/ohif/x.js").status_code == 404
        listing = browser.get(share).text
        assert f'href="{path}/ohif/viewer?StudyInstanceUIDs={served.study}"' in listing
    unknown = httpx.get(f"{served.server.url}/share/{token_of(share)}x/ohif")
    assert unknown.status_code == 404


def test_without_a_bundle_the_server_runs_and_says_so(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={"OPENPACS_OHIF_ROOT": str(tmp_path / "none")}).start()
    try:
        account = server.create_account()
        order = upload(server, account, study_specs("ohif-off", "Poe^Ann", images=1))
        share = create_share(server, account, [order])
        off = httpx.get(f"{server.url}/viewer/")
        assert off.status_code == 404 and "not installed" in off.text
        page = httpx.get(share)
        assert page.status_code == 200 and "Open in viewer" not in page.text
        assert "/viewer/" in page.text  # the built-in viewer's links remain
        assert httpx.get(f"{share}/ohif").status_code == 404
        # The web application keeps the built-in viewer alone.
        with httpx.Client(base_url=server.url, timeout=30) as client:
            form = {"email": account.email, "password": account.password}
            assert client.post("/signin", data=form).status_code == 303
            listed = client.get("/orders").text
            assert f'data-order="{order}"' in listed and "Open in viewer" not in listed
            page = client.get(f"/orders/{order}").text
            assert 'id="view"' in page and ">View images</a>" in page
            assert "Open in viewer" not in page and "/viewer/viewer" not in page
    finally:
        server.stop()
    lines = [line for line in server.log_path.read_text().splitlines() if "OHIF viewer off" in line]
    assert len(lines) == 1 and "openpacs viewer install" in lines[0]
