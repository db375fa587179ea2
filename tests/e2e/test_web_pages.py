"""Pages of the web application read as a browser would, on SQLite and PostgreSQL:
unknown addresses (a page for people, the plain answer for programs), errors that lead
back to the form, the order list's odd requests, and how an order's values are shown."""

from __future__ import annotations

import httpx

from openpacs.web.ui.layout import CSP
from tests.e2e.test_web_forms import browser, csrf
from tests.support.server import ServerProcess, TestAccount


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
