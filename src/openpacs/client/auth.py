"""How the SDK reaches the server: HTTP Basic (user name and password, or an API token as
the password), or an API token alone as ``Authorization: Bearer``; the settings of the
HTTP client that the sync and the async client share."""

from __future__ import annotations

import ssl
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from openpacs.client.requests._core import USER_AGENT, join_url


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request (RFC 6750)."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


def credentials(username: str, password: str, token: str | None) -> httpx.Auth:
    """Basic with ``username``/``password``, or Bearer with ``token`` (not both)."""
    if token is not None:
        if username or password:
            raise ValueError("give either a user name and password or a token, not both")
        if not token.strip():
            raise ValueError("the token is empty")
        return BearerAuth(token.strip())
    return httpx.BasicAuth(username, password)


class ClientBase:
    """What the sync and the async client share: the DICOMweb root, the retry policy and
    how their httpx client is configured (the transport itself differs)."""

    def __init__(self, web_address: str, *, retries: int, backoff: float, stow_path: str) -> None:
        if not web_address.startswith(("http://", "https://")):
            raise ValueError(f"the web address must start with http:// or https://: {web_address}")
        self.web_address = web_address
        self.retries = retries
        self.backoff = backoff
        self.stow_path = stow_path

    @staticmethod
    def http_options(
        username: str,
        password: str,
        token: str | None,
        *,
        timeout: float,
        verify: bool | str | ssl.SSLContext,
        headers: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client`` / ``httpx.AsyncClient``: never follow a
        redirect (it would drop the credentials), connect within 15 s at most."""
        return {
            "auth": credentials(username, password, token),
            "timeout": httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            "verify": verify,
            "headers": {"User-Agent": USER_AGENT, **(headers or {})},
            "follow_redirects": False,
        }

    def url_for(self, path: str) -> str:
        """The full URL of a path relative to the DICOMweb root."""
        return join_url(self.web_address, path)
